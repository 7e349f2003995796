"""The environment that points Claude Code at an otelwatch listener.

Used by ``otelwatch env`` and by the dashboard's empty state, so both always say the same thing.
"""

from __future__ import annotations

import shlex
from urllib.parse import quote

PROTOCOLS = ("grpc", "http/protobuf", "http/json")


def _client_host(host: str) -> str:
    # A wildcard bind is reachable on loopback; brackets make an IPv6 literal a valid URL host.
    if host in ("0.0.0.0", "::", ""):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


def claude_code_env(
    *,
    host: str,
    grpc_port: int,
    http_port: int,
    protocol: str = "grpc",
    auth_token: str | None = None,
    tls: bool = False,
    ca_file: str | None = None,
) -> list[tuple[str, str]]:
    """The variables, in order, for Claude Code to send metrics, events and traces here.

    ``tls`` makes the endpoint ``https``; ``ca_file`` is the CA (or self-signed certificate)
    the client must trust to verify this listener.
    """
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {', '.join(PROTOCOLS)}")
    port = grpc_port if protocol == "grpc" else http_port
    pairs = [
        ("CLAUDE_CODE_ENABLE_TELEMETRY", "1"),
        # Traces (the waterfall) are behind Claude Code's beta switch.
        ("CLAUDE_CODE_ENHANCED_TELEMETRY_BETA", "1"),
        ("OTEL_METRICS_EXPORTER", "otlp"),
        ("OTEL_LOGS_EXPORTER", "otlp"),
        ("OTEL_TRACES_EXPORTER", "otlp"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol),
        (
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            f"{'https' if tls or ca_file else 'http'}://{_client_host(host)}:{port}",
        ),
        # Claude Code's defaults (60 s metrics, 5 s events and spans) feel dead on a live screen.
        ("OTEL_METRIC_EXPORT_INTERVAL", "5000"),
        ("OTEL_LOGS_EXPORT_INTERVAL", "1000"),
        ("OTEL_TRACES_EXPORT_INTERVAL", "1000"),
    ]
    if ca_file:
        pairs.append(("OTEL_EXPORTER_OTLP_CERTIFICATE", ca_file))
    if auth_token:
        # The variable's values are percent-encoded (W3C baggage format); the exporters decode
        # "%20" back to the space between scheme and token.
        header = f"Authorization=Bearer%20{quote(auth_token, safe='')}"
        pairs.append(("OTEL_EXPORTER_OTLP_HEADERS", header))
    return pairs


def export_lines(pairs: list[tuple[str, str]]) -> list[str]:
    """``export NAME=value`` lines, quoted for a POSIX shell."""
    return [f"export {name}={shlex.quote(value)}" for name, value in pairs]
