"""Feeds the simulator's Claude Code telemetry to an otelwatch listener, paced by the clock.

Used by ``otelwatch demo``: a background thread sends real OTLP requests (gRPC, HTTP/protobuf
and HTTP/JSON, one transport per simulated session, as different Claude Code processes would)
to the demo's own listeners, so everything a user sees went through the same path as real
telemetry. Simulated time runs ``speed`` times faster than the wall clock; :meth:`DemoFeed.now_ns`
is the simulated time, which the dashboard uses as its clock so "5 minutes ago" means five
simulated minutes.
"""

from __future__ import annotations

import http.client
import logging
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import grpc

from otelwatch.ingest.otlp_json_encode import encode as encode_json
from otelwatch.simulator import Export, Simulator

log = logging.getLogger(__name__)

_GRPC_METHODS = {
    "traces": "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
    "metrics": "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
    "logs": "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
}
TRANSPORTS = ("grpc", "http/protobuf", "http/json")
# How often the feed wakes to send what simulated time has made due.
STEP_S = 0.1
# A refused export (the store is busy) is retried this many times, as an OTLP exporter would.
RETRIES = 5


def transport_of(session_id: str) -> str:
    """The transport a simulated session exports with (stable per session)."""
    return TRANSPORTS[zlib.crc32(session_id.encode()) % len(TRANSPORTS)]


@dataclass(slots=True)
class FeedStats:
    """What the feed has sent so far."""

    requests: int = 0
    items: int = 0
    failed: int = 0


class DemoFeed:
    """Sends ``simulator``'s exports to ``grpc_address`` / ``http_address`` from a thread.

    ``backfill_s`` seconds of simulated history are sent at once when it starts (so the
    dashboard is not empty), then time runs at ``speed`` simulated seconds per second.
    """

    def __init__(
        self,
        simulator: Simulator,
        grpc_address: str,
        http_address: str,
        *,
        speed: float = 1.0,
        backfill_s: float = 0.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self._sim = simulator
        self._grpc_address = grpc_address
        self._http_address = http_address
        self._speed = speed
        self._backfill_ns = int(backfill_s * 1e9)
        self._monotonic = monotonic
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="otelwatch-demo-feed", daemon=True)
        self._origin_sim_ns = simulator.now_ns + self._backfill_ns
        self._origin_real = monotonic()
        self._channel: grpc.Channel | None = None
        self._http: http.client.HTTPConnection | None = None
        self.stats = FeedStats()
        self.backfilled = threading.Event()
        """Set once the backfill has been sent (and acknowledged, so stored)."""

    def now_ns(self) -> int:
        """The simulated time now: the dashboard's clock."""
        elapsed = self._monotonic() - self._origin_real
        return self._origin_sim_ns + int(elapsed * self._speed * 1e9)

    def start(self) -> None:
        """Send the backfill, then keep sending in the background until :meth:`stop`."""
        self._origin_real = self._monotonic()
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop sending (the request in flight completes) and close the connections."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    # ------------------------------------------------------------------ the thread

    def _run(self) -> None:
        host, port = self._http_address.rsplit(":", 1)
        self._channel = grpc.insecure_channel(self._grpc_address)
        self._http = http.client.HTTPConnection(host, int(port), timeout=30)
        try:
            for export in self._sim.advance_to(self._origin_sim_ns):
                if self._stop.is_set():
                    return
                self.send(export)
            self.backfilled.set()
            while not self._stop.wait(STEP_S):
                for export in self._sim.advance_to(self.now_ns()):
                    if self._stop.is_set():
                        return
                    self.send(export)
        except Exception:
            log.exception("the demo feed stopped")
        finally:
            self._channel.close()
            self._http.close()

    def send(self, export: Export) -> bool:
        """Send one export over its session's transport, retrying refusals; whether it landed."""
        transport = transport_of(export.session_id)
        for attempt in range(RETRIES + 1):
            if self._stop.is_set():
                return False
            try:
                ok = self._send_once(export, transport)
            except (OSError, http.client.HTTPException, grpc.RpcError) as exc:
                log.debug("demo export failed: %s", exc)
                ok = False
                self._reconnect_http()
            if ok:
                self.stats.requests += 1
                self.stats.items += export.items
                return True
            self._stop.wait(min(2.0, 0.1 * 2**attempt))
        self.stats.failed += 1
        return False

    def _send_once(self, export: Export, transport: str) -> bool:
        if transport == "grpc":
            assert self._channel is not None
            # Raw bytes both ways: the body is already a serialized request.
            call = self._channel.unary_unary(
                _GRPC_METHODS[export.signal],
                request_serializer=None,
                response_deserializer=None,
            )
            call(export.body(), timeout=30)
            return True
        assert self._http is not None
        if transport == "http/json":
            body, content_type = encode_json(export.request), "application/json"
        else:
            body, content_type = export.body(), "application/x-protobuf"
        self._http.request(
            "POST", f"/v1/{export.signal}", body=body, headers={"Content-Type": content_type}
        )
        response = self._http.getresponse()
        response.read()
        return response.status == 200

    def _reconnect_http(self) -> None:
        if self._http is not None:
            self._http.close()
