"""app room: `python -m shipments.migrate`: apply the versioned SQL files in migrations/ in order.

Idempotent and safe to run from several pods at once: everything happens in one transaction under
pg_advisory_xact_lock (a transaction-scoped lock, which also works through PgBouncer's transaction
pooling). It also sets the role's 10 s statement_timeout: a startup parameter would be rejected by
PgBouncer, a role setting applies to every new server session (and sessions older than the setting
are ended, see _drop_sessions_without).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
import sys
from pathlib import Path

import asyncpg

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
LOCK_ID = 0x5348_4950  # "SHIP"
STATEMENT_TIMEOUT = "10s"
ROLE_SETTINGS = (f"statement_timeout={STATEMENT_TIMEOUT}", "idle_in_transaction_session_timeout=30s")
_GONE = (asyncpg.AdminShutdownError, asyncpg.InterfaceError, asyncpg.PostgresConnectionError, OSError)
_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


def migration_files(directory: Path = MIGRATIONS_DIR) -> list[tuple[str, Path]]:
    files = []
    for path in sorted(directory.iterdir()):
        if path.suffix == ".sql":
            if not _NAME.match(path.name):
                raise ValueError(f"migration file {path.name!r} must be named NNNN_name.sql")
            files.append((path.stem, path))
    return files


async def migrate(dsn: str, directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Apply pending migrations; returns the versions applied by this call."""
    conn = await asyncpg.connect(dsn, statement_cache_size=0)
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
            role_changed = await conn.fetchval(
                "SELECT NOT (coalesce(rolconfig, '{}') @> $1::text[]) FROM pg_roles WHERE rolname = current_user",
                list(ROLE_SETTINGS),
            )
            for setting in ROLE_SETTINGS:
                name, value = setting.split("=", 1)
                await conn.execute(f"ALTER ROLE CURRENT_USER SET {name} = '{value}'")
        if role_changed:
            await _drop_sessions_without(conn)
    finally:
        with contextlib.suppress(*_GONE):
            await conn.close()
    return applied


async def _drop_sessions_without(conn: asyncpg.Connection) -> None:
    """Role settings apply when a session starts, and PgBouncer keeps server sessions for an hour:
    end the role's idle sessions (PgBouncer opens fresh ones) and this one, which predates the
    settings and would otherwise go back into PgBouncer's pool."""
    await conn.execute(
        """SELECT pg_terminate_backend(pid) FROM pg_stat_activity
           WHERE usename = current_user AND pid <> pg_backend_pid()
             AND backend_type = 'client backend' AND state = 'idle'"""
    )
    with contextlib.suppress(*_GONE):
        await conn.execute("SELECT pg_terminate_backend(pg_backend_pid())")


def main() -> int:
    # A direct connection to the primary is preferred for migrations; PgBouncer's pool works too.
    dsn = os.environ.get("MIGRATION_DATABASE_URL") or os.environ.get("DATABASE_URL")
    if not dsn:
        print("set MIGRATION_DATABASE_URL or DATABASE_URL", file=sys.stderr)
        return 2
    applied = asyncio.run(migrate(dsn))
    print(f"applied: {', '.join(applied)}" if applied else "up to date")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
