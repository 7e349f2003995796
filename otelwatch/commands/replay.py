"""``otelwatch replay``: send recordings to an OTLP receiver, paced as they were recorded."""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from otelwatch.commands.common import TOKEN_ENV, OptionError, auth_token, fail, token
from otelwatch.ingest.otlp_client import RETRIES, Sender, TargetError, sender_for
from otelwatch.ingest.record import BadLine, RecordingError, read_records, record_info

NAME = "replay"
DEFAULT_TARGET = "grpc://127.0.0.1:4317"
_SHOWN_PROBLEMS = 5


def speed(text: str) -> float:
    """A pacing factor: 2 is twice as fast; 0 or ``max`` as fast as possible."""
    if text.lower() in ("max", "0"):
        return 0.0
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a speed: {text!r} (a number, or max)") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"speed must be a positive number or max: {text!r}")
    return value


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the sub-command."""
    parser = subparsers.add_parser(
        NAME,
        help="send recorded OTLP/JSON files to an OTLP receiver",
        description="Send each request of the recordings (serve --record, Collector file "
        "exporter) to an OTLP receiver, with the pauses between them taken from the telemetry's "
        "own timestamps, scaled by --speed.",
    )
    parser.add_argument("files", nargs="+", metavar="FILE", help="recordings to send, in order")
    parser.add_argument(
        "--to",
        default=DEFAULT_TARGET,
        metavar="URL",
        help="grpc://HOST:PORT or http://HOST:PORT (also grpcs://, https://; "
        f"default {DEFAULT_TARGET})",
    )
    parser.add_argument(
        "--speed",
        type=speed,
        default=1.0,
        metavar="N",
        help="N times the original pace (default 1); 0 or max: as fast as the receiver takes it",
    )
    parser.add_argument(
        "--retries",
        type=int,
        choices=range(21),
        default=RETRIES,
        metavar="N",
        help=f"retry a refused request up to N times, as OTLP exporters do (default {RETRIES})",
    )
    parser.add_argument("--tls-ca", type=Path, metavar="PEM", help="CA to trust for grpcs/https")
    parser.add_argument(
        "--auth-token",
        type=token,
        default=None,
        metavar="TOKEN",
        help=f"send 'Authorization: Bearer TOKEN' (default: ${TOKEN_ENV}, which keeps the token "
        "out of the process list)",
    )
    parser.set_defaults(run=run)


@dataclass
class Totals:
    """What a replay did."""

    requests: int = 0
    items: int = 0
    failed: int = 0
    rejected_items: int = 0
    bad_lines: int = 0


def run(args: argparse.Namespace) -> int:
    """Send every file in order; report counts; status 1 if anything failed."""
    files = [Path(f).expanduser() for f in args.files]
    for file in files:
        if not file.is_file():
            return fail(f"no such file: {file}")
    try:
        sender = sender_for(
            args.to, token=auth_token(args), ca_file=args.tls_ca, retries=args.retries
        )
    except (TargetError, OptionError) as exc:
        return fail(str(exc))
    totals = Totals()
    problems: list[str] = []
    started = time.monotonic()
    try:
        for file in files:
            try:
                _replay_file(sender, file, args.speed, totals, problems)
            except RecordingError as exc:
                totals.bad_lines += 1
                problems.append(str(exc))
            except OSError as exc:
                totals.bad_lines += 1
                problems.append(f"{file}: {exc.strerror or exc}")
    finally:
        sender.close()
    for problem in problems[:_SHOWN_PROBLEMS]:
        print(f"otelwatch: {problem}", file=sys.stderr)
    if len(problems) > _SHOWN_PROBLEMS:
        print(f"otelwatch: … and {len(problems) - _SHOWN_PROBLEMS} more", file=sys.stderr)
    sent = totals.requests - totals.failed
    print(
        f"sent {sent} of {totals.requests} requests ({totals.items} items) to {args.to} in "
        f"{time.monotonic() - started:.1f} s"
        + (f"; {totals.failed} failed" if totals.failed else "")
        + (f"; the receiver refused {totals.rejected_items} items" if totals.rejected_items else "")
        + (f"; {totals.bad_lines} lines could not be read" if totals.bad_lines else ""),
        file=sys.stderr,
    )
    return 1 if totals.failed or totals.bad_lines or totals.rejected_items else 0


class Pacer:
    """When each request of one file is due, in seconds after the file's first request.

    The file keeps its own timeline: its first timed request is due at once, each later one when
    the telemetry time has advanced (divided by ``pace``) since then. Time never runs backwards:
    a request older than one already sent, or with no time at all, is due at once.
    """

    def __init__(self, pace: float) -> None:
        self.pace = pace
        self._first: int | None = None
        self._latest = 0

    def due_s(self, time_ns: int | None) -> float:
        """Seconds after the start at which a request of this time should be sent."""
        if not self.pace:
            return 0.0
        if time_ns is not None:
            self._latest = max(self._latest, time_ns)
            if self._first is None:
                self._first = self._latest
        if self._first is None:
            return 0.0
        return (self._latest - self._first) / 1e9 / self.pace


def _replay_file(
    sender: Sender, file: Path, pace: float, totals: Totals, problems: list[str]
) -> None:
    """Send one file's requests, each when :class:`Pacer` says."""
    pacer = Pacer(pace)
    file_start = time.monotonic()
    for item in read_records(file):
        if isinstance(item, BadLine):
            totals.bad_lines += 1
            problems.append(f"{item.path}:{item.line}: {item.reason}")
            continue
        where = f"{item.path}:{item.line}"
        try:
            info = record_info(item)
        except ValueError as exc:
            totals.bad_lines += 1
            problems.append(f"{where}: not JSON: {exc}")
            continue
        wait = file_start + pacer.due_s(info.time_ns) - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        outcome = sender.send(item)
        totals.requests += 1
        totals.items += info.items
        if not outcome.ok:
            totals.failed += 1
            problems.append(f"{where}: {outcome.message}")
        elif outcome.rejected:
            totals.rejected_items += outcome.rejected
            problems.append(
                f"{where}: the receiver refused {outcome.rejected} items: {outcome.message}"
            )
