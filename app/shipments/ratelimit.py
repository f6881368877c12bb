"""app room: rate limits: a sliding-window log in Redis (server clock, one Lua call) from which each
process reserves permits in small batches (leases), and an in-process fallback with the same
semantics for when Redis is unreachable.

The `limits` library would fit but its coredis dependency clashes with pulumi's pins, so the
window is a short Lua script. Using redis.call('TIME') makes all app processes share one clock.

Leases. Asking Redis for every request puts a Redis round trip on every request's path. Instead a
process that sees a key busy reserves a few permits ahead in one call (they enter the shared window
at once, so other processes see them as spent) and hands them out locally for up to LEASE_SECONDS;
what is left then goes back (ZREM). A lease never holds more than lease_extra_max(limit) permits
beyond the requests waiting for it, so:

- Redis never grants more than `limit` permits in any window: other processes never over-admit
  because of this one;
- a permit is used at most LEASE_SECONDS after it entered the window, so in any 60-s window a key is
  admitted at most `limit + P * lease_extra_max(limit)` times with P processes serving it (a lease
  taken just before the window began and spent in it) — reads at 100/min: 4 per process;
- and at most that many of its requests are refused early (permits another process holds).

Limits under 40 per window (writes, inquiries, failed authentications) get no extra permits: each
request asks Redis, and the count is exact. A key starts with leases of one permit (exact, as
before), a process grows a key's leases only while it uses them up within a lease's lifetime, and a
key quiet for longer than that starts again from one.
"""

from __future__ import annotations

import contextlib
import math
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass

WINDOW_SECONDS = 60
# Unused leased permits go back after this; it also bounds how late a permit can be used.
LEASE_SECONDS = 1.0
LEASE_MAX = 100

# KEYS[1]: the window's sorted set. ARGV: limit, window_ms, need, extra, member prefix.
# Grants up to `need` permits, then up to `extra` more but never more than a quarter of what is
# still free (so near the limit one process cannot take the last permits ahead of the others);
# `need` = 0 only looks (the failed-authentication throttle asks before a lookup and counts only
# failures). Members are "<prefix>:<n>", n = 1..granted, all scored now.
# Returns {granted, remaining after granting, ms until a slot frees (0 when one is free now)}.
RESERVE_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])
local free = math.max(limit - count, 0)
local granted = math.min(tonumber(ARGV[3]), free)
granted = granted + math.min(tonumber(ARGV[4]), math.floor((free - granted) / 4))
if granted > 0 then
  local args = {}
  for i = 1, granted do
    args[#args + 1] = now
    args[#args + 1] = ARGV[5] .. ':' .. i
  end
  redis.call('ZADD', KEYS[1], unpack(args))
  count = count + granted
end
redis.call('PEXPIRE', KEYS[1], window)
local reset = 0
if count >= limit then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  reset = tonumber(oldest[2]) + window - now
end
return {granted, limit - count, reset}
"""


def lease_extra_max(limit: int) -> int:
    """Permits a process may hold ahead for one key: a twentieth of the limit, at most LEASE_MAX - 1,
    none below 40 per window."""
    return max(0, min(LEASE_MAX, limit // 20) - 1)


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


def decision_from_redis(result: list[int], limit: int, *, looked: bool = False) -> Decision:
    """The decision for one request from RESERVE_LUA's answer (granted, remaining, reset ms); with
    `looked` the call only looked (need 0): allowed when a permit is free."""
    granted, remaining, reset_ms = (int(x) for x in result)
    allowed = remaining > 0 if looked else granted > 0
    return Decision(allowed, limit, remaining, math.ceil(max(reset_ms, 0) / 1000))


def redis_member() -> str:
    return uuid.uuid4().hex


class Lease:
    """Permits of one key reserved from the shared window and not used yet, in this process."""

    __slots__ = ("expires", "left", "prefix", "remaining", "reset_at", "size", "taken")

    def __init__(self) -> None:
        self.prefix = ""
        self.left = 0  # unused permits
        self.taken = 0  # permits granted by the last reservation
        self.remaining = 0  # what Redis said was left in the window after that reservation
        self.reset_at = 0.0  # monotonic time a slot frees, when the window was full
        self.expires = 0.0
        self.size = 0  # permits to ask for ahead next time (grows while leases are used up in time)

    def grant(self, granted: int, remaining: int, reset_ms: int, prefix: str, now: float) -> None:
        self.prefix, self.left, self.taken = prefix, granted, granted
        self.remaining = remaining
        self.reset_at = now + reset_ms / 1000 if reset_ms > 0 else 0.0
        self.expires = now + LEASE_SECONDS

    def take(self, limit: int, now: float) -> Decision:
        """Use one permit of the lease (the caller checked `left`)."""
        self.left -= 1
        remaining = self.remaining + self.left
        reset = math.ceil(max(self.reset_at - now, 0.0)) if remaining <= 0 else 0
        return Decision(True, limit, remaining, reset)

    def unused(self) -> list[str]:
        """Members of the permits not used: the last `left` of the reservation."""
        return [f"{self.prefix}:{n}" for n in range(self.taken - self.left + 1, self.taken + 1)]


class LocalSlidingWindow:
    """The fallback: per-process sliding-window log, bounded in the number of keys it tracks."""

    def __init__(self, max_keys: int = 10000, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._max_keys = max_keys
        self._logs: OrderedDict[str, deque[float]] = OrderedDict()

    def hit(
        self, key: str, limit: int, window: float = WINDOW_SECONDS, record: bool = True, now: float | None = None
    ) -> Decision:
        """Count a request (or with record=False only ask whether one would be allowed)."""
        now = self._clock() if now is None else now
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

    def forget(self, key: str, stamp: float) -> None:
        """Take back one request counted at `stamp` (a reservation that turned out not to count)."""
        log = self._logs.get(key)
        if log is not None:
            # Already out of the window: nothing to take back.
            with contextlib.suppress(ValueError):
                log.remove(stamp)
