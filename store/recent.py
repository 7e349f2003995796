"""Bounded memory of recently seen keys, for dropping exporter retries before they are stored."""

from __future__ import annotations

from collections.abc import Hashable


class RecentKeys:
    """A set that remembers at least the last ``capacity // 2`` keys added, in O(1) per key.

    Two generations: when the young one is full it becomes the old one and the previous old one
    is forgotten. This keeps memory bounded without per-key bookkeeping, which matters on the
    writer's hot path. Keys are reduced to Python's 64-bit ``hash`` to keep them small; a false
    "seen" needs a 64-bit collision between two live keys.
    """

    __slots__ = ("_half", "_old", "_young")

    def __init__(self, capacity: int) -> None:
        self._half = max(1, capacity // 2)
        self._young: set[int] = set()
        self._old: set[int] = set()

    def __contains__(self, key: Hashable) -> bool:
        h = hash(key)
        return h in self._young or h in self._old

    def add(self, key: Hashable) -> None:
        """Remember ``key``."""
        self._young.add(hash(key))
        if len(self._young) >= self._half:
            self._old = self._young
            self._young = set()

    def __len__(self) -> int:
        return len(self._young) + len(self._old)
