"""app room: the per-request gate: the rate-limit decision (permits leased from the shared Redis
window, ratelimit.py; in process when Redis is down) and the read-your-writes marker, the Redis
part of both fetched in one round trip shared by concurrent requests; and the failed-authentication
throttle per client address, asked before any key lookup.

A request waits for Redis only when it needs something only Redis knows: a permit when its key's
lease is spent, or, for a read by a key that can write, whether that key wrote in the last
READ_YOUR_WRITES_SECONDS through any process. A read by a key that holds a leased permit and cannot
write (a reader) does not wait at all; writes never ask for the marker (they go to the primary).
"""

from __future__ import annotations

import asyncio
import math
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from .auth import Principal
from .cache import Command, Part, RedisLink
from .metrics import METRICS
from .ratelimit import (
    LEASE_SECONDS,
    RESERVE_LUA,
    WINDOW_SECONDS,
    Decision,
    Lease,
    LocalSlidingWindow,
    decision_from_redis,
    lease_extra_max,
    redis_member,
)

MAX_KEYS = 10000
# A refused failed-authentication reservation asks again after these pauses (seconds) when this
# process has no lookup of that address to wait for: other processes' lookups of good keys may
# hold slots they are about to give back. Costs a refused request ~0.35 s and 3 Redis calls.
AUTH_RETRY_DELAYS = (0.05, 0.1, 0.2)
T = TypeVar("T")


@dataclass
class _Ask:
    """What the requests of one event-loop turn wait for from Redis."""

    # key -> (limit, futures of the requests that need a permit, in arrival order); each gets the
    # decision and who made it ("redis", or "local" when Redis could not be asked)
    permits: dict[str, tuple[int, list[asyncio.Future[tuple[Decision, str]]]]] = field(default_factory=dict)
    # client -> futures of the requests that need its read-your-writes marker
    markers: dict[str, list[asyncio.Future[bool]]] = field(default_factory=dict)
    # (key, members) of expired leases' unused permits, given back before any new reservation
    releases: list[tuple[str, list[str]]] = field(default_factory=list)


@dataclass(frozen=True)
class AuthTicket:
    """One reserved failed authentication: its member of the Redis window, or its local stamp."""

    key: str
    member: str | None
    stamp: float | None


class Guard:
    def __init__(self, link: RedisLink, ryw_seconds: float, window_seconds: float = WINDOW_SECONDS):
        self.link = link
        self.ryw_seconds = ryw_seconds
        # The API's windows are WINDOW_SECONDS long; a test may shorten them to watch edges pass.
        self.window = window_seconds
        self._window_ms = int(window_seconds * 1000)
        self.local = LocalSlidingWindow()
        self._script = link.script(RESERVE_LUA)
        self._leases: OrderedDict[str, Lease] = OrderedDict()
        self._holding: set[str] = set()  # keys whose lease may still hold unused permits
        # Recent writers seen by this process; Redis shares the marker with the other processes.
        self._recent_writers: OrderedDict[str, float] = OrderedDict()
        self._ask = _Ask()
        self._sweep: asyncio.TimerHandle | None = None
        # What this turn's requests wait for goes into the process's one pipeline per loop turn.
        link.contribute(self._part)
        # Addresses known to be over the failed-authentication limit, until when (monotonic): a
        # client hammering with bad keys then costs this process no Redis call either.
        self._auth_blocked: OrderedDict[str, float] = OrderedDict()
        # Lookups in flight per address (auth_lookup): what a refused reservation may wait for.
        self._auth_pending: dict[str, set[asyncio.Future[None]]] = {}

    async def auth_lookup(
        self, client: str, limit: int, lookup: Callable[[], Awaitable[T | None]]
    ) -> tuple[T | None, Decision | None]:
        """Run `lookup` (a key lookup for `client`, an address) under the failed-authentication
        throttle: (what it found, None), or (None, the refusal) without running it. A failure is
        reserved before the lookup and refunded when the key is found, so concurrent unknown keys
        cost at most `limit` lookups. A refusal while this process still has lookups of that
        address in flight waits for one to settle and asks again: their reservations may be
        refunds to come (good keys), so a burst of good keys is delayed, not refused."""
        key = f"rl:authfail:{client}"
        retries = list(AUTH_RETRY_DELAYS)
        while True:
            settling = self._auth_pending.get(key)
            decision, ticket = await self.auth_attempt(client, limit, block=not (settling or retries))
            if ticket is not None:
                break
            settling = self._auth_pending.get(key)
            if settling:
                await asyncio.wait(set(settling), return_when=asyncio.FIRST_COMPLETED)
            elif retries:
                # Other processes' lookups of this address may hold slots they will give back.
                await asyncio.sleep(retries.pop(0))
            else:
                return None, decision
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._auth_pending.setdefault(key, set()).add(done)
        try:
            found = await lookup()
            if found is not None:
                await self.refund_auth(ticket)
            return found, None
        finally:
            pending = self._auth_pending.get(key)
            if pending is not None:
                pending.discard(done)
                if not pending:
                    del self._auth_pending[key]
            done.set_result(None)

    async def auth_attempt(self, client: str, limit: int, *, block: bool = True) -> tuple[Decision, AuthTicket | None]:
        """Reserve one failed authentication of `client` (an address) BEFORE the key is looked up:
        (refused once over the limit, None) or (allowed, a ticket). Reserving first makes the
        bound hold under concurrency: N simultaneous unknown keys from one address cost at most
        `limit` lookups, not N. A lookup that finds the key gives its ticket back (refund_auth):
        only failures stay counted, so a client with good keys is never slowed down."""
        key = f"rl:authfail:{client}"
        now = time.monotonic()
        until = self._auth_blocked.get(key)
        if until is not None:
            if until > now:
                return Decision(False, limit, 0, max(1, math.ceil(until - now))), None
            del self._auth_blocked[key]

        member = redis_member()
        asked = [self._script.command([key], [limit, self._window_ms, 1, 0, member])]
        results = await self.link.batch(asked)
        ticket: AuthTicket | None = None
        if results is not None:
            decision = decision_from_redis(results[0], limit)
            backend = "redis"
            if decision.allowed:
                ticket = AuthTicket(key, f"{member}:1", None)
        else:
            stamp = time.monotonic()
            decision = self.local.hit(key, limit, self.window, record=True, now=stamp)
            backend = "local"
            if decision.allowed:
                ticket = AuthTicket(key, None, stamp)
        if not decision.allowed and block:
            METRICS.block("auth", backend)
            # For a second only: the window may be full of reservations of lookups still in flight
            # elsewhere that will be refunded (good keys), so Redis is asked again soon.
            self._auth_blocked[key] = now + 1
            self._auth_blocked.move_to_end(key)
            while len(self._auth_blocked) > MAX_KEYS:
                self._auth_blocked.popitem(last=False)
        return decision, ticket

    async def refund_auth(self, ticket: AuthTicket) -> None:
        """The looked-up key was good: its reservation is not a failure. Given back before the
        lookups waiting on this one ask again (auth_lookup), so they find the slot free."""
        if ticket.member is not None and await self.link.batch([("ZREM", ticket.key, ticket.member)]) is not None:
            return
        if ticket.stamp is not None:
            self.local.forget(ticket.key, ticket.stamp)

    async def admit(self, who: Principal, kind: str, limit: int) -> tuple[Decision, bool]:
        """check() for a request of `who` of `kind` ("read" or "write"). Only a read by a key that
        can write has a read-your-writes marker worth a Redis round trip; writes go to the primary."""
        marker = who.key_id if kind == "read" and who.allows("writer") else None
        return await self.check(kind, who.key_id, limit, client=marker)

    async def check(self, scope: str, ident: str, limit: int, client: str | None = None) -> tuple[Decision, bool]:
        """(rate-limit decision, whether `client`'s reads must go to the primary: it wrote within the
        read-your-writes window, or Redis cannot tell). Pass `client` only for reads by a key that
        can write: nobody else has a marker to look up."""
        key = f"rl:{scope}:{ident}"
        now = time.monotonic()
        lease = self._leases.get(key)
        decision: Decision | None = None
        backend = "lease"
        if lease is not None and lease.left > 0 and lease.expires > now:
            decision = lease.take(limit, now)
        ask = self._ask
        loop = asyncio.get_running_loop()
        permit: asyncio.Future[tuple[Decision, str]] | None = None
        if decision is None:
            permit = loop.create_future()
            waiting = ask.permits.get(key)
            if waiting is None:
                ask.permits[key] = (limit, [permit])
            else:
                waiting[1].append(permit)
        marker: asyncio.Future[bool] | None = None
        if client is not None:
            marker = loop.create_future()
            ask.markers.setdefault(client, []).append(marker)
        if permit is not None or marker is not None:
            self.link.wake()
        if permit is not None:
            decision, backend = await permit
        assert decision is not None
        recent = False
        if marker is not None:
            recent = await marker
            if not recent:
                until = self._recent_writers.get(client)  # type: ignore[arg-type]
                recent = until is not None and until > time.monotonic()
        if not decision.allowed:
            METRICS.block(scope, backend)
        return decision, recent

    # -- the shared round trip ---------------------------------------------------------------------
    def _part(self) -> list[Part]:
        """This turn's asks as commands for the link's pipeline (called as it is about to go)."""
        ask, self._ask = self._ask, _Ask()
        now = time.monotonic()
        for key in list(ask.permits):
            limit, waiting = ask.permits[key]
            lease = self._leases.get(key)
            if lease is None:
                continue
            if lease.left > 0 and lease.expires > now:
                # A reservation landed after these requests queued: serve them from it first.
                while waiting and lease.left > 0:
                    future = waiting.pop(0)
                    if not future.done():
                        future.set_result((lease.take(limit, now), "lease"))
                if not waiting:
                    del ask.permits[key]
                    continue
            if lease.left > 0:
                # Expired with permits left: give them back, and ask for fewer next time.
                ask.releases.append((key, lease.unused()))
                lease.left = 0
                lease.size //= 2
            elif lease.expires > now:
                # Spent within its lifetime: this process is a busy user of the key, lease more.
                lease.size = min(max(1, 2 * lease.size), lease_extra_max(limit))
            else:
                # Quiet for longer than a lease lives: start again from one permit (exact).
                lease.size = 0
        if not (ask.permits or ask.markers or ask.releases):
            return []
        prefixes = {key: uuid.uuid4().hex for key in ask.permits}
        markers = list(ask.markers)
        commands: list[Command] = [("ZREM", key, *members) for key, members in ask.releases]
        for key, (limit, waiting) in ask.permits.items():
            lease = self._leases.get(key)
            extra = lease.size if lease is not None else 0
            commands.append(self._script.command([key], [limit, self._window_ms, len(waiting), extra, prefixes[key]]))
        commands.extend(("EXISTS", f"ryw:{client}") for client in markers)

        def fail(exc: BaseException) -> None:
            for _, waiting in ask.permits.values():
                for future in waiting:
                    if not future.done():
                        future.set_exception(exc)
            for futures in ask.markers.values():
                for marker in futures:
                    if not marker.done():
                        marker.set_exception(exc)

        def deliver(results: list[Any] | None) -> None:
            self._deliver(ask, prefixes, markers, results[len(ask.releases) :] if results is not None else None)

        return [(commands, deliver, fail)]

    def _deliver(self, ask: _Ask, prefixes: dict[str, str], markers: list[str], results: list[Any] | None) -> None:
        now = time.monotonic()
        for i, (key, (limit, waiting)) in enumerate(ask.permits.items()):
            if results is not None:
                granted, remaining, reset_ms = (int(x) for x in results[i])
                lease = self._lease(key)
                if lease.left > 0:  # another reservation of this key landed meanwhile: keep one
                    self._ask.releases.append((key, lease.unused()))
                    self.link.wake()
                lease.grant(granted, remaining, reset_ms, prefixes[key], now)
                for future in waiting:
                    if lease.left > 0:
                        decision = lease.take(limit, now)
                    else:
                        decision = Decision(False, limit, max(remaining, 0), math.ceil(max(reset_ms, 0) / 1000))
                    if not future.done():  # the request may have been cancelled meanwhile
                        future.set_result((decision, "redis"))
                if lease.left > 0:
                    self._holding.add(key)
                    self._schedule_sweep()
            else:
                for future in waiting:
                    decision = self.local.hit(key, limit, self.window)
                    if not future.done():
                        future.set_result((decision, "local"))
        offset = len(ask.permits)
        for j, client in enumerate(markers):
            # Without Redis this process cannot know about writes made through the others, so the
            # read goes to the primary: read-your-writes holds, at the cost of primary load.
            recent = bool(results[offset + j]) if results is not None else True
            for marker in ask.markers[client]:
                if not marker.done():
                    marker.set_result(recent)

    def _lease(self, key: str) -> Lease:
        lease = self._leases.get(key)
        if lease is None:
            lease = self._leases[key] = Lease()
            while len(self._leases) > MAX_KEYS:
                old_key, old = self._leases.popitem(last=False)
                if old.left > 0:
                    self._ask.releases.append((old_key, old.unused()))
        else:
            self._leases.move_to_end(key)
        return lease

    def _schedule_sweep(self) -> None:
        """Give back permits of leases nobody used up, even if no request comes to trigger it."""
        if self._sweep is None:
            self._sweep = asyncio.get_running_loop().call_later(LEASE_SECONDS, self._run_sweep)

    def _run_sweep(self) -> None:
        self._sweep = None
        now = time.monotonic()
        for key in list(self._holding):
            lease = self._leases.get(key)
            if lease is None or lease.left == 0:
                self._holding.discard(key)
            elif lease.expires <= now:
                self._ask.releases.append((key, lease.unused()))
                lease.left = 0
                lease.size //= 2
                self._holding.discard(key)
        if self._holding:
            self._schedule_sweep()
        if self._ask.releases:
            self.link.wake()

    def mark_write(self, client: str) -> list[Command]:
        """Note that `client` just wrote; returns the Redis command to send with the write's
        write-through so the other app processes route its reads to the primary too."""
        ms = int(self.ryw_seconds * 1000)
        if ms > 0:
            self._recent_writers[client] = time.monotonic() + self.ryw_seconds
            self._recent_writers.move_to_end(client)
            while len(self._recent_writers) > MAX_KEYS:
                self._recent_writers.popitem(last=False)

        return [("SET", f"ryw:{client}", 1, "PX", ms)] if ms > 0 else []
