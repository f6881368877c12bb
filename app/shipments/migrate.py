"""app room: `python -m shipments.migrate`: apply the versioned SQL files in migrations/ in order.

Idempotent and safe to run from several pods at once: everything happens in one transaction under
pg_advisory_xact_lock (a transaction-scoped lock, which also works through PgBouncer's transaction
pooling). It runs as the schema owner (MIGRATION_DATABASE_URL: the owner role through PgBouncer's
`shipments_migrate`), which shipments.bootstrap creates, together with the app's role, its privileges
on what the owner creates and its server-side timeouts. The migrations alter no role; they keep their
own book, schema_migrations, writable by the owner alone (a role that could write it could mark a
migration applied that never ran).

The first connection is retried with capped, jittered backoff for up to MIGRATE_CONNECT_TIMEOUT
seconds (default 300): the Job may start while PgBouncer's pods or the database behind them are
still coming up, and a Job that fails its first connection would exhaust its backoffLimit and wedge
the rollout. Only errors that mean "not there yet" are retried; a wrong password or a failed
migration fails at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import random
import re
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncpg

from shipments.backoff import backoff_delay

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
LOCK_ID = 0x5348_4950  # "SHIP"
_GONE = (asyncpg.AdminShutdownError, asyncpg.InterfaceError, asyncpg.PostgresConnectionError, OSError)
_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
CONNECT_TIMEOUT_DEFAULT = 300.0
# "Not there yet": the socket is refused or times out, the server is starting or shutting down,
# PgBouncer cannot reach its server yet (it reports that as a protocol violation, 08P01), or every
# connection slot is taken for a moment.
_NOT_YET: tuple[type[BaseException], ...] = (
    OSError,
    asyncio.TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.ConnectionDoesNotExistError,
)


class ConnectTimeout(RuntimeError):
    """The database did not accept a connection within the deadline."""


async def connect_with_retry(
    dsn: str,
    *,
    timeout: float = CONNECT_TIMEOUT_DEFAULT,
    connect: Callable[[], Awaitable[asyncpg.Connection]] | None = None,
    log: Callable[[str], None] = lambda m: print(m, file=sys.stderr, flush=True),
    base: float = 0.5,
    cap: float = 10.0,
) -> asyncpg.Connection:
    """Connect, retrying transient failures with full-jitter backoff until `timeout` seconds pass."""
    open_ = connect or (lambda: asyncpg.connect(dsn, statement_cache_size=0, timeout=10))
    deadline = time.monotonic() + timeout
    rng = random.Random()
    attempt = 0
    while True:
        try:
            return await open_()
        except _NOT_YET as exc:
            left = deadline - time.monotonic()
            if left <= 0:
                raise ConnectTimeout(
                    f"the database did not accept a connection within {timeout:.0f} s "
                    f"({attempt + 1} attempts); last error: {type(exc).__name__}: {exc}"
                ) from exc
            delay = min(left, backoff_delay(attempt, base=base, cap=cap, rng=rng))
            log(f"database not reachable yet ({type(exc).__name__}: {exc}); retry {attempt + 1} in {delay:.1f} s")
            await asyncio.sleep(delay)
            attempt += 1


def migration_files(directory: Path = MIGRATIONS_DIR) -> list[tuple[str, Path]]:
    files = []
    for path in sorted(directory.iterdir()):
        if path.suffix == ".sql":
            if not _NAME.match(path.name):
                raise ValueError(f"migration file {path.name!r} must be named NNNN_name.sql")
            files.append((path.stem, path))
    return files


async def migrate(
    dsn: str, directory: Path = MIGRATIONS_DIR, *, connect_timeout: float = CONNECT_TIMEOUT_DEFAULT
) -> list[str]:
    """Apply pending migrations; returns the versions applied by this call."""
    conn = await connect_with_retry(dsn, timeout=connect_timeout)
    applied: list[str] = []
    try:
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", LOCK_ID)
            await conn.execute(
                """CREATE TABLE IF NOT EXISTS schema_migrations (
                       version text PRIMARY KEY,
                       checksum text NOT NULL,
                       applied_at timestamptz NOT NULL DEFAULT now())"""
            )
            await _keep_the_book_to_the_owner(conn)
            done = {
                r["version"]: r["checksum"] for r in await conn.fetch("SELECT version, checksum FROM schema_migrations")
            }
            for version, path in migration_files(directory):
                sql = path.read_text()
                checksum = hashlib.sha256(sql.encode()).hexdigest()
                if version in done:
                    if done[version] != checksum:
                        raise RuntimeError(f"migration {version} changed after it was applied")
                    continue
                await conn.execute(sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, checksum) VALUES ($1, $2)", version, checksum
                )
                applied.append(version)
    finally:
        with contextlib.suppress(*_GONE):
            await conn.close()
    return applied


async def _keep_the_book_to_the_owner(conn: asyncpg.Connection) -> None:
    """No role but the owner may write schema_migrations (the app's role gets write access to every
    table the owner creates through default privileges: take it back here)."""
    grantees = await conn.fetch(
        """SELECT DISTINCT a.grantee::regrole::text AS name FROM pg_class c, aclexplode(c.relacl) a
           WHERE c.oid = 'schema_migrations'::regclass AND a.grantee <> c.relowner AND a.grantee <> 0
             AND a.privilege_type IN ('INSERT', 'UPDATE', 'DELETE', 'TRUNCATE')"""
    )
    for row in grantees:
        await conn.execute(f"REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON schema_migrations FROM {row['name']}")
    public = await conn.fetchval(
        """SELECT count(*) FROM pg_class c, aclexplode(c.relacl) a WHERE c.oid = 'schema_migrations'::regclass
           AND a.grantee = 0 AND a.privilege_type IN ('INSERT', 'UPDATE', 'DELETE', 'TRUNCATE')"""
    )
    if public:
        await conn.execute("REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON schema_migrations FROM PUBLIC")


def main() -> int:
    # The schema owner's DSN (through PgBouncer's shipments_migrate, or directly to the primary); the
    # app's DATABASE_URL only where the app's user owns the schema (a database of one's own).
    dsn = os.environ.get("MIGRATION_DATABASE_URL") or os.environ.get("DATABASE_URL")
    if not dsn:
        print("set MIGRATION_DATABASE_URL or DATABASE_URL", file=sys.stderr)
        return 2
    raw_timeout = os.environ.get("MIGRATE_CONNECT_TIMEOUT", str(CONNECT_TIMEOUT_DEFAULT))
    try:
        timeout = float(raw_timeout)
        if not 0 <= timeout <= 3600:
            raise ValueError
    except ValueError:
        print(f"MIGRATE_CONNECT_TIMEOUT must be seconds between 0 and 3600, got {raw_timeout!r}", file=sys.stderr)
        return 2
    try:
        applied = asyncio.run(migrate(dsn, connect_timeout=timeout))
    except ConnectTimeout as exc:
        print(f"migrate: giving up: {exc}", file=sys.stderr)
        return 1
    print(f"applied: {', '.join(applied)}" if applied else "up to date")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
