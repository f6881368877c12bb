"""app room: rate limits: a sliding-window log in Redis (server clock, one Lua call) and an
in-process fallback with the same semantics for when Redis is unreachable.

The `limits` library would fit but its coredis dependency clashes with pulumi's pins, so the
window is a short Lua script. Using redis.call('TIME') makes all app processes share one clock.
"""

from __future__ import annotations

import math
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass

WINDOW_SECONDS = 60

# KEYS[1]: the window's sorted set. ARGV: limit, window_ms, unique member ('' only looks: the
# failed-authentication throttle asks before a lookup and counts only failures).
# Returns {allowed (0/1), remaining, ms until a slot frees (0 when one is free now)}.
SLIDING_WINDOW_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])
local allowed = 0
if count < limit then
  allowed = 1
  if ARGV[3] ~= '' then
    redis.call('ZADD', KEYS[1], now, ARGV[3])
    count = count + 1
  end
end
redis.call('PEXPIRE', KEYS[1], window)
local reset = 0
if count >= limit then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  reset = tonumber(oldest[2]) + window - now
end
return {allowed, limit - count, reset}
"""


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset_seconds: int  # seconds until at least one more request is allowed (0 if allowed now)

    def headers(self) -> dict[str, str]:
        headers = {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(max(self.remaining, 0)),
            "RateLimit-Reset": str(self.reset_seconds),
            "RateLimit-Policy": f"{self.limit};w={WINDOW_SECONDS}",
        }
        if not self.allowed:
            headers["Retry-After"] = str(max(self.reset_seconds, 1))
        return headers

    def raw_headers(self) -> list[tuple[bytes, bytes]]:
        """headers() as ASGI header pairs (lower-case names), built without a dict per request."""
        raw = [
            (b"ratelimit-limit", b"%d" % self.limit),
            (b"ratelimit-remaining", b"%d" % max(self.remaining, 0)),
            (b"ratelimit-reset", b"%d" % self.reset_seconds),
            (b"ratelimit-policy", b"%d;w=%d" % (self.limit, WINDOW_SECONDS)),
        ]
        if not self.allowed:
            raw.append((b"retry-after", b"%d" % max(self.reset_seconds, 1)))
        return raw


def decision_from_redis(result: list[int], limit: int) -> Decision:
    allowed, remaining, reset_ms = (int(x) for x in result)
    return Decision(bool(allowed), limit, remaining, math.ceil(max(reset_ms, 0) / 1000))


def redis_member() -> str:
    return uuid.uuid4().hex


class LocalSlidingWindow:
    """The fallback: per-process sliding-window log, bounded in the number of keys it tracks."""

    def __init__(self, max_keys: int = 10000, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._max_keys = max_keys
        self._logs: OrderedDict[str, deque[float]] = OrderedDict()

    def hit(self, key: str, limit: int, window: float = WINDOW_SECONDS, record: bool = True) -> Decision:
        """Count a request (or with record=False only ask whether one would be allowed)."""
        now = self._clock()
        log = self._logs.get(key)
        if log is None:
            log = self._logs[key] = deque()
            while len(self._logs) > self._max_keys:
                self._logs.popitem(last=False)
        self._logs.move_to_end(key)
        while log and log[0] <= now - window:
            log.popleft()
        allowed = len(log) < limit
        if allowed and record:
            log.append(now)
        reset = 0
        if len(log) >= limit:
            reset = math.ceil(log[0] + window - now)
        return Decision(allowed, limit, limit - len(log), max(reset, 0))
