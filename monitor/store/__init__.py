"""The store: the only package that imports SQLAlchemy."""

from monitor.store.db import DatabaseURLError, Store, StoreError, Tx, migrate, unavailable

__all__ = ["DatabaseURLError", "Store", "StoreError", "Tx", "migrate", "unavailable"]
