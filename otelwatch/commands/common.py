"""Options shared by several sub-commands, and how they become runtime settings."""

from __future__ import annotations

import argparse
import re
import sys

from otelwatch.ingest.limits import DEFAULT_MAX_REQUEST_BYTES, Limits
from otelwatch.runtime import DEFAULT_GRPC_PORT, DEFAULT_HOST, DEFAULT_HTTP_PORT, Settings
from otelwatch.store import database

_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([kmgt]?i?b?)?", re.IGNORECASE)
_UNITS = {"": 1, "b": 1, "k": 1000, "m": 1000**2, "g": 1000**3, "t": 1000**4}


def port(text: str) -> int:
    """A TCP port number; 0 asks the system for a free one."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port out of range (0-65535): {value}")
    return value


def size(text: str) -> int:
    """A size in bytes: ``20MiB``, ``2GB``, ``500k``, or a plain number."""
    match = _SIZE.fullmatch(text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (try 20MiB or 2GB)")
    number, unit = float(match[1]), (match[2] or "").lower()
    base = 1024 if "i" in unit else 1000
    scale = base ** "bkmgt".index(unit[0]) if unit and unit[0] != "b" else 1
    value = int(number * scale)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"size must be positive: {text!r}")
    return value


def add_db_option(parser: argparse.ArgumentParser) -> None:
    """``--db PATH``."""
    parser.add_argument(
        "--db",
        metavar="PATH",
        default=None,
        help=f"DuckDB file (default: {database.default_path()}; ':memory:' keeps nothing)",
    )


def add_listen_options(parser: argparse.ArgumentParser) -> None:
    """``--db``, ``--host``, ``--grpc-port``, ``--http-port``, ``--max-request-size``."""
    add_db_option(parser)
    parser.add_argument(
        "--host", default=DEFAULT_HOST, help=f"address to listen on (default: {DEFAULT_HOST})"
    )
    parser.add_argument(
        "--grpc-port",
        type=port,
        default=DEFAULT_GRPC_PORT,
        metavar="N",
        help=f"OTLP/gRPC port, 0 for any free port (default: {DEFAULT_GRPC_PORT})",
    )
    parser.add_argument(
        "--http-port",
        type=port,
        default=DEFAULT_HTTP_PORT,
        metavar="N",
        help=f"OTLP/HTTP port, 0 for any free port (default: {DEFAULT_HTTP_PORT})",
    )
    parser.add_argument(
        "--max-request-size",
        type=size,
        default=DEFAULT_MAX_REQUEST_BYTES,
        metavar="SIZE",
        help="largest request accepted, compressed or decompressed (default: 20MiB)",
    )


def db_path(args: argparse.Namespace) -> str:
    """The ``--db`` value, or the default database."""
    return str(args.db) if args.db else str(database.default_path())


def settings_from(args: argparse.Namespace, *, listen: bool = True) -> Settings:
    """Runtime settings from parsed listen options."""
    return Settings(
        db=db_path(args),
        host=args.host,
        grpc_port=args.grpc_port,
        http_port=args.http_port,
        listen=listen,
        limits=Limits(max_request_bytes=args.max_request_size),
    )


def fail(message: str) -> int:
    """Print a one-line error and return the exit status for it."""
    print(f"otelwatch: error: {message}", file=sys.stderr)
    return 2
