"""Bearer-token authentication, shared by both listeners.

A sender proves it may write by sending ``Authorization: Bearer TOKEN``: an HTTP header, or gRPC
metadata of the same name. That is what an OpenTelemetry exporter sends when told
``OTEL_EXPORTER_OTLP_HEADERS=Authorization=Bearer%20TOKEN`` (the SDKs percent-decode the value).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

SCHEME = "bearer"
# What an HTTP 401 tells the client about how to authenticate (RFC 6750).
CHALLENGE = 'Bearer realm="otelwatch"'


class InvalidToken(ValueError):
    """A token that cannot travel in an HTTP header or gRPC metadata."""


def check_token(token: str) -> str:
    """``token`` if it is usable: visible ASCII without spaces or commas.

    gRPC metadata and HTTP header values must be printable ASCII, and the exporters'
    ``OTEL_EXPORTER_OTLP_HEADERS`` list is comma-separated, so anything else could not be sent.
    """
    if not token:
        raise InvalidToken("the auth token is empty")
    if not all("!" <= ch <= "~" for ch in token) or "," in token:
        raise InvalidToken(
            "the auth token must be printable ASCII without spaces or commas "
            "(for example the output of: openssl rand -hex 24)"
        )
    return token


@dataclass(frozen=True, slots=True)
class BearerAuth:
    """Requires ``Authorization: Bearer <token>`` on every request."""

    token: str

    def __post_init__(self) -> None:
        check_token(self.token)

    def allows(self, authorization: str | None) -> bool:
        """Whether an ``Authorization`` value carries the token.

        The scheme is case-insensitive (RFC 7235) and surrounding spaces are ignored. The token
        is compared in constant time, so timing does not reveal how much of a guess was right.
        """
        if not authorization:
            return False
        scheme, _, credentials = authorization.strip().partition(" ")
        if scheme.lower() != SCHEME:
            return False
        return hmac.compare_digest(
            credentials.strip().encode("utf-8", "replace"), self.token.encode("ascii")
        )

    def __repr__(self) -> str:
        # Never print the secret, for instance in a traceback of Settings.
        return "BearerAuth(token=***)"
