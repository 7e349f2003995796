"""Reading a database for ``export`` and ``query``, whether or not another otelwatch holds it.

If an otelwatch serving the file answers on its control socket, the named queries run there, on
its connection; otherwise the file is opened read-only here. See ``otelwatch/control.py`` for why
and how.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from otelwatch.control import RemoteReader
from otelwatch.store import database
from otelwatch.store.errors import DatabaseError, DatabaseLocked
from otelwatch.store.reader import Reader

Source = Reader | RemoteReader
"""Either way of reading: both have the same named query methods."""


@contextmanager
def read_database(db: str) -> Iterator[Source]:
    """The named queries over ``db``: through its running otelwatch, or a read-only connection.

    Raises :class:`DatabaseError` when there is no such database, and :class:`DatabaseLocked`
    when a process that is not an answering otelwatch holds it.
    """
    if db == database.MEMORY:
        raise DatabaseError("an in-memory database keeps nothing to read; give --db PATH")
    path = Path(db).expanduser()
    if not path.is_file():
        raise DatabaseError(f"no database at {path}")
    remote = RemoteReader.connect(path)
    if remote is not None:
        yield remote
        return
    try:
        conn = database.connect(path, read_only=True)
    except DatabaseLocked as exc:
        # It may have started between the two looks.
        remote = RemoteReader.connect(path)
        if remote is None:
            raise DatabaseLocked(
                f"{exc} (it does not answer otelwatch's control socket: an older otelwatch, or "
                "another program)"
            ) from None
        yield remote
        return
    try:
        yield Reader(conn)
    finally:
        conn.close()


class SessionNotFound(Exception):
    """No session, or more than one, matches what the user gave."""


LATEST = "latest"


def resolve_session(source: Source, spec: str) -> str:
    """The full id of the session ``spec`` names: ``latest``, a full id, or a unique prefix."""
    spec = spec.strip()
    if not spec:
        raise SessionNotFound("give a session id, a prefix of one, or 'latest'")
    if spec == LATEST:
        found = source.find_sessions("", limit=1)
        if not found:
            raise SessionNotFound("the database holds no session yet")
        return found[0].session_id
    found = source.find_sessions(spec, limit=6)
    if not found:
        raise SessionNotFound(f"no session id starts with {spec!r}")
    if found[0].session_id == spec or len(found) == 1:
        return found[0].session_id
    shown = ", ".join(m.session_id[:13] for m in found[:5])
    more = " …" if len(found) > 5 else ""
    raise SessionNotFound(
        f"{spec!r} matches {len(found)} sessions ({shown}{more}); give more of the id"
    )
