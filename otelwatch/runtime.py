"""Wires the store, the writer, the receiver and the listeners; owns start and stop order.

Start: open (and migrate) the database, start the writer, then bind the listeners, so nothing is
accepted before it can be stored. Stop, the other way round, so nothing acknowledged is lost:
the receiver refuses new requests and waits for those in progress (each returns only after its
commit), the listeners close, the writer drains what is left, and the database is closed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import duckdb

from otelwatch.control import ControlServer, serve_database
from otelwatch.ingest import tls
from otelwatch.ingest.auth import BearerAuth
from otelwatch.ingest.decode_pool import DecodePool
from otelwatch.ingest.decoding import Decoding
from otelwatch.ingest.grpc_server import GrpcListener
from otelwatch.ingest.http_server import HttpListener
from otelwatch.ingest.limits import Limits, enforce, pipeline
from otelwatch.ingest.receiver import Receiver, Recorder
from otelwatch.ingest.redact import Redaction, Redactor
from otelwatch.store import database
from otelwatch.store.checkpointer import Checkpointer
from otelwatch.store.reader import Reader
from otelwatch.store.retention import Retention, RetentionPolicy
from otelwatch.store.writer import Committed, Writer

log = logging.getLogger(__name__)

# DuckDB caches the blocks it reads and writes up to its memory limit, 80% of RAM by default, so a
# long-running otelwatch would grow towards the size of its database (the soak in
# docs/benchmarks.md). With a limit, a file database spills what does not fit to its temp
# directory instead. Not for ':memory:', where the limit would cap the data itself.
# 256 MB: on a database of 3 million items, a full otelwatch used up to 607 MiB with 1 GB (a
# checkpoint after ingest) and 490 MiB with 256 MB, and the dashboard's queries took as long
# (the evicted blocks come back from the OS's page cache); bench/memory.py.
DUCKDB_MEMORY_LIMIT = "256MB"

DEFAULT_HOST = "127.0.0.1"
DEFAULT_GRPC_PORT = 4317
DEFAULT_HTTP_PORT = 4318


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the runtime needs to know from the command line."""

    db: str = field(default_factory=lambda: str(database.default_path()))
    host: str = DEFAULT_HOST
    grpc_port: int = DEFAULT_GRPC_PORT
    http_port: int = DEFAULT_HTTP_PORT
    listen: bool = True
    limits: Limits = field(default_factory=Limits)
    auth: BearerAuth | None = None
    tls: tls.TlsFiles | None = None
    retention: RetentionPolicy = field(default_factory=RetentionPolicy)
    # Items waiting for the writer before new requests are refused with a retryable status.
    max_queued_items: int = 200_000
    redact: Redaction | None = None
    # Processes that decode requests (ingest/decode_pool.py); 0 decodes in the listeners' threads.
    decode_workers: int = 0

    @property
    def db_label(self) -> str:
        """The database as shown to the user."""
        return "in memory" if self.db == database.MEMORY else str(Path(self.db).expanduser())


class Runtime:
    """One running otelwatch: database, writer, receiver and (unless told not to) listeners."""

    def __init__(self, settings: Settings, recorder: Recorder | None = None) -> None:
        self.settings = settings
        self._recorder = recorder
        self._subscribers: list[Callable[[Committed], None]] = []
        self._lock = threading.Lock()
        self.conn: duckdb.DuckDBPyConnection | None = None
        self.writer: Writer | None = None
        self.decode_pool: DecodePool | None = None
        self.checkpointer: Checkpointer | None = None
        self.receiver: Receiver | None = None
        self.grpc: GrpcListener | None = None
        self.http: HttpListener | None = None
        self.control: ControlServer | None = None
        self._stopped = False

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Open the store and start listening. On failure, undoes what it started and raises.

        Raises ``DatabaseLocked``/``DatabaseError`` for the database and ``BindError`` for a
        port that cannot be bound.
        """
        try:
            # Unusable certificate files are found before anything is created or opened.
            server_tls = (
                tls.load(self.settings.tls)
                if self.settings.tls is not None and self.settings.listen
                else None
            )
            self.conn = database.connect(self.settings.db)
            if self.settings.db != database.MEMORY:
                self.conn.execute(f"SET memory_limit = '{DUCKDB_MEMORY_LIMIT}'").fetchall()
            path = None if self.settings.db == database.MEMORY else self.settings.db_label
            self.writer = Writer(
                self.conn,
                on_commit=self._committed,
                max_queued_items=self.settings.max_queued_items,
                retention=Retention(self.settings.retention, path=path),
            )
            self.writer.start()
            if path is not None:
                # Checkpoints off the commit path, so they do not hold up acknowledgements.
                writer = self.writer
                self.checkpointer = Checkpointer(self.conn, path, lambda: writer.last_commit)
                self.checkpointer.start()
            # Lets `export` and `query` read this database while it is held here.
            self.control = serve_database(self.settings.db, Reader(self.conn))
            # Redacted before the limits, so that dropped keys never count against them.
            prepare = pipeline(
                Redactor(self.settings.redact) if self.settings.redact else None,
                partial(enforce, limits=self.settings.limits),
            )
            decoding = Decoding(prepare)
            if self.settings.decode_workers:
                self.decode_pool = DecodePool(decoding, self.settings.decode_workers)
                self.decode_pool.start_in_background()
            self.receiver = Receiver(
                self.writer, recorder=self._recorder, decode=self.decode_pool or decoding
            )
            if self.settings.listen:
                limits = self.settings.limits
                auth = self.settings.auth
                self.grpc = GrpcListener(
                    self.receiver,
                    self.settings.host,
                    self.settings.grpc_port,
                    limits,
                    auth=auth,
                    tls=server_tls,
                )
                self.http = HttpListener(
                    self.receiver,
                    self.settings.host,
                    self.settings.http_port,
                    limits,
                    auth=auth,
                    tls=server_tls,
                )
                self.grpc.start()
                self.http.start()
        except BaseException:
            self.stop()
            raise

    def stop(self, timeout: float = 30.0) -> None:
        """Drain and close everything. Safe to call twice and after a failed start."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
        if self.receiver is not None and not self.receiver.close(timeout):
            log.warning("requests still in progress after %.0f s", timeout)
        if self.http is not None:
            self.http.stop()
        if self.grpc is not None:
            self.grpc.stop(grace=1.0)
        if self.decode_pool is not None:
            self.decode_pool.close()
        if self.writer is not None:
            self.writer.close(timeout)
        if self.control is not None:
            self.control.stop()
        if self.checkpointer is not None:
            self.checkpointer.close()
        if self.conn is not None:
            self.conn.close()

    # ------------------------------------------------------------------ wiring

    def subscribe(self, callback: Callable[[Committed], None]) -> None:
        """Call ``callback`` (on the writer thread) after every commit."""
        self._subscribers.append(callback)

    def _committed(self, committed: Committed) -> None:
        for callback in list(self._subscribers):
            callback(committed)

    def reader(self) -> Reader:
        """A reader over this runtime's database."""
        if self.conn is None:
            raise RuntimeError("the runtime is not started")
        return Reader(self.conn)

    @property
    def grpc_address(self) -> str | None:
        """``host:port`` of the gRPC listener, with the port actually bound."""
        return f"{self.grpc.host}:{self.grpc.port}" if self.grpc else None

    @property
    def http_address(self) -> str | None:
        """``host:port`` of the HTTP listener, with the port actually bound."""
        return f"{self.http.host}:{self.http.port}" if self.http else None
