"""Errors of the command layer, with the HTTP status an API maps them to (the CLI exits 2 for all)."""


class ServiceError(ValueError):
    """A command that cannot be carried out, with a message for the person who asked."""

    status = 400

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        if status is not None:
            self.status = status


class NotFound(ServiceError):
    status = 404
