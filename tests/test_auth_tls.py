"""Access: bearer tokens, TLS and mutual TLS on both listeners, with the SDK's real exporters.

Certificates are made here with ``cryptography``: a CA, a server certificate for 127.0.0.1 and
``localhost``, a client certificate from the same CA, and one from a stranger's CA.
"""

from __future__ import annotations

import datetime
import ipaddress
import socket
import ssl
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from conftest import query, start_runtime
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpans
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpans
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.util.re import parse_env_headers
from otlp_clients import grpc_export, http_request

from otelwatch.ingest.auth import BearerAuth
from otelwatch.ingest.tls import TlsFiles
from otelwatch.runtime import Runtime

OTELWATCH = [sys.executable, "-m", "otelwatch"]
TOKEN = "s3cret-token_0123456789abcdef"
PROTOBUF = {"Content-Type": "application/x-protobuf"}


# ---------------------------------------------------------------- certificates


@dataclass(frozen=True)
class Pki:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    stranger_cert: Path
    stranger_key: Path


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> Path:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return path


def _write_cert(path: Path, cert: x509.Certificate) -> Path:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


def _ca(common_name: str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(_name(common_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def _leaf(
    common_name: str,
    ca: tuple[x509.Certificate, ec.EllipticCurvePrivateKey],
    *,
    server: bool,
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    ca_cert, ca_key = ca
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
    )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
    return builder.sign(ca_key, hashes.SHA256()), key


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    folder = tmp_path_factory.mktemp("pki")
    ca = _ca("otelwatch test CA")
    server = _leaf("127.0.0.1", ca, server=True)
    client = _leaf("claude-code", ca, server=False)
    stranger = _leaf("stranger", _ca("someone else's CA"), server=False)
    return Pki(
        ca=_write_cert(folder / "ca.pem", ca[0]),
        server_cert=_write_cert(folder / "server.pem", server[0]),
        server_key=_write_key(folder / "server.key", server[1]),
        client_cert=_write_cert(folder / "client.pem", client[0]),
        client_key=_write_key(folder / "client.key", client[1]),
        stranger_cert=_write_cert(folder / "stranger.pem", stranger[0]),
        stranger_key=_write_key(folder / "stranger.key", stranger[1]),
    )


# ---------------------------------------------------------------- helpers


def _spans(exporter: SpanExporter, name: str) -> SpanExportResult:
    """Export one span named ``name`` through ``exporter``; what the exporter concluded."""
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    provider.get_tracer("otelwatch.tests").start_span(name).end()
    try:
        return exporter.export(memory.get_finished_spans())
    finally:
        exporter.shutdown()
        provider.shutdown()


def _stored(runtime: Runtime, name: str) -> int:
    return int(str(query(runtime, "SELECT count(*) FROM spans WHERE name = ?", [name])[0][0]))


def _request_bytes(name: str) -> bytes:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    request = ExportTraceServiceRequest()
    span = request.resource_spans.add().scope_spans.add().spans.add()
    span.trace_id = bytes(range(1, 17))
    span.span_id = bytes(range(1, 9))
    span.name = name
    span.start_time_unix_nano = 1_700_000_000_000_000_000
    span.end_time_unix_nano = 1_700_000_000_100_000_000
    return request.SerializeToString()


@pytest.fixture
def secured(db_path: Path) -> Iterator[Runtime]:
    rt = start_runtime(db_path, auth=BearerAuth(TOKEN))
    yield rt
    rt.stop()


# ---------------------------------------------------------------- bearer tokens


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Bearer ", f"Basic {TOKEN}", f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}"],
)
def test_http_without_the_token_is_401(secured: Runtime, authorization: str | None) -> None:
    assert secured.http_address
    headers = dict(PROTOBUF)
    if authorization is not None:
        headers["Authorization"] = authorization
    reply = http_request(secured.http_address, "/v1/traces", _request_bytes("intruder"), headers)
    assert reply.status == 401
    assert reply.headers["www-authenticate"].startswith("Bearer")
    # Unknown paths and other methods are refused the same way: nothing is revealed.
    assert http_request(secured.http_address, "/nope", b"", headers).status == 401
    assert http_request(secured.http_address, "/v1/traces", None, headers, "GET").status == 401
    assert _stored(secured, "intruder") == 0


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER"])
def test_http_with_the_token_is_stored(secured: Runtime, scheme: str) -> None:
    assert secured.http_address
    headers = {**PROTOBUF, "Authorization": f"{scheme} {TOKEN}"}
    reply = http_request(secured.http_address, "/v1/traces", _request_bytes("friend"), headers)
    assert reply.status == 200
    assert _stored(secured, "friend") == 1


def test_grpc_without_the_token_is_unauthenticated(secured: Runtime) -> None:
    assert secured.grpc_address
    body = _request_bytes("intruder")
    for metadata in (None, (("authorization", f"Bearer {TOKEN[::-1]}"),)):
        answer = grpc_export(secured.grpc_address, "traces", body, metadata=metadata)
        assert answer.code == grpc.StatusCode.UNAUTHENTICATED
    assert _stored(secured, "intruder") == 0
    ok = grpc_export(
        secured.grpc_address, "traces", body, metadata=(("authorization", f"Bearer {TOKEN}"),)
    )
    assert ok.code == grpc.StatusCode.OK
    assert _stored(secured, "intruder") == 1


@pytest.mark.parametrize("transport", ["grpc", "http"])
def test_sdk_exporters_send_the_token_from_otel_exporter_otlp_headers(
    secured: Runtime, transport: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Exactly what `otelwatch env --auth-token` prints, and what Claude Code's exporters read.
    printed = _env_lines("--auth-token", TOKEN)["OTEL_EXPORTER_OTLP_HEADERS"]
    assert printed == f"Authorization=Bearer%20{TOKEN}"
    assert parse_env_headers(printed, liberal=True) == {"authorization": f"Bearer {TOKEN}"}
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", printed)
    good = _exporter(secured, transport)
    assert _spans(good, f"sdk-{transport}") == SpanExportResult.SUCCESS
    assert _stored(secured, f"sdk-{transport}") == 1

    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "Authorization=Bearer%20wrong")
    bad = _exporter(secured, transport)
    assert _spans(bad, f"bad-{transport}") == SpanExportResult.FAILURE
    assert _stored(secured, f"bad-{transport}") == 0


def _exporter(
    runtime: Runtime, transport: str, scheme: str = "http", **kwargs: object
) -> SpanExporter:
    if transport == "grpc":
        return GrpcSpans(endpoint=f"{scheme}://{runtime.grpc_address}", timeout=5, **kwargs)  # type: ignore[arg-type]
    return HttpSpans(endpoint=f"{scheme}://{runtime.http_address}/v1/traces", timeout=5, **kwargs)  # type: ignore[arg-type]


def _env_lines(*args: str) -> dict[str, str]:
    result = subprocess.run(
        [*OTELWATCH, "env", *args], capture_output=True, text=True, timeout=60, check=True
    )
    pairs = (line.removeprefix("export ").split("=", 1) for line in result.stdout.splitlines())
    return {name: value.strip("'") for name, value in pairs}


def test_env_takes_the_token_from_the_environment() -> None:
    import os

    result = subprocess.run(
        [*OTELWATCH, "env"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "OTELWATCH_AUTH_TOKEN": TOKEN},
    )
    assert f"OTEL_EXPORTER_OTLP_HEADERS=Authorization=Bearer%20{TOKEN}" in result.stdout
    plain = subprocess.run([*OTELWATCH, "env"], capture_output=True, text=True, timeout=60)
    assert "OTEL_EXPORTER_OTLP_HEADERS" not in plain.stdout


@pytest.mark.parametrize("bad", ["has space", "comma,in,it", "naïve"])
def test_unusable_tokens_are_refused_in_one_line(bad: str, tmp_path: Path) -> None:
    result = subprocess.run(
        [*OTELWATCH, "serve", "--db", str(tmp_path / "t.duckdb"), "--auth-token", bad],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "auth token" in result.stderr


# ---------------------------------------------------------------- TLS


@pytest.fixture(autouse=True)
def _no_ca_bundle_override(monkeypatch: pytest.MonkeyPatch) -> None:
    # requests lets these variables override the exporter's own verify= setting (a known
    # requests quirk), so with them set OTEL_EXPORTER_OTLP_CERTIFICATE would be ignored.
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)


@pytest.fixture
def tls_runtime(db_path: Path, pki: Pki) -> Iterator[Runtime]:
    rt = start_runtime(db_path, tls=TlsFiles(pki.server_cert, pki.server_key))
    yield rt
    rt.stop()


@pytest.fixture
def mtls_runtime(db_path: Path, pki: Pki) -> Iterator[Runtime]:
    rt = start_runtime(
        db_path, tls=TlsFiles(pki.server_cert, pki.server_key, pki.ca), auth=BearerAuth(TOKEN)
    )
    yield rt
    rt.stop()


@pytest.mark.parametrize("transport", ["grpc", "http"])
def test_sdk_exporters_over_tls(
    tls_runtime: Runtime, pki: Pki, transport: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The exporters' own TLS settings: the CA to trust, from the standard variable.
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_CERTIFICATE", str(pki.ca))
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE", str(pki.ca))
    exporter = _exporter(tls_runtime, transport, "https")
    assert _spans(exporter, f"tls-{transport}") == SpanExportResult.SUCCESS
    assert _stored(tls_runtime, f"tls-{transport}") == 1


def test_plain_text_clients_cannot_talk_to_a_tls_listener(tls_runtime: Runtime) -> None:
    assert tls_runtime.http_address and tls_runtime.grpc_address
    with pytest.raises((ConnectionError, OSError)):
        http_request(tls_runtime.http_address, "/v1/traces", _request_bytes("plain"), PROTOBUF)
    answer = grpc_export(tls_runtime.grpc_address, "traces", _request_bytes("plain"), timeout=3)
    assert answer.code != grpc.StatusCode.OK
    assert _stored(tls_runtime, "plain") == 0


def test_a_stalled_tls_handshake_does_not_block_other_clients(
    tls_runtime: Runtime, pki: Pki
) -> None:
    assert tls_runtime.http_address
    host, port = tls_runtime.http_address.rsplit(":", 1)
    with socket.create_connection((host, int(port))):  # connects, never says hello
        context = ssl.create_default_context(cafile=str(pki.ca))
        with (
            socket.create_connection((host, int(port)), timeout=5) as raw,
            context.wrap_socket(raw, server_hostname="127.0.0.1") as secure,
        ):
            body = _request_bytes("after-stall")
            secure.sendall(
                b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\n"
                + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                + body
            )
            assert secure.recv(64).startswith(b"HTTP/1.1 200")
    assert _stored(tls_runtime, "after-stall") == 1


@pytest.mark.parametrize("transport", ["grpc", "http"])
def test_mutual_tls_admits_only_clients_with_a_certificate_from_the_ca(
    mtls_runtime: Runtime, pki: Pki, transport: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", f"Authorization=Bearer%20{TOKEN}")
    for prefix in ("OTEL_EXPORTER_OTLP", "OTEL_EXPORTER_OTLP_TRACES"):
        monkeypatch.setenv(f"{prefix}_CERTIFICATE", str(pki.ca))

    def attempt(name: str, cert: Path | None, key: Path | None) -> SpanExportResult:
        for prefix in ("OTEL_EXPORTER_OTLP", "OTEL_EXPORTER_OTLP_TRACES"):
            if cert and key:
                monkeypatch.setenv(f"{prefix}_CLIENT_CERTIFICATE", str(cert))
                monkeypatch.setenv(f"{prefix}_CLIENT_KEY", str(key))
            else:
                monkeypatch.delenv(f"{prefix}_CLIENT_CERTIFICATE", raising=False)
                monkeypatch.delenv(f"{prefix}_CLIENT_KEY", raising=False)
        return _spans(_exporter(mtls_runtime, transport, "https"), name)

    assert attempt("no-cert", None, None) == SpanExportResult.FAILURE
    assert attempt("stranger", pki.stranger_cert, pki.stranger_key) == SpanExportResult.FAILURE
    assert attempt("member", pki.client_cert, pki.client_key) == SpanExportResult.SUCCESS
    assert _stored(mtls_runtime, "no-cert") == 0
    assert _stored(mtls_runtime, "stranger") == 0
    assert _stored(mtls_runtime, "member") == 1


# ---------------------------------------------------------------- the command line


def _serve(tmp_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """Start ``serve``, wait for its banner, stop it with SIGTERM, return what it printed."""
    proc = subprocess.Popen(
        [
            *OTELWATCH,
            "serve",
            "--db",
            str(tmp_path / "s.duckdb"),
            "--grpc-port",
            "0",
            "--http-port",
            "0",
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if "Ctrl-C stops" in line:
            break
    proc.terminate()
    out, err = proc.communicate(timeout=60)
    return subprocess.CompletedProcess(proc.args, proc.returncode, "".join(lines) + out, err)


def test_loopback_bind_prints_no_warning(tmp_path: Path) -> None:
    result = _serve(tmp_path)
    assert result.returncode == 0
    assert "warning" not in result.stderr


def test_other_addresses_without_a_token_print_one_warning_line(tmp_path: Path) -> None:
    result = _serve(tmp_path, "--host", "0.0.0.0")
    warnings = [line for line in result.stderr.splitlines() if "warning" in line]
    assert len(warnings) == 1, result.stderr
    assert "0.0.0.0" in warnings[0]
    assert "--auth-token" in warnings[0]


def test_other_addresses_with_token_and_tls_print_no_warning(tmp_path: Path, pki: Pki) -> None:
    result = _serve(
        tmp_path,
        "--host",
        "0.0.0.0",
        "--auth-token",
        TOKEN,
        "--tls-cert",
        str(pki.server_cert),
        "--tls-key",
        str(pki.server_key),
    )
    assert result.returncode == 0, result.stderr
    assert "warning" not in result.stderr
    assert "https://" in result.stdout


@pytest.mark.parametrize(
    "args",
    [
        ["--tls-cert", "{cert}"],
        ["--tls-key", "{key}"],
        ["--tls-cert", "{cert}", "--tls-key", "{missing}"],
        ["--tls-cert", "{key}", "--tls-key", "{key}"],
        ["--tls-cert", "{cert}", "--tls-key", "{other_key}"],
        ["--tls-client-ca", "{cert}"],
    ],
)
def test_unusable_tls_options_are_one_line_errors(
    tmp_path: Path, pki: Pki, args: list[str]
) -> None:
    values = {
        "cert": pki.server_cert,
        "key": pki.server_key,
        "missing": tmp_path / "missing.pem",
        "other_key": pki.client_key,
    }
    filled = [arg.format(**values) for arg in args]
    result = subprocess.run(
        [
            *OTELWATCH,
            "serve",
            "--db",
            str(tmp_path / "x.duckdb"),
            "--grpc-port",
            "0",
            "--http-port",
            "0",
            *filled,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "x.duckdb").exists()  # refused before anything was created
