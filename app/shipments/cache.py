"""app room: Redis link (short timeouts, circuit breaker), cache-aside for shipments with an
in-process L1 kept coherent through Redis pub/sub, and single-flight stampede protection.

A cached shipment is its response body, encoded once when it is written or loaded (jsonbody.py):
Redis holds "<version>|<body>", the L1 a CachedShipment; a hit is answered with those bytes.

When Redis is down the cache steps aside: reads go to the database and the L1 is bypassed
(invalidations could be missed while the subscription is broken, so it is not trusted).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, RedisError
from redis.retry import Retry

from . import jsonbody
from .db import READ_SOURCE
from .lru import VersionedLRU
from .metrics import METRICS

log = logging.getLogger("shipments.cache")
CHANNEL = "shipments:invalidate"
# When Redis's shipments began (wall-clock seconds, set by the first process that finds it missing:
# a new Redis, or one that lost its data in a restart, a flush or a failover). Until
# `replica_fill_ttl` after that, a write-through newer than what a lagging replica answers may be
# missing from Redis, so nothing would refuse the replica's older version: fills from replicas are
# then cached for that long only.
BORN_KEY = "shipments:cache-born"
KEY_PREFIX = "shipment:"

# The message on CHANNEL that tells every process to drop its whole L1 (the fallback when a
# process owes more invalidations than it remembers: ShipmentCache._owe).
FLUSH_L1 = b"*"
# Invalidations a process remembers while Redis cannot take them (each holds one shipment's body).
OWED_MAX = 1000

# Stores "<version>|<json>" unless Redis already holds a newer version: a late fill from a
# lagging replica can never overwrite a write-through of a newer version. With ARGV[4] and
# ARGV[5] it then publishes ARGV[5] on channel ARGV[4] (a write-through): in the script, so the
# announcement can never reach another process before the value it announces is in Redis (a
# separate PUBLISH in the pipeline ran first when the EVALSHA had to be rerun after NOSCRIPT).
SET_IF_NEWER_LUA = """
local newer = 1
local cur = redis.call('GET', KEYS[1])
if cur then
  local v = tonumber(string.match(cur, '^(%d+)|'))
  if v and v > tonumber(ARGV[2]) then newer = 0 end
end
if newer == 1 then
  redis.call('SET', KEYS[1], ARGV[2] .. '|' .. ARGV[1], 'EX', tonumber(ARGV[3]))
end
if ARGV[5] then
  redis.call('PUBLISH', ARGV[4], ARGV[5])
end
return newer
"""

# A write whose outcome is unknown (its connection failed with the statement in flight) would,
# had it committed, have made version ARGV[1]: drop any cached version older than that and
# announce it, so every process stops answering the version the write may have replaced.
FORGET_OLDER_LUA = """
local cur = redis.call('GET', KEYS[1])
if cur then
  local v = tonumber(string.match(cur, '^(%d+)|'))
  if (not v) or v < tonumber(ARGV[1]) then redis.call('DEL', KEYS[1]) end
end
redis.call('PUBLISH', ARGV[2], ARGV[3])
return 1
"""

REDIS_ERRORS = (RedisError, OSError, TimeoutError)


@dataclass(frozen=True, slots=True)
class CachedShipment:
    """A shipment as the API answers it: its version and its JSON body."""

    version: int
    body: bytes

    @property
    def etag(self) -> str:
        return f'"{self.version}"'

    @classmethod
    def of(cls, value: dict[str, Any]) -> CachedShipment:
        return cls(int(value["version"]), jsonbody.dumps(value))


Loader = Callable[[], Awaitable[dict[str, Any] | None]]


class LuaScript:
    """A script run by EVALSHA. redis-py's Script objects add a SCRIPT EXISTS round trip to every
    pipeline execution; here the script is loaded only when Redis says NOSCRIPT (RedisLink.batch)."""

    def __init__(self, source: str):
        self.source = source
        self.sha = hashlib.sha1(source.encode()).hexdigest()

    def command(self, keys: list[str], args: list[Any]) -> Command:
        return ("EVALSHA", self.sha, len(keys), *keys, *args)


# A Redis command as its words, e.g. ("PUBLISH", channel, message).
Command = tuple[Any, ...]
# What one requester puts in a pipeline: its commands, what to do with their results (None when
# Redis could not be asked), and what to do if the pipeline task itself dies.
Part = tuple[list[Command], Callable[[list[Any] | None], None], Callable[[BaseException], None]]


def _settle(callback: Callable[[Any], None], outcome: Any) -> None:
    """Hand a part its outcome; a callback that raises is logged, so it cannot leave the other
    parts of the pipeline (requests waiting without a timeout) unresolved."""
    try:
        callback(outcome)
    except Exception:
        log.exception("redis pipeline callback failed")


class RedisLink:
    """One Redis client plus a breaker: after a failure Redis is skipped for `cooldown` seconds."""

    def __init__(self, url: str, socket_timeout: float, cooldown: float = 1.0):
        self.url = url
        self._scripts: dict[str, str] = {}  # sha -> source, to load on NOSCRIPT
        self._queued: list[Part] = []
        self._leading: list[Callable[[], list[Part]]] = []  # their commands go first
        self._contributors: list[Callable[[], list[Part]]] = []
        self._flush_scheduled = False
        self._batches: set[asyncio.Task[None]] = set()
        self.client = aioredis.Redis.from_url(
            url,
            socket_timeout=socket_timeout,
            socket_connect_timeout=socket_timeout,
            max_connections=64,
            health_check_interval=0,
            # One immediate retry on a fresh connection absorbs the stale pooled sockets a Redis
            # restart leaves behind; timeouts are not retried (a frozen Redis must cost little).
            retry=Retry(NoBackoff(), 1),
            retry_on_error=[RedisConnectionError],
        )
        self.cooldown = cooldown
        self.down_until = 0.0
        self.connected = False
        self.last_error: str | None = None  # the driver's message: for the log only
        self.last_error_type: str | None = None
        self.on_down: list[Callable[[], None]] = []

    def available(self) -> bool:
        return time.monotonic() >= self.down_until

    def failed(self, exc: BaseException) -> None:
        was = self.connected
        self.connected = False
        self.last_error = f"{type(exc).__name__}: {exc}"[:200]
        self.last_error_type = type(exc).__name__
        self.down_until = time.monotonic() + self.cooldown
        METRICS.redis_up.set(0)
        if was:
            log.warning("redis unavailable", extra={"error": self.last_error})
        for hook in self.on_down:
            hook()

    def succeeded(self) -> None:
        if not self.connected:
            log.info("redis available")
        self.connected = True
        self.last_error = self.last_error_type = None
        METRICS.redis_up.set(1)

    async def call(self, fn: Callable[[aioredis.Redis], Awaitable[Any]]) -> tuple[bool, Any]:
        """(True, result) or (False, None) when Redis is down or fails: never raises RedisError."""
        if not self.available():
            return False, None
        try:
            try:
                result = await fn(self.client)
            except RedisConnectionError:
                # After a Redis restart every pooled socket is stale: drop the idle ones at once and
                # retry on a fresh connection, rather than tripping the breaker once per old socket.
                await self.client.connection_pool.disconnect(inuse_connections=False)
                result = await fn(self.client)
        except REDIS_ERRORS as exc:
            self.failed(exc)
            return False, None
        self.succeeded()
        return True, result

    def script(self, source: str) -> LuaScript:
        """A Lua script this link may run (batch() loads it when Redis does not know it)."""
        script = LuaScript(source)
        self._scripts[script.sha] = source
        return script

    async def batch(self, commands: list[Command]) -> list[Any] | None:
        """Run `commands` in the pipeline of this event-loop turn: whatever the process asks of
        Redis during one turn goes in one round trip (redis-py's cost per pipeline is several
        times its cost per command). Their results in order, or None when Redis is down or the
        pipeline failed (as call())."""
        if not self.available():
            return None
        future: asyncio.Future[list[Any] | None] = asyncio.get_running_loop().create_future()

        def deliver(results: list[Any] | None) -> None:
            if not future.done():  # the request may have been cancelled meanwhile
                future.set_result(results)

        def fail(exc: BaseException) -> None:
            if not future.done():
                future.set_exception(exc)

        self._queued.append((commands, deliver, fail))
        self.wake()
        return await future

    def contribute(self, parts: Callable[[], list[Part]], *, first: bool = False) -> None:
        """Ask `parts()` for commands each time a pipeline is about to go (after wake()). With
        first=True its commands go before all others: Redis runs a pipeline in order, so what they
        write is what the pipeline's reads see."""
        (self._leading if first else self._contributors).append(parts)

    def wake(self) -> None:
        """Send a pipeline at the end of this loop turn."""
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._start_batch)

    def _start_batch(self) -> None:
        self._flush_scheduled = False
        queued, self._queued = self._queued, []
        parts = self._contributed(self._leading) + queued + self._contributed(self._contributors)
        if not parts:
            return
        if not self.available():
            for _, deliver, _ in parts:
                _settle(deliver, None)
            return
        task = asyncio.create_task(self._run_batch(parts))
        self._batches.add(task)
        task.add_done_callback(self._batches.discard)

    @staticmethod
    def _contributed(contributors: list[Callable[[], list[Part]]]) -> list[Part]:
        parts: list[Part] = []
        for contributor in contributors:
            try:
                parts.extend(contributor())
            except Exception:  # a broken contributor must not strand the queued requests' parts
                log.exception("redis pipeline contributor failed")
        return parts

    async def _run_batch(self, parts: list[Part]) -> None:
        flat = [command for commands, _, _ in parts for command in commands]
        try:
            ok, results = await self.call(lambda client: self._pipeline(client, flat))
        except BaseException as exc:  # never leave a request waiting
            for _, _, fail in parts:
                _settle(fail, exc)
            raise
        start = 0
        for commands, deliver, _ in parts:
            _settle(deliver, results[start : start + len(commands)] if ok else None)
            start += len(commands)

    async def _pipeline(self, client: aioredis.Redis, commands: list[Command]) -> list[Any]:
        async with client.pipeline(transaction=False) as pipe:
            for command in commands:
                pipe.execute_command(*command)
            results = list(await pipe.execute(raise_on_error=False))
        # EVALSHA of a script Redis does not know (first use, or after a restart) did not run: load
        # it, then run those commands again, and only those.
        missing = [i for i, r in enumerate(results) if isinstance(r, NoScriptError)]
        if missing:
            for sha in {commands[i][1] for i in missing}:
                await client.script_load(self._scripts[sha])
            async with client.pipeline(transaction=False) as pipe:
                for i in missing:
                    pipe.execute_command(*commands[i])
                for i, result in zip(missing, await pipe.execute(raise_on_error=False), strict=True):
                    results[i] = result
        for result in results:
            if isinstance(result, Exception):
                raise result
        return results

    async def ping(self) -> bool:
        ok, _ = await self.call(lambda c: c.ping())
        if not ok and not self.available():
            # The breaker skipped the call; probe anyway so recovery is noticed promptly.
            try:
                await self.client.ping()
            except REDIS_ERRORS as exc:
                self.failed(exc)
                return False
            self.down_until = 0.0
            self.succeeded()
            return True
        return ok

    async def close(self) -> None:
        await self.client.aclose()


class ShipmentCache:
    def __init__(self, link: RedisLink, ttl: int, l1_size: int, l1_ttl: float, replica_fill_ttl: float | None = None):
        self.link = link
        self.ttl = ttl
        # How long a fill a replica answered may be served while Redis may have lost a newer
        # write-through (REPLICA_MAX_LAG_SECONDS after its data began: BORN_KEY): the replica may
        # miss that much of the latest writes. None: the full TTL always.
        self.replica_fill_ttl = replica_fill_ttl
        self._born: float | None = None  # BORN_KEY as last read
        self.l1 = VersionedLRU(l1_size, l1_ttl)
        self.l1_enabled = False  # only while the invalidation subscription is live
        self._inflight: dict[str, asyncio.Future[CachedShipment | None]] = {}
        self._set_if_newer = link.script(SET_IF_NEWER_LUA)
        self._forget_older = link.script(FORGET_OLDER_LUA)
        self._task: asyncio.Task[None] | None = None
        # Other channels carried by the same subscription (API key revocations), and what to run
        # each time it is (re)established: messages sent meanwhile may have been missed.
        self._handlers: dict[bytes, Callable[[bytes], None]] = {}
        self.on_subscribed: list[Callable[[], None]] = []
        link.on_down.append(self._distrust_l1)
        # Write-throughs whose announcement Redis did not take (the breaker was open, or the
        # turn's pipeline failed): no other process has heard of them, so they are owed. They go
        # first in every pipeline until one delivers them, and the L1 is not trusted again before
        # they are delivered (_settle_owed). Newest per key; at most OWED_MAX, past which
        # _owed_all says: sweep every shipment out of Redis and tell every process to drop its L1.
        self._owed: dict[str, CachedShipment] = {}
        self._owed_all = False
        self._sweeping = False
        link.contribute(self._owed_part, first=True)

    def listen(self, channel: str, handler: Callable[[bytes], None]) -> None:
        """Also deliver `channel`'s messages to `handler` (call before start())."""
        self._handlers[channel.encode()] = handler

    def _distrust_l1(self) -> None:
        self.l1_enabled = False
        self.l1.clear()

    # -- coherence ------------------------------------------------------------------------------
    def start(self) -> None:
        self._task = asyncio.create_task(self._subscribe_loop(), name="cache-invalidations")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, *REDIS_ERRORS):
                pass
        if self._owed:
            # Last chance: once this process is gone nobody can deliver them (README: "A write
            # Redis did not take").
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.link.batch([]), timeout=1.0)

    async def _subscribe_loop(self) -> None:
        while True:
            pubsub = self.link.client.pubsub()
            try:
                await pubsub.subscribe(CHANNEL, *(c.decode() for c in self._handlers))
                # Anything cached before (re)subscribing may have missed an invalidation.
                self.l1.clear()
                for hook in self.on_subscribed:
                    hook()
                # What this process wrote while Redis could not take it reaches the others first.
                await self._settle_owed()
                self.l1_enabled = True
                last_ping = time.monotonic()
                while True:
                    msg = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.5)
                    if msg is not None and msg.get("type") == "message":
                        handler = self._handlers.get(msg["channel"])
                        if handler is not None:
                            handler(msg["data"])
                        else:
                            self._on_invalidation(msg["data"])
                    if time.monotonic() - last_ping > 1.0:
                        # A paused Redis keeps the socket open: a ping notices it.
                        await pubsub.ping()
                        last_ping = time.monotonic()
                    if not self.l1_enabled or not self.link.available():
                        # Some Redis call failed meanwhile: messages may have been lost, start afresh.
                        raise ConnectionError("redis marked down")
            except asyncio.CancelledError:
                await self._close_pubsub(pubsub)
                raise
            except (*REDIS_ERRORS, ConnectionError) as exc:
                self._distrust_l1()
                log.debug("invalidation subscription lost", extra={"error": repr(exc)})
                await self._close_pubsub(pubsub)
                await asyncio.sleep(0.5)

    @staticmethod
    async def _close_pubsub(pubsub: Any) -> None:
        try:
            await asyncio.wait_for(pubsub.aclose(), timeout=0.5)
        except (TimeoutError, *REDIS_ERRORS, RuntimeError):
            pass

    def _on_invalidation(self, data: bytes) -> None:
        if data == FLUSH_L1:
            self.l1.clear()
            return
        try:
            key, version = data.decode().rsplit(":", 1)
            self.l1.invalidate(key, int(version))
        except (ValueError, UnicodeDecodeError):
            log.warning("malformed invalidation message", extra={"data": repr(data)[:100]})

    # -- invalidations owed ---------------------------------------------------------------------
    def _write_through(self, key: str, entry: CachedShipment, *, publish: bool, ttl: int | None = None) -> Command:
        args: list[Any] = [entry.body, entry.version, ttl or self.ttl]
        if publish:
            args += [CHANNEL, f"{key}:{entry.version}"]
        return self._set_if_newer.command([KEY_PREFIX + key], args)

    def _owe(self, key: str, entry: CachedShipment) -> None:
        if self._owed_all:
            return  # the pending sweep covers it
        known = self._owed.get(key)
        if known is not None and known.version >= entry.version:
            return
        self._owed[key] = entry
        if len(self._owed) > OWED_MAX:
            # Too many to remember (a long outage under writes): forget them all and owe everything.
            log.warning("too many invalidations owed: every process will drop its L1", extra={"owed": OWED_MAX})
            self._owed.clear()
            self._owed_all = True

    def _owed_part(self) -> list[Part]:
        """The owed write-throughs (each publishes its invalidation), first in the pipeline."""
        if not self._owed:
            return []
        sent = list(self._owed.items())

        def deliver(results: list[Any] | None) -> None:
            if results is None:
                return  # still owed: the next pipeline carries them again
            for key, entry in sent:
                if self._owed.get(key) is entry:
                    del self._owed[key]

        def fail(exc: BaseException) -> None:
            pass  # still owed

        return [([self._write_through(key, entry, publish=True) for key, entry in sent], deliver, fail)]

    def owes(self, key: str) -> bool:
        """Whether Redis may still hold a version of `key` older than one this process wrote."""
        return self._owed_all or self._sweeping or key in self._owed

    async def _settle_owed(self) -> None:
        """Deliver what is owed, as soon as the breaker lets Redis be asked; ConnectionError when
        Redis would not take it (the subscription loop starts afresh)."""
        while self._owed_all or self._owed:
            wait = self.link.down_until - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            if self._owed_all:
                # Writes failing during the sweep are owed one by one again (they may land behind it).
                self._owed_all, self._sweeping = False, True
                try:
                    swept = await self._sweep()
                finally:
                    self._sweeping = False
                if not swept:
                    self._owed_all = True
                    raise ConnectionError("owed sweep not delivered")
            elif await self.link.batch([]) is None:  # the owed part goes in this pipeline
                raise ConnectionError("owed invalidations not delivered")

    async def _sweep(self) -> bool:
        """Drop every shipment from Redis, then tell every process to drop its L1: the fallback for
        writes this process could not remember one by one. Rare, so a SCAN is affordable."""
        cursor: int = 0
        while True:
            ok, found = await self.link.call(lambda c, at=cursor: c.scan(at, match=KEY_PREFIX + "*", count=1000))
            if not ok:
                return False
            cursor, keys = found
            if keys:
                ok, _ = await self.link.call(lambda c, k=keys: c.unlink(*k))
                if not ok:
                    return False
            if cursor == 0:
                break
        # What Redis holds began now: fills from replicas are careful again for the lag bound.
        ok, _ = await self.link.call(lambda c: c.delete(BORN_KEY))
        if not ok:
            return False
        ok, _ = await self.link.call(lambda c: c.publish(CHANNEL, FLUSH_L1))
        return ok

    # -- cache-aside ----------------------------------------------------------------------------
    def cached(self, key: str) -> CachedShipment | None:
        """The L1 copy, if the L1 may be trusted and holds one (no I/O)."""
        if not self.l1_enabled:
            return None
        entry: CachedShipment | None = self.l1.get(key)
        return entry

    async def get(self, key: str, loader: Loader, *, skip_l1: bool = False) -> CachedShipment | None:
        if not skip_l1:
            entry = self.cached(key)
            if entry is not None:
                METRICS.hit("l1")
                return entry
        # Redis may still hold an older version than this process wrote while it could not tell
        # Redis: read the database until that write-through is delivered.
        # Also: when Redis's data began (set now if it has none: it lost it, or is new).
        now = time.time()
        asked = [("GET", KEY_PREFIX + key), ("PTTL", KEY_PREFIX + key), ("SET", BORN_KEY, repr(now), "NX", "GET")]
        found = await self.link.batch(asked) if not self.owes(key) else None
        if found is not None:
            self._born = float(found[2]) if found[2] is not None else now
        raw = found[0] if found is not None else None
        if raw is not None:
            version, _, body = raw.partition(b"|")
            entry = CachedShipment(int(version), body)
            if self.l1_enabled:
                # The L1 copy never outlives Redis's (a replica's fill lives shorter there).
                left = found[1] / 1000 if found is not None and found[1] > 0 else None
                self.l1.set(key, entry, entry.version, left)
            METRICS.hit("redis")
            return entry
        METRICS.miss()
        return await self._load_once(key, loader, primary=skip_l1)

    def _redis_young(self) -> bool:
        """Whether Redis's data began less than the replica fill TTL ago (or that is unknown)."""
        if self.replica_fill_ttl is None:
            return False
        return self._born is None or time.time() - self._born < self.replica_fill_ttl + 1.0

    async def _load_once(self, key: str, loader: Loader, *, primary: bool = False) -> CachedShipment | None:
        """Single flight: concurrent misses of one key in this process share one database load,
        and only a load from the same source: a read that must see its writer's own writes
        (`primary`) never joins another client's load, which may come from a replica."""
        flight = f"{key}|p" if primary else key
        pending = self._inflight.get(flight)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[CachedShipment | None] = asyncio.get_running_loop().create_future()
        self._inflight[flight] = future
        try:
            METRICS.cache_loads.inc()
            READ_SOURCE.set(None)
            value = await loader()
            ttl = self.replica_fill_ttl if READ_SOURCE.get() == "replica" and self._redis_young() else None
            entry = await self.put(key, value, publish=False, ttl=ttl) if value is not None else None
            future.set_result(entry)
            return entry
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved: waiters (if any) re-raise it themselves
            raise
        finally:
            del self._inflight[flight]

    async def put(
        self,
        key: str,
        value: dict[str, Any],
        *,
        publish: bool,
        also: Sequence[Command] = (),
        ttl: float | None = None,
    ) -> CachedShipment:
        """Store a value (write-through after a write, or a fill after a miss); publish on writes.
        `also`: more commands for the same round trip. Returns the value as cached: its body is
        what the API answers."""
        entry = CachedShipment.of(value)
        version = entry.version
        # The script publishes the invalidation itself, after the SET (see SET_IF_NEWER_LUA). `also`
        # (the read-your-writes marker) may still land before it when the script must be loaded
        # first; harmless: the writer's client has no answer before the write-through has landed.
        redis_ttl = max(1, math.ceil(ttl)) if ttl is not None else None
        commands = [self._write_through(key, entry, publish=publish, ttl=redis_ttl), *also]
        results = await self.link.batch(commands)
        if publish:
            if results is None:
                self._owe(key, entry)
            elif (owed := self._owed.get(key)) is not None and owed.version <= version:
                del self._owed[key]  # delivered by this write-through
            self.l1.invalidate(key, version)
        if self.l1_enabled:
            self.l1.set(key, entry, version, ttl)
        return entry

    def database_changed(self) -> None:
        """The primary is on a new timeline (a promoted replica, a restore): versions cached from the
        old one may be lost and their numbers reissued with other data, which a version comparison
        cannot tell apart. Everything goes: this L1 at once, then Redis is swept and every process
        told to drop its L1 (as for owed writes too many to remember)."""
        log.warning("database changed: every cached shipment is dropped")
        self._owed.clear()
        self._owed_all = True
        self._distrust_l1()

    async def forget(self, key: str, version: int, *, also: Sequence[Command] = ()) -> None:
        """After a write of `key` whose outcome is unknown, that would have made `version`: no
        process may keep answering an older version from its cache (it may have been replaced).
        Redis drops it and every process tombstones it; when Redis cannot be told, every cached
        shipment is swept once it can (as for an owed write too many to remember)."""
        self.l1.invalidate(key, version)
        command = self._forget_older.command([KEY_PREFIX + key], [version, CHANNEL, f"{key}:{version}"])
        if await self.link.batch([command, *also]) is None:
            log.warning("ambiguous write not announced: every process will drop its L1", extra={"key": key})
            self._owed_all = True

    def stats(self) -> dict[str, Any]:
        return {
            "connected": self.link.connected,
            "l1_enabled": self.l1_enabled,
            "l1_size": len(self.l1),
            "l1_capacity": self.l1.maxsize,
            "hits": METRICS.hits,
            "misses": METRICS.misses,
            "hit_rate": METRICS.hit_rate(),
        }
