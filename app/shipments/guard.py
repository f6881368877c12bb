"""app room: the per-request gate: rate-limit decision (Redis, else in-process) and the
read-your-writes marker, fetched in one Redis round trip.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import redis.asyncio as aioredis

from .cache import LuaScript, RedisLink
from .metrics import METRICS
from .ratelimit import (
    SLIDING_WINDOW_LUA,
    WINDOW_SECONDS,
    Decision,
    LocalSlidingWindow,
    decision_from_redis,
    redis_member,
)


class Guard:
    def __init__(self, link: RedisLink, ryw_seconds: float):
        self.link = link
        self.ryw_seconds = ryw_seconds
        self.local = LocalSlidingWindow()
        self._script = LuaScript(SLIDING_WINDOW_LUA)
        # Recent writers seen by this process; Redis shares the marker with the other processes.
        self._recent_writers: OrderedDict[str, float] = OrderedDict()

    async def check(self, scope: str, ident: str, limit: int, client: str | None = None) -> tuple[Decision, bool]:
        """(rate-limit decision, whether `client`'s reads must go to the primary: it wrote within the
        read-your-writes window, or Redis cannot tell)."""
        key = f"rl:{scope}:{ident}"

        async def run(redis: aioredis.Redis) -> list[Any]:
            def fill(pipe: Any) -> None:
                self._script.queue(pipe, [key], [limit, WINDOW_SECONDS * 1000, redis_member()])
                if client is not None:
                    pipe.exists(f"ryw:{client}")

            return await self._script.run_pipeline(redis, fill)

        ok, result = await self.link.call(run)
        if ok:
            decision = decision_from_redis(result[0], limit)
            recent = bool(client is not None and result[1])
            backend = "redis"
        else:
            decision = self.local.hit(key, limit)
            # Without Redis this process cannot know about writes made through the others, so every
            # read goes to the primary: read-your-writes holds, at the cost of primary load.
            recent = client is not None
            backend = "local"
        if client is not None and not recent:
            until = self._recent_writers.get(client)
            recent = until is not None and until > time.monotonic()
        if not decision.allowed:
            METRICS.block(scope, backend)
        return decision, recent

    def mark_write(self, client: str) -> Callable[[Any], None]:
        """Note that `client` just wrote; returns the Redis command to queue into the write's
        pipeline so the other app processes route its reads to the primary too."""
        ms = int(self.ryw_seconds * 1000)
        if ms > 0:
            self._recent_writers[client] = time.monotonic() + self.ryw_seconds
            self._recent_writers.move_to_end(client)
            while len(self._recent_writers) > 10000:
                self._recent_writers.popitem(last=False)

        def queue(pipe: Any) -> None:
            if ms > 0:
                pipe.set(f"ryw:{client}", 1, px=ms)

        return queue
