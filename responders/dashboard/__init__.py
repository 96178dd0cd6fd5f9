from responders.dashboard.web import create_app

__all__ = ["create_app"]
