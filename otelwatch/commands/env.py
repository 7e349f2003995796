"""``otelwatch env``: the shell lines that point Claude Code at this listener."""

from __future__ import annotations

import argparse

from otelwatch.claude_env import PROTOCOLS, claude_code_env, export_lines
from otelwatch.commands.common import OptionError, add_auth_option, auth_token, fail, port
from otelwatch.runtime import DEFAULT_GRPC_PORT, DEFAULT_HOST, DEFAULT_HTTP_PORT

NAME = "env"


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the sub-command."""
    parser = subparsers.add_parser(
        NAME,
        help="print the environment that points Claude Code here",
        description='Print export lines for Claude Code. Use: eval "$(otelwatch env)"',
    )
    parser.add_argument("--protocol", choices=PROTOCOLS, default="grpc")
    parser.add_argument("--host", default=DEFAULT_HOST)
    parser.add_argument("--grpc-port", type=port, default=DEFAULT_GRPC_PORT, metavar="N")
    parser.add_argument("--http-port", type=port, default=DEFAULT_HTTP_PORT, metavar="N")
    add_auth_option(parser)
    parser.add_argument("--tls", action="store_true", help="the listener serves TLS (https)")
    parser.add_argument(
        "--tls-ca",
        metavar="PEM",
        help="CA or self-signed certificate the client should trust (implies --tls)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Print the lines."""
    try:
        token = auth_token(args)
    except OptionError as exc:
        return fail(str(exc))
    pairs = claude_code_env(
        host=args.host,
        grpc_port=args.grpc_port,
        http_port=args.http_port,
        protocol=args.protocol,
        auth_token=token,
        tls=args.tls,
        ca_file=args.tls_ca,
    )
    print("\n".join(export_lines(pairs)))
    return 0
