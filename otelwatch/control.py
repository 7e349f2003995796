"""The local control socket: how ``export`` and ``query`` read a database another otelwatch holds.

DuckDB lets one process open a file for writing, and while it does, no other process can open it
at all, not even read-only ("Conflicting lock is held"). So a running otelwatch (``serve`` or the
dashboard) answers named read queries for other otelwatch commands on its own connection, through
a Unix domain socket:

- The socket lives in a directory only this user can enter (``$XDG_RUNTIME_DIR/otelwatch`` or
  ``$TMPDIR/otelwatch-<uid>``, mode 0700, checked to be ours), and on Linux the peer's uid is
  checked as well. Nothing listens on the network.
- Its name is derived from the database file's identity (device and inode), so a client finds
  the instance serving a file whatever path it was given, and no instance file has to be written
  beside the database or cleaned up after a crash. A socket left by a killed process refuses
  connections; the client then opens the file itself, and the next instance replaces it.
- Only the Reader's named queries (:data:`CALLS`: its public methods) can be asked for, with
  JSON arguments, and the answer is the query's frozen dataclasses as JSON. They are the same
  methods ``export``, ``query``, ``trace`` and the read-only dashboard call on a Reader of their
  own when the file is free, so both paths give the same result. The ad-hoc SQL query runs in a
  read-only transaction (see ``store/queries/adhoc.py``).
- A query shares the instance's database but never blocks its writer: DuckDB readers see a
  snapshot and commits go on meanwhile.

One request per connection: a JSON line in, a JSON line out.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import inspect
import json
import logging
import os
import socket
import socketserver
import stat
import struct
import sys
import tempfile
import threading
import time
import types
import typing
from pathlib import Path
from typing import Any

from otelwatch import __version__
from otelwatch.store.errors import StoreError
from otelwatch.store.queries.adhoc import QueryFailed, QueryRefused, SqlResult
from otelwatch.store.queries.base import QueryBase
from otelwatch.store.queries.summary import SessionMatch, SessionSummary
from otelwatch.store.reader import Reader

log = logging.getLogger(__name__)

PROTOCOL = 1
MAX_REQUEST_BYTES = 1 << 20
MAX_ANSWER_BYTES = 512 << 20
CONNECT_TIMEOUT_S = 2.0
# Long enough for the slowest query the ad-hoc SQL timeout allows.
ANSWER_TIMEOUT_S = 180.0
_AF_UNIX_PATH_MAX = 104  # macOS; Linux allows 108


# The named queries a client may ask for: name -> the type of the answer.
def _named_queries() -> dict[str, inspect.Signature]:
    """Every public query method of the Reader, with its signature (types resolved)."""
    calls = {}
    for name in dir(Reader):
        method = getattr(Reader, name)
        # QueryBase's own methods (a snapshot, for one) are how queries run, not queries.
        if name.startswith("_") or name in vars(QueryBase) or not inspect.isfunction(method):
            continue
        hints = typing.get_type_hints(method)
        signature = inspect.signature(method)
        calls[name] = signature.replace(
            parameters=[
                p.replace(annotation=hints.get(p.name, Any)) for p in signature.parameters.values()
            ],
            return_annotation=hints.get("return", Any),
        )
    return calls


CALLS: dict[str, inspect.Signature] = _named_queries()

# Errors that cross the socket as themselves, so commands handle both paths alike.
_ERRORS: dict[str, type[StoreError]] = {
    "QueryRefused": QueryRefused,
    "QueryFailed": QueryFailed,
    "StoreError": StoreError,
}


class ControlUnavailable(Exception):
    """No control socket can be used (unsafe directory, path too long, no such instance)."""


# ---------------------------------------------------------------- where the socket is


def socket_dir() -> Path:
    """The private directory of this user's control sockets, created if needed.

    Raises :class:`ControlUnavailable` when it is not a directory owned by this user and closed
    to everyone else: another user could otherwise put a socket there and answer our queries.
    """
    if not hasattr(socket, "AF_UNIX") or not hasattr(os, "getuid"):
        raise ControlUnavailable("this system has no Unix domain sockets")
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and Path(runtime).is_dir():
        directory = Path(runtime) / "otelwatch"
    else:
        directory = Path(tempfile.gettempdir()) / f"otelwatch-{os.getuid()}"
    try:
        directory.mkdir(mode=0o700, exist_ok=True)
        info = directory.lstat()
    except OSError as exc:
        raise ControlUnavailable(f"cannot create {directory}: {exc.strerror}") from None
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise ControlUnavailable(f"{directory} is not a private directory of this user")
    return directory


def database_key(db: Path) -> str:
    """What names the socket of the instance holding ``db``: the file's device and inode."""
    info = db.expanduser().stat()
    return hashlib.sha256(f"{info.st_dev}:{info.st_ino}".encode()).hexdigest()[:20]


def socket_path(db: Path) -> Path:
    """The control socket of the instance holding ``db`` (which must exist)."""
    path = socket_dir() / f"{database_key(db)}.sock"
    if len(os.fsencode(path)) >= _AF_UNIX_PATH_MAX:
        raise ControlUnavailable(f"the socket path {path} is too long for a Unix socket")
    return path


# ---------------------------------------------------------------- frozen dataclasses as JSON


def to_wire(value: Any) -> Any:
    """A query result as JSON-ready values (dataclasses become objects, tuples lists)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_wire(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, list | tuple):
        return [to_wire(item) for item in value]
    if isinstance(value, dict):
        return {str(k): to_wire(v) for k, v in value.items()}
    return value


def from_wire(kind: Any, value: Any) -> Any:
    """Rebuild a value of type ``kind`` (a dataclass, container or plain type) from JSON."""
    origin = typing.get_origin(kind)
    if kind is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None:
            return None
        options = [a for a in typing.get_args(kind) if a is not type(None)]
        return from_wire(options[0], value)
    if origin is tuple:
        args = typing.get_args(kind)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(from_wire(args[0], item) for item in value)
        return tuple(from_wire(a, item) for a, item in zip(args, value, strict=True))
    if origin is list:
        (item_kind,) = typing.get_args(kind)
        return [from_wire(item_kind, item) for item in value]
    if origin is dict:
        _, value_kind = typing.get_args(kind)
        return {k: from_wire(value_kind, v) for k, v in value.items()}
    if dataclasses.is_dataclass(kind) and isinstance(kind, type):
        hints = typing.get_type_hints(kind)
        return kind(
            **{
                f.name: from_wire(hints[f.name], value[f.name])
                for f in dataclasses.fields(kind)
                if f.name in value
            }
        )
    if kind is float and isinstance(value, int):
        return float(value)
    return value


# ---------------------------------------------------------------- the server, in the instance


class _Handler(socketserver.StreamRequestHandler):
    server: _Server

    def handle(self) -> None:
        if not self.server.peer_allowed(self.connection):
            return
        line = self.rfile.readline(MAX_REQUEST_BYTES + 1)
        try:
            request = json.loads(line)
            answer = self.server.answer(request)
        except (ValueError, TypeError, KeyError) as exc:
            answer = {"ok": False, "error": f"bad request: {exc}", "kind": "StoreError"}
        self.wfile.write(json.dumps(answer).encode() + b"\n")


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    allow_reuse_address = False

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gives up (a probe that only checks the socket is alive, a killed
        # command) is normal: log it quietly instead of printing a traceback on stderr.
        log.debug("control socket: a client went away", exc_info=True)

    def __init__(self, path: Path, reader: Reader, key: str) -> None:
        self.reader = reader
        self.key = key
        self._active = 0
        self._idle = threading.Condition()
        super().__init__(str(path), _Handler)

    def peer_allowed(self, conn: socket.socket) -> bool:
        if not sys.platform.startswith("linux"):
            return True  # the private directory is the guard there
        creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        _, uid, _ = struct.unpack("3i", creds)
        return uid in (os.getuid(), 0)

    def answer(self, request: dict[str, Any]) -> dict[str, Any]:
        if request.get("protocol") != PROTOCOL:
            return {"ok": False, "error": "unsupported control protocol", "kind": "StoreError"}
        if request.get("database") != self.key:
            return {
                "ok": False,
                "error": "this instance serves another database",
                "kind": "StoreError",
            }
        call = request.get("call")
        if call == "hello":
            return {"ok": True, "result": {"pid": os.getpid(), "version": __version__}}
        if call not in CALLS:
            return {"ok": False, "error": f"unknown call {call!r}", "kind": "StoreError"}
        args = request.get("args") or {}
        if not isinstance(args, dict):
            return {"ok": False, "error": "args must be an object", "kind": "StoreError"}
        parameters = CALLS[call].parameters
        unknown = set(args) - set(parameters) | ({"self"} & set(args))
        if unknown:
            return {
                "ok": False,
                "error": f"unknown arguments {sorted(unknown)}",
                "kind": "StoreError",
            }
        with self._idle:
            self._active += 1
        try:
            typed = {k: from_wire(parameters[k].annotation, v) for k, v in args.items()}
            result = getattr(self.reader, call)(**typed)
            return {"ok": True, "result": to_wire(result)}
        except StoreError as exc:
            kind = type(exc).__name__ if type(exc).__name__ in _ERRORS else "StoreError"
            return {"ok": False, "error": str(exc), "kind": kind}
        except Exception as exc:
            log.exception("control call %s failed", call)
            return {"ok": False, "error": f"{type(exc).__name__}: {exc}", "kind": "StoreError"}
        finally:
            with self._idle:
                self._active -= 1
                self._idle.notify_all()

    def wait_idle(self, timeout: float) -> None:
        with self._idle:
            self._idle.wait_for(lambda: not self._active, timeout)


class ControlServer:
    """Serves the named read queries of one open database to other otelwatch processes."""

    def __init__(self, db: Path, reader: Reader) -> None:
        self.path = socket_path(db)
        self._key = database_key(db)
        self._reader = reader
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._inode: int | None = None

    def start(self) -> None:
        """Bind the socket (replacing one a dead instance left) and serve in a thread."""
        with contextlib.suppress(FileNotFoundError):
            # We hold the database's write lock, so a socket of the same name is a dead one's.
            self.path.unlink()
        _sweep(self.path.parent)
        old_umask = os.umask(0o177)
        try:
            self._server = _Server(self.path, self._reader, self._key)
        finally:
            os.umask(old_umask)
        self._inode = self.path.stat().st_ino
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="otelwatch-control", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop answering, let calls in progress finish, and remove the socket."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        self._server.wait_idle(timeout)
        with contextlib.suppress(OSError):
            if self.path.stat().st_ino == self._inode:
                self.path.unlink()
        self._server = None


def _sweep(directory: Path) -> None:
    """Remove the sockets that killed instances left: nothing listens on them any more.

    Only sockets a minute old: a new one may be bound but not yet listening.
    """
    for stale in directory.glob("*.sock"):
        try:
            if time.time() - stale.lstat().st_mtime < 60:
                continue
        except OSError:
            continue
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            probe.settimeout(0.2)
            try:
                probe.connect(str(stale))
            except ConnectionRefusedError:
                with contextlib.suppress(OSError):
                    stale.unlink()
            except OSError:
                pass


# ---------------------------------------------------------------- the client, in export and query


class RemoteReader:
    """Every named query of the Reader, answered by the otelwatch that holds the database.

    It has the Reader's query methods (looked up by name, with the Reader's signatures), so the
    commands and the dashboard can use it where they would use a Reader; ``reading.py`` hands out
    one or the other. A test checks that both give the same answers for every query.
    """

    def __init__(self, path: Path, key: str, pid: int) -> None:
        self.path = path
        self.pid = pid
        self._key = key

    @classmethod
    def connect(cls, db: Path) -> RemoteReader | None:
        """The instance serving ``db``, or ``None`` when none answers."""
        try:
            path, key = socket_path(db), database_key(db)
        except (ControlUnavailable, OSError):
            return None
        if not path.exists():
            return None
        try:
            hello = _call(path, {"protocol": PROTOCOL, "database": key, "call": "hello"})
        except (OSError, ValueError, StoreError):
            return None
        return cls(path, key, int(hello["pid"]))

    def _ask(self, call: str, **args: Any) -> Any:
        request = {"protocol": PROTOCOL, "database": self._key, "call": call, "args": args}
        try:
            result = _call(self.path, request)
        except (OSError, ValueError) as exc:
            raise StoreError(
                f"the otelwatch holding the database (process {self.pid}) did not answer: {exc}"
            ) from None
        return from_wire(CALLS[call].return_annotation, result)

    def __getattr__(self, name: str) -> Any:
        signature = CALLS.get(name)
        if signature is None:
            raise AttributeError(name)

        def call(*args: Any, **kwargs: Any) -> Any:
            bound = signature.bind(None, *args, **kwargs)  # None stands for self
            arguments = {k: to_wire(v) for k, v in bound.arguments.items() if k != "self"}
            return self._ask(name, **arguments)

        call.__name__ = name
        return call

    def find_sessions(self, prefix: str = "", limit: int = 10) -> list[SessionMatch]:
        """As :meth:`Reader.find_sessions`."""
        found: list[SessionMatch] = self._ask("find_sessions", prefix=prefix, limit=limit)
        return found

    def session_summary(self, session_id: str, *, include_prompts: bool = False) -> SessionSummary:
        """As :meth:`Reader.session_summary`."""
        summary: SessionSummary = self._ask(
            "session_summary", session_id=session_id, include_prompts=include_prompts
        )
        return summary

    def run_sql(self, sql: str, limit: int = 10_000, timeout_s: float = 120.0) -> SqlResult:
        """As :meth:`Reader.run_sql`, on the instance's connection (still read-only)."""
        result: SqlResult = self._ask("run_sql", sql=sql, limit=limit, timeout_s=timeout_s)
        return result


def _call(path: Path, request: dict[str, Any]) -> Any:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(CONNECT_TIMEOUT_S)
        sock.connect(str(path))
        sock.settimeout(ANSWER_TIMEOUT_S)
        sock.sendall(json.dumps(request).encode() + b"\n")
        with sock.makefile("rb") as stream:
            line = stream.readline(MAX_ANSWER_BYTES + 1)
    if not line:
        raise ValueError("the connection closed without an answer")
    answer = json.loads(line)
    if not answer.get("ok"):
        raise _ERRORS.get(str(answer.get("kind")), StoreError)(str(answer.get("error")))
    return answer["result"]


def serve_database(db: str, reader: Reader) -> ControlServer | None:
    """Start the control socket of a running instance on ``db``; ``None`` if it cannot be.

    Without it the instance works as before, only ``export`` and ``query`` cannot read its
    database while it runs; the reason is logged.
    """
    if db == ":memory:":
        return None
    try:
        server = ControlServer(Path(db).expanduser(), reader)
        server.start()
    except (ControlUnavailable, OSError) as exc:
        log.warning(
            "no control socket (export and query cannot read this database meanwhile): %s", exc
        )
        return None
    return server
