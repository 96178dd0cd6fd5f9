"""The store: the only package that imports SQLAlchemy."""

from monitor.store.db import Store, StoreError, Tx, migrate

__all__ = ["Store", "StoreError", "Tx", "migrate"]
