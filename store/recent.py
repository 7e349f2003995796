"""Bounded memory of recently seen keys, for dropping exporter retries before they are stored."""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable

# Exporters retry within seconds to a minute (the OpenTelemetry SDKs give up after their export
# time-out and a few backed-off attempts); a retry after a restart reaches a new process, whose
# memory is empty anyway. So keys need remembering for about two minutes, not longer.
DEFAULT_MAX_AGE_S = 120.0


class RecentKeys:
    """A set that remembers keys for a while, bounded both in count and in age, O(1) per key.

    Two generations: the young one takes new keys; when it holds ``capacity // 2`` keys or is
    ``max_age_s / 2`` old, it becomes the old one and the previous old one is forgotten. So a key
    is remembered for at least ``max_age_s / 2`` seconds (and at least the last
    ``capacity // 2`` keys are), for at most ``max_age_s``, and memory stays proportional to the
    traffic of the last two minutes, capped by ``capacity``. No per-key bookkeeping: this runs
    on the writer's hot path. Keys are reduced to Python's 64-bit ``hash``; a false "seen" needs
    a 64-bit collision between two live keys.
    """

    __slots__ = ("_born", "_clock", "_half", "_half_age", "_old", "_young")

    def __init__(
        self,
        capacity: int,
        max_age_s: float = DEFAULT_MAX_AGE_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._half = max(1, capacity // 2)
        self._half_age = max_age_s / 2
        self._clock = clock
        self._young: set[int] = set()
        self._old: set[int] = set()
        self._born = clock()

    def __contains__(self, key: Hashable) -> bool:
        h = hash(key)
        return h in self._young or h in self._old

    def add(self, key: Hashable) -> None:
        """Remember ``key``."""
        self._young.add(hash(key))
        if len(self._young) >= self._half:
            self._rotate()

    def expire(self) -> None:
        """Forget by age; called once per commit, not per key, because it reads the clock."""
        if self._clock() - self._born >= self._half_age:
            self._rotate()

    def _rotate(self) -> None:
        self._old = self._young
        self._young = set()
        self._born = self._clock()

    def __len__(self) -> int:
        return len(self._young) + len(self._old)
