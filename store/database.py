"""Opening the DuckDB file: where it lives, who may write it, and bringing its schema up to date."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import duckdb
import platformdirs

from otelwatch.store.errors import DatabaseError, DatabaseLocked

MEMORY = ":memory:"

_LOCK_PID = re.compile(r"\(PID (\d+)\)")


def default_path() -> Path:
    """The database used when no ``--db`` is given: ``otelwatch.duckdb`` in the user data dir."""
    return Path(platformdirs.user_data_dir("otelwatch", appauthor=False)) / "otelwatch.duckdb"


@dataclass(frozen=True, slots=True)
class Migration:
    """One forward step of the schema, read from ``store/sql/NNNN_name.sql``."""

    version: int
    name: str
    sql: str


def migrations() -> list[Migration]:
    """Every migration shipped with this version, oldest first."""
    found = []
    for entry in resources.files("otelwatch.store").joinpath("sql").iterdir():
        match = re.fullmatch(r"(\d{4})_(\w+)\.sql", entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    return sorted(found, key=lambda m: m.version)


def schema_version(conn: duckdb.DuckDBPyConnection) -> int:
    """The schema version recorded in the database, 0 for an empty one."""
    exists = conn.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_version'"
    ).fetchone()
    if not exists or not exists[0]:
        return 0
    row = conn.execute("SELECT max(version) FROM schema_version").fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def migrate(conn: duckdb.DuckDBPyConnection) -> int:
    """Apply every migration newer than the database, each in its own transaction.

    Returns the version reached. A database written by a newer otelwatch is refused rather than
    guessed at.
    """
    steps = migrations()
    latest = steps[-1].version
    current = schema_version(conn)
    if current > latest:
        raise DatabaseError(
            f"the database has schema version {current}, newer than this otelwatch ({latest}); "
            "upgrade otelwatch"
        )
    if current == 0:
        conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL, applied_ns BIGINT)")
    for step in steps:
        if step.version <= current:
            continue
        conn.execute("BEGIN")
        try:
            conn.execute(step.sql)
            conn.execute("INSERT INTO schema_version VALUES (?, ?)", [step.version, time.time_ns()])
            conn.execute("COMMIT")
        except Exception:
            conn.execute("ROLLBACK")
            raise
    return latest


def connect(path: str | Path, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open (and for writing, create and migrate) the database at ``path`` or ``:memory:``.

    Raises :class:`DatabaseLocked` with a one-line explanation when another process has the file
    open for writing, and :class:`DatabaseError` when it cannot be used at all.
    """
    target = str(path)
    if target != MEMORY:
        file = Path(target).expanduser()
        if read_only and not file.exists():
            raise DatabaseError(f"no database at {file}")
        if not read_only:
            try:
                file.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise DatabaseError(f"cannot create {file.parent}: {exc.strerror}") from exc
        target = str(file)
    try:
        conn = duckdb.connect(target, read_only=read_only)
    except duckdb.IOException as exc:
        message = str(exc)
        if "Could not set lock" in message:
            pid = _LOCK_PID.search(message)
            holder = f" (process {pid[1]})" if pid else ""
            raise DatabaseLocked(
                f"{target} is in use by another otelwatch{holder}; stop it or use --db"
            ) from exc
        raise DatabaseError(f"cannot open {target}: {_first_line(message)}") from exc
    except duckdb.Error as exc:
        raise DatabaseError(f"cannot open {target}: {_first_line(str(exc))}") from exc
    try:
        if read_only:
            if schema_version(conn) == 0:
                raise DatabaseError(f"{target} is not an otelwatch database")
        else:
            migrate(conn)
    except DatabaseError:
        conn.close()
        raise
    except duckdb.Error as exc:
        conn.close()
        raise DatabaseError(f"cannot use {target}: {_first_line(str(exc))}") from exc
    return conn


def _first_line(message: str) -> str:
    return message.strip().splitlines()[0] if message.strip() else "unknown error"
