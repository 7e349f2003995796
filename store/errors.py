"""Errors the store raises to its callers; free of DuckDB so ingest and the CLI can catch them."""

from __future__ import annotations


class StoreError(Exception):
    """Base class of the store's errors."""


class StoreFull(StoreError):
    """The write queue is full: the caller should answer with a retryable status.

    ``retry_after_s`` is a hint for HTTP ``Retry-After``.
    """

    def __init__(self, message: str, retry_after_s: int = 1) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class StoreUnavailable(StoreError):
    """The data could not be committed (disk full, read-only file, writer stopped).

    Nothing of the request was acknowledged; a retry may succeed later.
    """


class BatchRejected(StoreError):
    """The database refused the content of one request; retrying it unchanged cannot help."""


class DatabaseLocked(StoreError):
    """Another process holds the database file open for writing."""


class DatabaseError(StoreError):
    """The database file cannot be opened or migrated (bad path, not a DuckDB file, too new)."""
