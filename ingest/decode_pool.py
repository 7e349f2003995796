"""Decoding in worker processes, so ingest can use more than one core.

CPython runs one thread of Python at a time. Measured on this project's 2-core machine with
gRPC traces in batches of 500, the server used 99% of one core and left the other idle: decoding
(flattening and encoding attributes) and the writer took turns on the one interpreter. Decoding is
pure (bytes in, rows out), so it moves to worker processes; the listeners' threads wait on the
result with the interpreter released, and the main process keeps what must stay single: the
listeners, the one writer, the database. A decoded batch crosses back by pickle, which costs
about a microsecond a span against ten to forty to decode it.

Workers come from a fork server (a clean process started for this, not a fork of the running
server with its threads). If a worker dies, the pool is replaced and the request tried once more;
a request that kills the new pool too is refused as undecodable, so one poisonous request cannot
take the others down or be retried forever.
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from otelwatch.ingest.decoding import Decoding
from otelwatch.ingest.errors import DecodeError
from otelwatch.ingest.signals import Encoding, Signal
from otelwatch.store.arrow_rows import pack
from otelwatch.store.rows import RowBatch

log = logging.getLogger(__name__)

# Set in each worker by the pool's initializer.
_worker_decoding: Decoding | None = None


def _start_worker(decoding: Decoding) -> None:
    global _worker_decoding  # noqa: PLW0603 - one per worker process, set once at its start
    _worker_decoding = decoding


def _decode_in_worker(
    signal: Signal, encoding: Encoding, body: bytes, received_ns: int
) -> RowBatch:
    assert _worker_decoding is not None
    return pack(_worker_decoding(signal, encoding, body, received_ns))


def _context() -> multiprocessing.context.BaseContext:
    method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
    context = multiprocessing.get_context(method)
    if method == "forkserver":
        # The fork server imports the decoders once; each worker forks from it ready to work.
        context.set_forkserver_preload(["otelwatch.ingest.decoding", "otelwatch.store.arrow_rows"])
    return context


class DecodePool:
    """A :class:`Decoding` run in ``workers`` processes; called like the Decoding itself."""

    def __init__(self, decoding: Decoding, workers: int) -> None:
        if workers < 1:
            raise ValueError("a decode pool needs at least one worker")
        self._decoding = decoding
        self._workers = workers
        self._lock = threading.Lock()
        self._executor = self._new_executor()

    def _new_executor(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            self._workers,
            mp_context=_context(),
            initializer=_start_worker,
            initargs=(self._decoding,),
        )

    def start(self) -> None:
        """Start every worker now, so the first requests do not wait for them."""
        futures = [
            self._executor.submit(_decode_in_worker, Signal.TRACES, Encoding.PROTOBUF, b"", 0)
            for _ in range(self._workers)
        ]
        for future in futures:
            future.result()

    def __call__(
        self, signal: Signal, encoding: Encoding, body: bytes, received_ns: int
    ) -> RowBatch:
        """Decode in a worker; raises :class:`DecodeError` as the Decoding does."""
        for _attempt in range(2):
            executor = self._executor
            try:
                return executor.submit(
                    _decode_in_worker, signal, encoding, body, received_ns
                ).result()
            except BrokenProcessPool:
                self._replace(executor)
        raise DecodeError("the request made the decoder fail twice; it is refused")

    def _replace(self, broken: ProcessPoolExecutor) -> None:
        with self._lock:
            if self._executor is not broken:
                return  # another thread replaced it already
            log.error("a decoder process died; starting new ones")
            broken.shutdown(wait=False, cancel_futures=True)
            self._executor = self._new_executor()

    def close(self) -> None:
        """Stop the workers (after the receiver has finished its requests)."""
        with self._lock:
            self._executor.shutdown(wait=True, cancel_futures=True)


def start_pool(decoding: Decoding, workers: int) -> DecodePool | None:
    """A started pool, or ``None`` when worker processes cannot be started here.

    Some systems do not let a process start copies of its interpreter (a restricted account, a
    sandbox). Workers only make ingest faster, so then the server decodes in its own threads
    and says so once, instead of refusing to start.
    """
    pool = None
    try:
        pool = DecodePool(decoding, workers)
        pool.start()
    except Exception as exc:  # any reason at all: decoding here is always possible
        log.warning("decoding in the server itself: decoder processes did not start (%s)", exc)
        if pool is not None:
            pool.close()
        return None
    return pool
