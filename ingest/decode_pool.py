"""Decoding in worker processes, so ingest can use more than one core.

CPython runs one thread of Python at a time. Measured on this project's 2-core machine with
gRPC traces in batches of 500, the server used 99% of one core and left the other idle: decoding
(flattening and encoding attributes) and the writer took turns on the one interpreter. Decoding is
pure (bytes in, rows out), so it moves to worker processes; the listeners' threads wait on the
result with the interpreter released, and the main process keeps what must stay single: the
listeners, the one writer, the database. A decoded batch crosses back by pickle, which costs
about a microsecond a span against ten to forty to decode it.

Workers come from a fork server (a clean process started for this, not a fork of the running
server with its threads). Before any of that, the pool checks that this interpreter can be run
at all (see :func:`_check_interpreter_runs`). If a worker dies, the pool is replaced and the
request tried once more; a request that kills the new pool too is refused as undecodable, so one
poisonous request cannot take the others down or be retried forever.
"""

from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.spawn
import os
import subprocess
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


def _check_interpreter_runs() -> None:
    """Raise :class:`OSError` if a new process of this Python interpreter cannot be started.

    The fork server, multiprocessing's resource tracker and so every worker are new runs of
    the interpreter. Where the system will not run it (an executable this user may not reach, a
    sandbox), multiprocessing learns it late: the tracker dies after some semaphores were
    registered with it, and when those are collected each prints a traceback on stderr, at a
    moment that depends on scheduling. Checking first, with the same executable, turns that into
    one clear reason and leaves multiprocessing untouched.
    """
    # Bytes when set by multiprocessing.set_executable; a str reads better in the warning.
    executable = os.fsdecode(multiprocessing.spawn.get_executable())
    # -I -S: no site, no environment, so the check costs ~10 ms, not an interpreter's full start.
    result = subprocess.run(
        [executable, "-I", "-S", "-c", ""],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        timeout=60,
        check=False,
    )
    if result.returncode != 0:
        raise OSError(f"{executable} exited with status {result.returncode}")


class DecodePool:
    """A :class:`Decoding` run in ``workers`` processes; called like the Decoding itself.

    Until the workers are up (:meth:`start` returned), and for good if they cannot be started,
    calls decode in the calling thread instead: starting a fork server and its workers takes
    most of a second, which otelwatch's first frame should not wait for.
    """

    def __init__(self, decoding: Decoding, workers: int) -> None:
        if workers < 1:
            raise ValueError("a decode pool needs at least one worker")
        self._decoding = decoding
        self._workers = workers
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._starter: threading.Thread | None = None
        # Made by start(): making one already talks to the fork server, which can fail (a
        # system that forbids it), and the caller of the constructor must not see that.
        self._executor: ProcessPoolExecutor | None = None

    def _new_executor(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            self._workers,
            mp_context=_context(),
            initializer=_start_worker,
            initargs=(self._decoding,),
        )

    @property
    def ready(self) -> bool:
        """Whether requests go to the worker processes (else they are decoded in the caller)."""
        return self._ready.is_set()

    def start(self) -> None:
        """Start every worker now and wait for them; from then on calls go to the workers.

        Raises :class:`OSError` if this interpreter cannot be run as a new process.
        """
        _check_interpreter_runs()
        with self._lock:
            if self._executor is None:
                self._executor = self._new_executor()
            executor = self._executor
        futures = [
            executor.submit(_decode_in_worker, Signal.TRACES, Encoding.PROTOBUF, b"", 0)
            for _ in range(self._workers)
        ]
        for future in futures:
            future.result()
        self._ready.set()

    def start_in_background(self) -> threading.Thread:
        """Start the workers from a thread; calls decode in the caller until they are up.

        Workers only make ingest faster, so if they cannot start (a system that does not let
        a process start copies of its interpreter, a sandbox), this says so once and decoding
        stays in the server's own threads.
        """

        def start() -> None:
            try:
                self.start()
            except Exception as exc:  # any reason at all: decoding here is always possible
                log.warning(
                    "decoding in the server itself: decoder processes did not start (%s)", exc
                )
                with self._lock:
                    if self._executor is not None:
                        self._executor.shutdown(wait=False, cancel_futures=True)

        self._starter = threading.Thread(target=start, name="otelwatch-decode-start", daemon=True)
        self._starter.start()
        return self._starter

    def __call__(
        self, signal: Signal, encoding: Encoding, body: bytes, received_ns: int
    ) -> RowBatch:
        """Decode in a worker; raises :class:`DecodeError` as the Decoding does."""
        if not self._ready.is_set():
            return self._decoding(signal, encoding, body, received_ns)
        for _attempt in range(2):
            executor = self._executor
            assert executor is not None  # ready
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
        if self._starter is not None:
            self._starter.join()
        with self._lock:
            if self._executor is not None:
                self._executor.shutdown(wait=True, cancel_futures=True)
