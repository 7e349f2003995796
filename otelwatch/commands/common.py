"""Options shared by several sub-commands, and how they become runtime settings."""

from __future__ import annotations

import argparse
import ipaddress
import os
import re
import socket
import sys
from pathlib import Path

from otelwatch.ingest import redact
from otelwatch.ingest.auth import BearerAuth, InvalidToken, check_token
from otelwatch.ingest.limits import (
    DEFAULT_MAX_ATTRIBUTES,
    DEFAULT_MAX_REQUEST_BYTES,
    DEFAULT_MAX_VALUE_CHARS,
    Limits,
)
from otelwatch.ingest.tls import TlsFiles
from otelwatch.runtime import DEFAULT_GRPC_PORT, DEFAULT_HOST, DEFAULT_HTTP_PORT, Settings
from otelwatch.store import database
from otelwatch.store.retention import DEFAULT_MAX_AGE_NS, DEFAULT_MAX_BYTES, RetentionPolicy

_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([kmgt]?i?b?)?", re.IGNORECASE)
_UNITS = {"": 1, "b": 1, "k": 1000, "m": 1000**2, "g": 1000**3, "t": 1000**4}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(s|m|min|h|d|w)", re.IGNORECASE)
_DURATION_NS = {"s": 1, "m": 60, "min": 60, "h": 3600, "d": 86_400, "w": 7 * 86_400}
_OFF = ("off", "none", "0", "forever", "unlimited")
TOKEN_ENV = "OTELWATCH_AUTH_TOKEN"  # noqa: S105 (the name of a variable, not a secret)


class OptionError(ValueError):
    """Options that parse one by one but do not make sense together."""


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


def duration_or_off(text: str) -> int | None:
    """A duration in nanoseconds (``7d``, ``12h``, ``90min``, ``2w``), or ``None`` for ``off``."""
    if text.strip().lower() in _OFF:
        return None
    match = _DURATION.fullmatch(text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (try 7d, 12h or off)")
    value = int(float(match[1]) * _DURATION_NS[match[2].lower()] * 10**9)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"duration must be positive: {text!r}")
    return value


def size_or_off(text: str) -> int | None:
    """A size in bytes, or ``None`` for ``off``."""
    return None if text.strip().lower() in _OFF else size(text)


def add_retention_options(parser: argparse.ArgumentParser) -> None:
    """``--retention`` and ``--max-db-size``."""
    days = DEFAULT_MAX_AGE_NS // (86_400 * 10**9)
    parser.add_argument(
        "--retention",
        type=duration_or_off,
        default=DEFAULT_MAX_AGE_NS,
        metavar="AGE",
        help=f"delete data received longer ago than this, e.g. 7d or 12h (default: {days}d; "
        "off keeps everything)",
    )
    parser.add_argument(
        "--max-db-size",
        type=size_or_off,
        default=DEFAULT_MAX_BYTES,
        metavar="SIZE",
        help=f"delete the oldest data when the database holds more than this (default: "
        f"{DEFAULT_MAX_BYTES // 1000**3}GB; off for no cap)",
    )


def positive(text: str) -> int:
    """A whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {value}")
    return value


def redaction(text: str) -> str:
    """A ``--redact`` list, checked now so that a typo is a one-line error."""
    try:
        redact.parse(text)
    except redact.InvalidRedaction as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def add_content_options(parser: argparse.ArgumentParser) -> None:
    """``--max-attributes``, ``--max-value-length``, ``--redact`` and ``--redact-mode``."""
    parser.add_argument(
        "--max-attributes",
        type=positive,
        default=DEFAULT_MAX_ATTRIBUTES,
        metavar="N",
        help=f"attributes kept per span, event or point; the rest are counted in "
        f"otelwatch.dropped_attributes (default: {DEFAULT_MAX_ATTRIBUTES})",
    )
    parser.add_argument(
        "--max-value-length",
        type=positive,
        default=DEFAULT_MAX_VALUE_CHARS,
        metavar="CHARS",
        help=f"longer values are cut and listed in otelwatch.truncated (default: "
        f"{DEFAULT_MAX_VALUE_CHARS})",
    )
    parser.add_argument(
        "--redact",
        type=redaction,
        metavar="WHAT",
        help="never store these contents: a comma-separated list of "
        f"{', '.join(redact.CATEGORIES)}, or all (see docs/limits.md)",
    )
    parser.add_argument(
        "--redact-mode",
        choices=("drop", "hash"),
        default="drop",
        help="drop redacted attributes, or keep a SHA-256 of them (default: drop)",
    )


def token(text: str) -> str:
    """A bearer token usable in a header: visible ASCII, no spaces or commas."""
    try:
        return check_token(text)
    except InvalidToken as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_auth_option(parser: argparse.ArgumentParser) -> None:
    """``--auth-token TOKEN`` (default: ``$OTELWATCH_AUTH_TOKEN``)."""
    parser.add_argument(
        "--auth-token",
        type=token,
        default=None,
        metavar="TOKEN",
        help=f"require 'Authorization: Bearer TOKEN' from senders (default: ${TOKEN_ENV}; the "
        "variable keeps the token out of the process list)",
    )


def auth_token(args: argparse.Namespace) -> str | None:
    """The token from ``--auth-token`` or, failing that, the environment."""
    if args.auth_token:
        return str(args.auth_token)
    from_env = os.environ.get(TOKEN_ENV, "").strip()
    if not from_env:
        return None
    try:
        return check_token(from_env)
    except InvalidToken as exc:
        raise OptionError(f"{TOKEN_ENV}: {exc}") from None


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
    parser.add_argument(
        "--decode-workers",
        type=decode_workers,
        default=default_decode_workers(),
        metavar="N",
        help="processes that decode requests, 0 to decode in the server itself "
        f"(default: the number of cores, at most {MAX_DEFAULT_DECODE_WORKERS}: "
        f"{default_decode_workers()} here)",
    )
    add_retention_options(parser)
    add_content_options(parser)
    add_auth_option(parser)
    parser.add_argument(
        "--tls-cert", type=Path, metavar="PEM", help="serve TLS on both ports with this certificate"
    )
    parser.add_argument("--tls-key", type=Path, metavar="PEM", help="the certificate's key")
    parser.add_argument(
        "--tls-client-ca",
        type=Path,
        metavar="PEM",
        help="mutual TLS: require client certificates signed by this CA",
    )


# Decoding runs in worker processes on machines with more than one core (ingest/decode_pool.py).
MAX_DEFAULT_DECODE_WORKERS = 4


def default_decode_workers() -> int:
    """One decoder process per core, none on a single core (it would only add copying)."""
    cores = os.cpu_count() or 1
    return 0 if cores < 2 else min(cores, MAX_DEFAULT_DECODE_WORKERS)


def decode_workers(text: str) -> int:
    """A number of decoder processes, 0 to 64."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of processes: {text!r}") from None
    if not 0 <= value <= 64:
        raise argparse.ArgumentTypeError(f"decode workers out of range (0-64): {value}")
    return value


def db_path(args: argparse.Namespace) -> str:
    """The ``--db`` value, or the default database."""
    return str(args.db) if args.db else str(database.default_path())


def tls_files(args: argparse.Namespace) -> TlsFiles | None:
    """The TLS options, checked for completeness (the files are read when the runtime starts)."""
    if args.tls_cert is None and args.tls_key is None:
        if args.tls_client_ca is not None:
            raise OptionError("--tls-client-ca needs --tls-cert and --tls-key")
        return None
    if args.tls_cert is None or args.tls_key is None:
        raise OptionError("--tls-cert and --tls-key go together")
    return TlsFiles(args.tls_cert, args.tls_key, args.tls_client_ca)


def settings_from(args: argparse.Namespace, *, listen: bool = True) -> Settings:
    """Runtime settings from parsed listen options; :class:`OptionError` if they conflict."""
    secret = auth_token(args)
    if args.redact and getattr(args, "record", None):
        # The recording holds requests as they arrived, before redaction.
        raise OptionError("--record would keep what --redact removes; use one or the other")
    return Settings(
        db=db_path(args),
        host=args.host,
        grpc_port=args.grpc_port,
        http_port=args.http_port,
        listen=listen,
        limits=Limits(
            max_request_bytes=args.max_request_size,
            max_attributes=args.max_attributes,
            max_value_chars=args.max_value_length,
        ),
        auth=BearerAuth(secret) if secret else None,
        tls=tls_files(args),
        retention=RetentionPolicy(max_age_ns=args.retention, max_bytes=args.max_db_size),
        redact=redact.parse(args.redact, args.redact_mode) if args.redact else None,
        decode_workers=args.decode_workers,
    )


def is_loopback(host: str) -> bool:
    """Whether ``host`` names only this machine (127.0.0.0/8, ::1, or a name resolving there)."""
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    return bool(infos) and all(
        ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]).is_loopback for info in infos
    )


def exposure_warnings(settings: Settings) -> list[str]:
    """One line for each way the listeners are open to other machines without protection."""
    if not settings.listen or is_loopback(settings.host):
        return []
    where = f"listening on {settings.host}"
    if settings.auth is None:
        return [
            f"otelwatch: warning: {where} without --auth-token: anyone who can reach this "
            "host can send data"
        ]
    if settings.tls is None:
        return [
            f"otelwatch: warning: {where} without --tls-cert: the auth token and the "
            "telemetry cross the network in clear text"
        ]
    return []


def warn(lines: list[str]) -> None:
    """Print warnings on stderr."""
    for line in lines:
        print(line, file=sys.stderr, flush=True)


def fail(message: str) -> int:
    """Print a one-line error and return the exit status for it."""
    print(f"otelwatch: error: {message}", file=sys.stderr)
    return 2
