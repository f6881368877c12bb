"""app room: database access: a read-write pool (primary via PgBouncer `shipments`), read-only
pools (replicas via PgBouncer `shipments_ro`), replica health and lag tracking, and retries.

PgBouncer 1.18 in transaction mode hands out a server connection per transaction. asyncpg with
statement_cache_size=0 sends Parse/Describe/Flush then Bind/Execute/Sync, so one statement never
spans two server connections: reads are single statements in their own implicit transaction (two
round trips). A write that is one statement (an INSERT or UPDATE ... RETURNING) runs the same way:
BEGIN and COMMIT would double its round trips, and each round trip holds a pooled connection for
an event-loop turn of a busy process. Writes of several statements run in an explicit transaction.
Either way a write is retried when it failed before anything reached the database (acquiring a
connection) or with a serialization failure or deadlock (rolled back); a connection lost while a
statement is in flight is not retried, since it may have committed. A one-statement write has no
BEGIN to find a dead pooled connection with (a PgBouncer pod gone without closing its sockets), so
after the primary's pool has been quiet for `idle_probe_seconds` the first write probes its
connection with SELECT 1 (bounded by `probe_timeout`): a dead one is dropped and the write retried
on another, as BEGIN's failure was. Busy pools never probe. Pooled connections are not
RESET on release: the app never changes session state (transaction pooling forbids it), and the
reset would cost a round trip per request.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlsplit

import asyncpg

from .backoff import retry_async
from .metrics import METRICS

log = logging.getLogger("shipments.db")
# When the current request started (time.perf_counter(); set by middleware.Observability): the
# database calls of one request, retries included, share REQUEST_TIME_BUDGET_SECONDS from then.
REQUEST_STARTED: contextvars.ContextVar[float | None] = contextvars.ContextVar("request_started", default=None)
# Where this task's last read() was answered: "replica" or "primary" (the cache bounds the life of
# what a replica answered: it may miss the last REPLICA_MAX_LAG_SECONDS of writes).
READ_SOURCE: contextvars.ContextVar[str | None] = contextvars.ContextVar("read_source", default=None)
T = TypeVar("T")

# Transient: safe to retry the whole transaction.
RETRYABLE_SQL = (asyncpg.SerializationError, asyncpg.DeadlockDetectedError)
# The connection or the server behind PgBouncer is gone or refusing.
CONNECTION_ERRORS = (
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    asyncpg.InterfaceError,
    asyncpg.TooManyConnectionsError,
    OSError,
    TimeoutError,
)

# Replication lag is measured against the primary, never from the replica's own view (a replica
# that stopped receiving WAL has replayed all it received and would call itself current). Each check
# samples the primary's WAL position first, then each replica's replayed position: a replica that has
# replayed up to a sample taken at time t has every write acknowledged before t, so its staleness is
# at most now - t. Without news (the primary or the replica does not answer, or the monitor stalls)
# that bound only grows, and pick_replica() drops a replica whose bound passed max_lag at once.
# The position, and the timeline (the first 8 hex digits of the WAL file's name): a promoted
# replica or a point-in-time restore starts a new one, and versions written on the old timeline
# after the fork are lost (the cache must forget them: Database.on_new_timeline).
PRIMARY_LSN_SQL = "SELECT pg_current_wal_lsn()::text AS lsn, pg_walfile_name(pg_current_wal_lsn()) AS walfile"
# A standby, or a primary with default_transaction_read_only (what RDS does to a full disk's writes).
READ_ONLY_SQL = "SELECT pg_is_in_recovery() OR current_setting('transaction_read_only')::bool"
REPLICA_SQL = """
SELECT pg_is_in_recovery() AS in_recovery,
       (CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END)::text AS lsn,
       pg_is_in_recovery() AND pg_is_wal_replay_paused() AS paused
"""


def parse_lsn(text: str | None) -> int | None:
    """A pg_lsn's text ('16/B374D848') as an integer (None stays None: no WAL replayed yet)."""
    if not text:
        return None
    high, _, low = text.partition("/")
    return (int(high, 16) << 32) | int(low, 16)


class DatabaseUnavailable(Exception):
    """No database could serve the request (maps to 503 with Retry-After). `ambiguous`: a write's
    statement was in flight when the connection failed, so it may have committed."""

    def __init__(self, message: str, *, ambiguous: bool = False):
        super().__init__(message)
        self.ambiguous = ambiguous


class PrimaryReadOnly(DatabaseUnavailable):
    """The read-write address answered read-only (a standby, a demoted node, a primary in
    read-only mode): nothing was written; 503 with Retry-After, and readiness says so."""


class ConnectPhaseError(Exception):
    """The failure happened before any statement of the transaction ran: a retry is safe."""


async def _keep_session(_conn: asyncpg.Connection) -> None:
    """Pool reset hook: nothing to reset (see the module docstring)."""


def redact(dsn: str) -> str:
    parts = urlsplit(dsn)
    host = parts.hostname or "?"
    return f"{host}:{parts.port or 5432}{parts.path}"


@dataclass
class Replica:
    # `name` labels metrics and the admin view; the endpoint (host:port/db, never credentials) is
    # shown to admins only, and driver messages (`last_error`) go to the log only.
    name: str
    dsn: str
    endpoint: str = ""
    pool: asyncpg.Pool | None = None
    reachable: bool = False
    in_pool: bool = False
    lag_seconds: float | None = None
    error: str | None = None
    last_error: str | None = None
    last_check: float = 0.0
    ejections: int = 0
    reason: str = "not checked yet"
    # Monotonic time of the newest primary WAL sample this replica is known to have replayed:
    # its staleness is at most now - fresh_as_of.
    fresh_as_of: float = float("-inf")

    def failed(self, exc: BaseException) -> None:
        message = f"{type(exc).__name__}: {exc}"[:300]
        if message != self.last_error:
            log.warning("replica error", extra={"replica": self.name, "error": message})
        self.error = type(exc).__name__
        self.last_error = message

    def eject(self, reason: str) -> None:
        if self.in_pool:
            self.ejections += 1
            log.warning("replica left the read pool", extra={"replica": self.name, "reason": reason})
        self.in_pool = False
        self.reason = reason


@dataclass
class Database:
    dsn: str
    replica_dsns: tuple[str, ...]
    pool_min: int = 1
    pool_max: int = 10
    command_timeout: float = 5.0
    max_lag: float = 5.0
    check_interval: float = 1.0
    idle_probe_seconds: float = 5.0
    probe_timeout: float = 1.0
    primary: asyncpg.Pool | None = None
    replicas: list[Replica] = field(default_factory=list)
    _rr: int = 0
    _monitor: asyncio.Task[None] | None = None
    _primary_used: float = 0.0  # monotonic time of the primary's last statement that answered
    # (monotonic time, primary WAL position) samples, oldest first, kept for max_lag + a margin.
    primary_unreachable: bool = False  # the last WAL sample failed
    # The primary's timeline as last sampled, and what to run when it changes (the cache forgets
    # everything: versions written on the old timeline after the fork may be reissued with other data).
    timeline: int | None = None
    on_new_timeline: list[Callable[[], None]] = field(default_factory=list)
    # The read-write address answered read-only at the last ping or write (readiness reports it).
    primary_read_only: bool = False
    # Seconds a request may spend in database calls, retries included (REQUEST_TIME_BUDGET_SECONDS),
    # counted from the request's start (REQUEST_STARTED); 0: unbounded.
    request_budget: float = 0.0
    _wal_samples: deque[tuple[float, int]] = field(default_factory=deque)

    async def start(self) -> None:
        self.primary = await self._pool(self.dsn, self.pool_min)
        self.replicas = [
            Replica(name=f"replica-{i}", dsn=d, endpoint=redact(d), pool=await self._pool(d, 0))
            for i, d in enumerate(self.replica_dsns)
        ]
        await self.check_replicas()
        self._monitor = asyncio.create_task(self._monitor_loop(), name="replica-monitor")

    async def _pool(self, dsn: str, min_size: int) -> asyncpg.Pool:
        # min_size connections are opened lazily by a warm-up, so the app starts even if the
        # database is down (readiness says so instead of a crash loop).
        pool = asyncpg.create_pool(
            dsn,
            min_size=0,
            max_size=self.pool_max,
            statement_cache_size=0,
            command_timeout=self.command_timeout,
            max_inactive_connection_lifetime=60.0,
            reset=_keep_session,
        )
        await pool
        if min_size:
            try:
                async with pool.acquire(timeout=2.0) as conn:
                    await conn.execute("SELECT 1")
            except CONNECTION_ERRORS as exc:
                log.warning("database not reachable at startup", extra={"error": repr(exc)})
        return pool

    async def close(self) -> None:
        if self._monitor is not None:
            self._monitor.cancel()
        pools = [self.primary] + [r.pool for r in self.replicas]
        for pool in pools:
            if pool is not None:
                try:
                    await asyncio.wait_for(pool.close(), timeout=5.0)
                except (TimeoutError, *CONNECTION_ERRORS):
                    pool.terminate()

    # -- replica health -------------------------------------------------------------------------
    async def _monitor_loop(self) -> None:
        while True:
            await asyncio.sleep(self.check_interval)
            try:
                await self.check_replicas()
            except Exception:  # the monitor must outlive any surprise
                log.exception("replica check failed")

    async def check_replicas(self) -> None:
        await self._sample_primary()
        if self.replicas:
            await asyncio.gather(*(self._check(r) for r in self.replicas))

    async def _sample_primary(self) -> None:
        """Record the primary's WAL position now (the anchor replicas are measured against)."""
        assert self.primary is not None
        taken = time.monotonic()
        try:
            async with self.primary.acquire(timeout=1.0) as conn:
                row = await conn.fetchrow(PRIMARY_LSN_SQL, timeout=1.0)
        except (*CONNECTION_ERRORS, asyncpg.PostgresError) as exc:
            if not self.primary_unreachable:
                log.warning("replica lag: primary position unknown", extra={"error": f"{type(exc).__name__}"})
            self.primary_unreachable = True
            return
        self.primary_unreachable = False
        lsn = parse_lsn(row["lsn"])
        if lsn is None:
            return
        timeline = int(row["walfile"][:8], 16)
        samples = self._wal_samples
        if self.timeline is not None and timeline != self.timeline:
            log.warning(
                "the primary is on a new timeline (a failover or a restore)",
                extra={"timeline": timeline, "was": self.timeline},
            )
            samples.clear()
            for replica in self.replicas:
                replica.fresh_as_of = float("-inf")  # measured against a primary that is gone
            self.timeline = timeline
            for hook in self.on_new_timeline:
                hook()
        self.timeline = timeline
        if samples and lsn < samples[-1][1]:
            # A smaller position than before: a different primary (a failover to a node whose WAL
            # is behind what we saw). What we measured against no longer exists.
            samples.clear()
        samples.append((taken, lsn))
        horizon = taken - self.max_lag - 4 * self.check_interval
        while len(samples) > 1 and samples[0][0] < horizon:
            samples.popleft()

    def staleness(self, replica: Replica, now: float | None = None) -> float:
        """Seconds of writes the replica may be missing, at most (inf when never measured)."""
        return (time.monotonic() if now is None else now) - replica.fresh_as_of

    async def _check(self, replica: Replica) -> None:
        assert replica.pool is not None
        replica.last_check = time.time()
        try:
            async with replica.pool.acquire(timeout=1.0) as conn:
                row = await conn.fetchrow(REPLICA_SQL, timeout=1.0)
        except (*CONNECTION_ERRORS, asyncpg.PostgresError) as exc:
            replica.reachable = False
            replica.lag_seconds = None
            replica.failed(exc)
            replica.eject("unreachable")
            return
        replica.reachable = True
        replica.error = replica.last_error = None
        position = parse_lsn(row["lsn"])
        if position is not None:
            # The newest primary sample (all taken before this query) the replica has replayed.
            for taken, lsn in reversed(self._wal_samples):
                if lsn <= position:
                    replica.fresh_as_of = max(replica.fresh_as_of, taken)
                    break
        now = time.monotonic()
        lag = self.staleness(replica, now)
        replica.lag_seconds = round(lag, 3) if lag != float("inf") else None
        if lag > self.max_lag:
            why = "no position measured against the primary" if lag == float("inf") else f"lag {lag:.1f}s"
            replica.eject(f"{why} > {self.max_lag}s" + (" (replay paused)" if row["paused"] else ""))
        else:
            if not replica.in_pool:
                log.info("replica joined the read pool", extra={"replica": replica.name})
            replica.in_pool = True
            replica.reason = "healthy"

    def pick_replica(self) -> Replica | None:
        now = time.monotonic()
        healthy = [r for r in self.replicas if r.in_pool and now - r.fresh_as_of <= self.max_lag]
        if len(healthy) < len(self.replicas):
            for r in self.replicas:
                if r.in_pool and r not in healthy:
                    r.eject(f"no news for {now - r.fresh_as_of:.1f}s > {self.max_lag}s")
        if not healthy:
            return None
        self._rr = (self._rr + 1) % len(healthy)
        return healthy[self._rr]

    def serving(self, replica: Replica) -> bool:
        """Whether reads may go to the replica now (what pick_replica decides)."""
        return replica.in_pool and self.staleness(replica) <= self.max_lag

    def stale_replica(self) -> Replica | None:
        """A reachable replica out of the pool only because nothing could be measured (the primary
        does not answer): the last resort of a read the primary cannot serve."""
        for r in self.replicas:
            if r.reachable and r.pool is not None and r.fresh_as_of != float("-inf"):
                return r
        return None

    # -- running transactions ---------------------------------------------------------------------
    async def _transaction(
        self, pool: asyncpg.Pool, fn: Callable[[asyncpg.Connection], Awaitable[T]], readonly: bool
    ) -> T:
        stage_connected = False
        try:
            async with pool.acquire(timeout=self.command_timeout) as conn:
                tx = conn.transaction(readonly=readonly)
                await tx.start()
                stage_connected = True
                try:
                    result = await fn(conn)
                except BaseException:
                    if not conn.is_closed():
                        with contextlib.suppress(*CONNECTION_ERRORS):
                            await tx.rollback()
                    raise
                await tx.commit()
                return result
        except CONNECTION_ERRORS as exc:
            if not stage_connected:
                raise ConnectPhaseError(repr(exc)) from exc
            raise

    async def _statement(self, pool: asyncpg.Pool, fn: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
        conn = await pool.acquire(timeout=self.command_timeout)
        try:
            return await fn(conn)
        except (asyncio.CancelledError, TimeoutError):
            # A statement cut off (the request's budget, the command timeout): releasing it would
            # wait for its cancellation, on a server that may be the one not answering.
            conn.terminate()
            raise
        finally:
            await pool.release(conn)

    async def _autocommit(self, pool: asyncpg.Pool, fn: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
        """fn's statements each in its own implicit transaction; a failure to get a connection is
        told apart (nothing was sent: safe to retry)."""
        try:
            conn = await pool.acquire(timeout=self.command_timeout)
        except CONNECTION_ERRORS as exc:
            raise ConnectPhaseError(repr(exc)) from exc
        try:
            if time.monotonic() - self._primary_used > self.idle_probe_seconds:
                try:
                    await conn.execute("SELECT 1", timeout=self.probe_timeout)
                except CONNECTION_ERRORS as exc:
                    conn.terminate()  # the pool opens a fresh one in its place
                    raise ConnectPhaseError(f"idle connection dead: {exc!r}") from exc
            result = await fn(conn)
            self._primary_used = time.monotonic()
            return result
        except (asyncio.CancelledError, TimeoutError):
            conn.terminate()  # as in _statement: never wait on the cancellation
            raise
        finally:
            await pool.release(conn)

    def remaining(self) -> float | None:
        """Seconds left of this request's database budget (None: no budget, or not in a request)."""
        started = REQUEST_STARTED.get()
        if started is None or not self.request_budget:
            return None
        return started + self.request_budget - time.perf_counter()

    async def write(self, fn: Callable[[asyncpg.Connection], Awaitable[T]], *, transaction: bool = True) -> T:
        """Run fn on the primary, retrying transient failures: in a read-write transaction, or with
        transaction=False statement by statement (for fn that writes with one statement: its
        statements after that one only read). Within the request's time budget: past it, 503
        (ambiguous: a statement may have been in flight)."""
        left = self.remaining()
        if left is None:
            return await self._write(fn, transaction)
        if left <= 0:
            raise DatabaseUnavailable("the request's time budget is spent")
        try:
            async with asyncio.timeout(left):
                return await self._write(fn, transaction)
        except TimeoutError as exc:
            raise DatabaseUnavailable(
                "the database did not answer within the request's time budget", ambiguous=True
            ) from exc

    async def read(self, fn: Callable[[asyncpg.Connection], Awaitable[T]], *, primary: bool = False) -> T:
        """Run fn (ONE read-only statement) on a healthy replica, else (or when asked, or on error)
        on the primary; retries included, within the request's time budget (past it, 503)."""
        left = self.remaining()
        if left is None:
            return await self._read(fn, primary)
        if left <= 0:
            raise DatabaseUnavailable("the request's time budget is spent")
        try:
            async with asyncio.timeout(left):
                return await self._read(fn, primary)
        except TimeoutError as exc:
            raise DatabaseUnavailable("the database did not answer within the request's time budget") from exc

    async def _write(self, fn: Callable[[asyncpg.Connection], Awaitable[T]], transaction: bool) -> T:
        assert self.primary is not None
        pool = self.primary

        def count(exc: BaseException, _attempt: int) -> None:
            METRICS.db_retries.labels(reason=type(exc).__name__).inc()

        def attempt() -> Awaitable[T]:
            return self._transaction(pool, fn, readonly=False) if transaction else self._autocommit(pool, fn)

        try:
            return await retry_async(
                attempt,
                retry_on=(*RETRYABLE_SQL, ConnectPhaseError),
                attempts=5,
                on_retry=count,
            )
        except asyncpg.ReadOnlySQLTransactionError as exc:
            self.primary_read_only = True
            raise PrimaryReadOnly("the primary database is read-only (a failover may be under way)") from exc
        except ConnectPhaseError as exc:
            raise DatabaseUnavailable("primary database unavailable") from exc
        except CONNECTION_ERRORS as exc:
            raise DatabaseUnavailable("primary database unavailable", ambiguous=True) from exc

    async def _read(self, fn: Callable[[asyncpg.Connection], Awaitable[T]], primary: bool) -> T:
        assert self.primary is not None
        replica = None if primary else self.pick_replica()
        if replica is not None and replica.pool is not None:
            try:
                result = await self._statement(replica.pool, fn)
                READ_SOURCE.set("replica")
                return result
            except CONNECTION_ERRORS as exc:
                replica.failed(exc)
                replica.eject("error on read")
                METRICS.replica_fallbacks.inc()
            except (*RETRYABLE_SQL, asyncpg.QueryCanceledError):
                # A hot-standby query conflict (40001) or a cancelled query: this read goes to the
                # primary, the replica stays in the pool.
                METRICS.replica_fallbacks.inc()
        pool = self.primary

        def count(exc: BaseException, _attempt: int) -> None:
            METRICS.db_retries.labels(reason=type(exc).__name__).inc()

        try:
            # A read is idempotent: any connection error may be retried.
            result = await retry_async(
                lambda: self._statement(pool, fn),
                retry_on=(*RETRYABLE_SQL, *CONNECTION_ERRORS),
                attempts=4,
                on_retry=count,
            )
            READ_SOURCE.set("primary")
            return result
        except CONNECTION_ERRORS as exc:
            # The primary is down for this process too, so the replicas' staleness could not be
            # measured: rather than 503, a reachable replica answers a read that did not ask for
            # the primary (during an outage no write commits there through this process).
            last = None if primary or not self.primary_unreachable else self.stale_replica()
            if last is not None and last is not replica and last.pool is not None:
                with contextlib.suppress(*CONNECTION_ERRORS):
                    METRICS.replica_fallbacks.inc()
                    result = await self._statement(last.pool, fn)
                    READ_SOURCE.set("replica")
                    return result
            raise DatabaseUnavailable("database unavailable") from exc

    async def ping_primary(self) -> float:
        """Round-trip latency to the primary in seconds; raises when it does not answer, and
        PrimaryReadOnly when it answers read-only (writes would fail)."""
        assert self.primary is not None
        start = time.perf_counter()
        async with self.primary.acquire(timeout=1.0) as conn:
            read_only = await conn.fetchval(READ_ONLY_SQL, timeout=1.0)
        self.primary_read_only = bool(read_only)
        if read_only:
            raise PrimaryReadOnly("the primary database is read-only")
        return time.perf_counter() - start

    @property
    def endpoint(self) -> str:
        return redact(self.dsn)

    def pool_stats(self) -> dict[str, Any]:
        def stats(pool: asyncpg.Pool | None) -> dict[str, int]:
            if pool is None:
                return {"size": 0, "in_use": 0, "max": self.pool_max}
            size = pool.get_size()
            return {"size": size, "in_use": size - pool.get_idle_size(), "max": pool.get_max_size()}

        return {"primary": stats(self.primary), **{r.name: stats(r.pool) for r in self.replicas}}
