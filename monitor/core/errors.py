"""Errors and rejections shared by the stages: a file that cannot be read, a record that cannot become an item,
and the command layer's errors with the HTTP status an API maps them to (the CLI exits 2 for all)."""

from dataclasses import dataclass


class ServiceError(ValueError):
    """A command that cannot be carried out, with a message for the person who asked."""

    status = 400

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        if status is not None:
            self.status = status


class NotFound(ServiceError):
    status = 404


class ExportError(Exception):
    """The file as a whole cannot be read (corrupt, truncated, no header)."""


@dataclass
class Reject:
    """A record that cannot become an item: kept in quarantine with its row number and reason."""

    row_no: int
    reason: str
    raw: dict
    key: str | None = None  # the row's identity (file digest:row): quarantined once however often imported
    detail: dict | None = None  # e.g. {"sizes": {cell: characters}} of cells cut for their size


@dataclass
class Skipped:
    """An empty row: counted by the import, not quarantined."""

    row_no: int
