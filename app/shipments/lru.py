"""app room: the in-process L1 cache: a bounded LRU with per-entry TTL and version tombstones.

Tombstones make it safe against a late fill: after an invalidation for version N, a concurrent
read that fetched version < N (e.g. from a lagging replica) cannot re-populate the stale value.
cachetools has LRU/TTL but not version-aware fills, hence this small class.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any


class VersionedLRU:
    def __init__(self, maxsize: int = 500, ttl: float = 300.0, clock: Callable[[], float] = time.monotonic):
        if maxsize < 1:
            raise ValueError("maxsize must be >= 1")
        self.maxsize = maxsize
        self.ttl = ttl
        self._clock = clock
        # key -> (value or None for a tombstone, version, expires_at)
        self._data: OrderedDict[str, tuple[Any, int, float]] = OrderedDict()

    def __len__(self) -> int:
        return sum(1 for v, _, _ in self._data.values() if v is not None)

    def get(self, key: str) -> Any | None:
        entry = self._data.get(key)
        if entry is None:
            return None
        value, _, expires = entry
        if expires <= self._clock():
            del self._data[key]
            return None
        if value is None:
            return None
        self._data.move_to_end(key)
        return value

    def set(self, key: str, value: Any, version: int, ttl: float | None = None) -> bool:
        """Store value unless a newer version (or a tombstone of a newer version) is already known;
        `ttl` shortens the entry's life below the cache's (never lengthens it)."""
        current = self._data.get(key)
        now = self._clock()
        if current is not None and current[2] > now and current[1] > version:
            return False
        life = self.ttl if ttl is None else min(self.ttl, ttl)
        self._data[key] = (value, version, now + life)
        self._data.move_to_end(key)
        while len(self._data) > self.maxsize:
            self._data.popitem(last=False)
        return True

    def invalidate(self, key: str, version: int | None = None) -> None:
        """Drop key; with a version, refuse later fills older than it for one TTL."""
        if version is None:
            self._data.pop(key, None)
            return
        current = self._data.get(key)
        now = self._clock()
        # A value or a tombstone of this version or newer already says more: invalidations may
        # arrive out of order (two writes' notices from two pipelines), and an older tombstone
        # would let a fill of a version between the two back in.
        if current is not None and current[2] > now and current[1] >= version:
            return
        self._data[key] = (None, version, now + self.ttl)
        self._data.move_to_end(key)
        while len(self._data) > self.maxsize:
            self._data.popitem(last=False)

    def clear(self) -> None:
        self._data.clear()
