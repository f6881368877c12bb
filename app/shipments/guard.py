"""app room: the per-request gate: rate-limit decision (Redis, else in-process) and the
read-your-writes marker, fetched in one Redis round trip shared by concurrent requests; and the
failed-authentication throttle per client address, asked before any key lookup.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

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
        self._pending: list[tuple[str, int, str | None, asyncio.Future[tuple[bool, Any, Any]]]] = []
        self._flushes: set[asyncio.Task[None]] = set()
        # Addresses known to be over the failed-authentication limit, until when (monotonic): a
        # client hammering with bad keys then costs this process no Redis call either.
        self._auth_blocked: OrderedDict[str, float] = OrderedDict()

    async def auth_failure(self, client: str, limit: int, *, record: bool) -> Decision:
        """The failed-authentication throttle of `client` (an address): with record=False, may it
        still try a key that needs a lookup? With record=True, count a failure (refused once over
        the limit). Failures only are counted: a client with good keys is never slowed down."""
        key = f"rl:authfail:{client}"
        now = time.monotonic()
        until = self._auth_blocked.get(key)
        if until is not None:
            if until > now:
                return Decision(False, limit, 0, max(1, math.ceil(until - now)))
            del self._auth_blocked[key]
        member = redis_member() if record else ""

        def fill(pipe: Any) -> None:
            self._script.queue(pipe, [key], [limit, WINDOW_SECONDS * 1000, member])

        ok, results = await self.link.call(lambda redis: self._script.run_pipeline(redis, fill))
        if ok:
            decision = decision_from_redis(results[0], limit)
            backend = "redis"
        else:
            decision = self.local.hit(key, limit, record=record)
            backend = "local"
        if not decision.allowed:
            METRICS.block("auth", backend)
            self._auth_blocked[key] = now + max(decision.reset_seconds, 1)
            self._auth_blocked.move_to_end(key)
            while len(self._auth_blocked) > 10000:
                self._auth_blocked.popitem(last=False)
        return decision

    async def check(self, scope: str, ident: str, limit: int, client: str | None = None) -> tuple[Decision, bool]:
        """(rate-limit decision, whether `client`'s reads must go to the primary: it wrote within the
        read-your-writes window, or Redis cannot tell)."""
        key = f"rl:{scope}:{ident}"

        ok, rl_result, ryw_result = await self._batched(key, limit, client)
        if ok:
            decision = decision_from_redis(rl_result, limit)
            recent = bool(client is not None and ryw_result)
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

    async def _batched(self, key: str, limit: int, client: str | None) -> tuple[bool, Any, Any]:
        """Checks of concurrent requests go to Redis together: one pipeline per event-loop turn
        instead of one per request (redis-py's per-pipeline cost is most of a cached GET)."""
        future: asyncio.Future[tuple[bool, Any, Any]] = asyncio.get_running_loop().create_future()
        self._pending.append((key, limit, client, future))
        if len(self._pending) == 1:
            asyncio.get_running_loop().call_soon(self._start_flush)
        return await future

    def _start_flush(self) -> None:
        batch, self._pending = self._pending, []
        task = asyncio.create_task(self._flush(batch))
        self._flushes.add(task)
        task.add_done_callback(self._flushes.discard)

    async def _flush(self, batch: list[tuple[str, int, str | None, asyncio.Future[tuple[bool, Any, Any]]]]) -> None:
        def fill(pipe: Any) -> None:
            for key, limit, client, _ in batch:
                self._script.queue(pipe, [key], [limit, WINDOW_SECONDS * 1000, redis_member()])
                pipe.exists(f"ryw:{client}" if client is not None else "ryw:-")

        try:
            ok, results = await self.link.call(lambda redis: self._script.run_pipeline(redis, fill))
        except BaseException as exc:  # never leave a request waiting
            for *_, future in batch:
                if not future.done():
                    future.set_exception(exc)
            raise
        for i, (*_, future) in enumerate(batch):
            if not future.done():  # the request may have been cancelled meanwhile
                future.set_result((True, results[2 * i], results[2 * i + 1]) if ok else (False, None, None))

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
