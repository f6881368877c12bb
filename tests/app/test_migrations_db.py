"""app tests room: migrations (idempotent, concurrent-safe, checksummed, the schema owner's) and the
database layer's retry of serialization failures and deadlocks, against the real topology."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path

import asyncpg
import pytest
from shipments.db import Database
from shipments.metrics import METRICS
from shipments.migrate import migrate

from local_topology.topology import REPO, Topology

from .relay import Relay


def test_migrations_are_idempotent_and_the_app_role_has_its_timeout(topo: Topology) -> None:
    again = subprocess.run(
        [sys.executable, "-m", "shipments.migrate"],
        env=topo.migration_env(),
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert again.returncode == 0 and again.stdout.strip() == "up to date", again.stderr
    # The bootstrap sets the app role's limits; the migrations (as the owner) leave roles alone.
    config = topo.primary_sql("SELECT array_to_string(rolconfig, ',') FROM pg_roles WHERE rolname = 'shipments_app'")
    assert "statement_timeout=10s" in config
    assert topo.primary_sql("SELECT rolconfig IS NULL FROM pg_roles WHERE rolname = 'shipments_owner'") == "t"

    async def timeout_through_pgbouncer() -> str:
        conn = await asyncpg.connect(topo.database_url, statement_cache_size=0)
        try:
            return await conn.fetchval("SHOW statement_timeout")
        finally:
            await conn.close()

    assert asyncio.run(timeout_through_pgbouncer()) == "10s"
    # The app's own credentials cannot run the migrations: its role may not create anything.
    as_app = subprocess.run(
        [sys.executable, "-m", "shipments.migrate"],
        env=topo.app_process_env(),
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert as_app.returncode != 0 and "permission denied for schema public" in as_app.stderr


def test_concurrent_migrations_apply_once_and_edits_are_refused(topo: Topology, tmp_path: Path) -> None:
    topo.primary_sql("DROP DATABASE IF EXISTS migtest")
    topo.primary_sql("CREATE DATABASE migtest OWNER shipments_owner")
    dsn = f"postgresql://shipments_owner:{topo.owner_password}@127.0.0.1:{topo.ports['primary']}/migtest"
    (tmp_path / "0001_a.sql").write_text("CREATE TABLE a (x int);")
    (tmp_path / "0002_b.sql").write_text("CREATE TABLE b (y int); INSERT INTO a VALUES (1);")

    async def race() -> list[list[str]]:
        return await asyncio.gather(*(migrate(dsn, tmp_path) for _ in range(4)))

    applied = asyncio.run(race())
    assert sorted(applied, key=len) == [[], [], [], ["0001_a", "0002_b"]]  # exactly one run applied them
    assert topo.primary_sql("SELECT count(*) FROM a", db="migtest") == "1"

    (tmp_path / "0002_b.sql").write_text("CREATE TABLE b (y bigint);")
    with pytest.raises(RuntimeError, match="0002_b changed"):
        asyncio.run(migrate(dsn, tmp_path))


def test_writes_retry_serialization_failures_and_deadlocks(topo: Topology) -> None:
    async def scenario() -> tuple[int, float]:
        db = Database(topo.database_url, (), pool_min=1, pool_max=2)
        await db.start()
        before = sum(s.value for m in METRICS.db_retries.collect() for s in m.samples if s.name.endswith("_total"))
        attempts = 0
        try:

            async def flaky(conn: asyncpg.Connection) -> int:
                nonlocal attempts
                attempts += 1
                await conn.execute("SELECT 1")
                if attempts == 1:
                    raise asyncpg.SerializationError("could not serialize access")
                if attempts == 2:
                    raise asyncpg.DeadlockDetectedError("deadlock detected")
                return await conn.fetchval("SELECT 42")

            assert await db.write(flaky) == 42

            async def always(conn: asyncpg.Connection) -> None:
                raise asyncpg.SerializationError("could not serialize access")

            with pytest.raises(asyncpg.SerializationError):
                await db.write(always)
        finally:
            await db.close()
        after = sum(s.value for m in METRICS.db_retries.collect() for s in m.samples if s.name.endswith("_total"))
        return attempts, after - before

    attempts, retried = asyncio.run(scenario())
    assert attempts == 3
    assert retried == 2 + 4  # two for the flaky write, four before the always-failing one gives up


def test_a_real_deadlock_is_retried_to_success(topo: Topology) -> None:
    """Two transactions lock two rows in opposite orders: PostgreSQL kills one (40P01); its retry wins."""
    topo.primary_sql(
        "CREATE TABLE IF NOT EXISTS deadlock_probe (id int PRIMARY KEY, n int);"
        "ALTER TABLE deadlock_probe OWNER TO shipments_owner;"
        "GRANT SELECT, INSERT, UPDATE, DELETE ON deadlock_probe TO shipments_app;"
        "INSERT INTO deadlock_probe VALUES (1, 0), (2, 0) ON CONFLICT DO NOTHING;",
        db="shipments",
    )
    topo.primary_sql("UPDATE deadlock_probe SET n = 0", db="shipments")

    async def scenario() -> list[int]:
        db = Database(topo.database_url, (), pool_min=2, pool_max=4)
        await db.start()
        barrier = asyncio.Barrier(2)
        first_try = {"a": True, "b": True}
        try:

            def tx(name: str, first: int, second: int):
                async def run(conn: asyncpg.Connection) -> int:
                    await conn.execute("UPDATE deadlock_probe SET n = n + 1 WHERE id = $1", first)
                    if first_try[name]:
                        first_try[name] = False
                        await barrier.wait()  # both hold their first lock: now cross over
                    await conn.execute("UPDATE deadlock_probe SET n = n + 1 WHERE id = $1", second)
                    return 1

                return run

            return await asyncio.gather(db.write(tx("a", 1, 2)), db.write(tx("b", 2, 1)))
        finally:
            await db.close()

    assert asyncio.run(scenario()) == [1, 1]
    assert topo.primary_sql("SELECT string_agg(n::text, ',' ORDER BY id) FROM deadlock_probe", db="shipments") == "2,2"


def test_keys_cli_creates_working_keys_of_the_role(topo: Topology) -> None:
    import httpx

    out = subprocess.run(
        [sys.executable, "-m", "shipments.keys", "create", "--role", "reader", "--count", "2"],
        env=topo.app_process_env(),
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    keys = out.stdout.split()
    assert len(keys) == 2 and all(k.startswith("shk_") for k in keys) and keys[0] != keys[1]
    stored = topo.primary_sql("SELECT key_hash FROM api_keys", db="shipments")
    assert keys[0] not in stored  # only hashes are stored
    with httpx.Client(base_url=topo.app_urls[0], timeout=10) as client:
        assert client.get("/api/shipments", headers={"Authorization": f"Bearer {keys[1]}"}).status_code == 200
        denied = client.post("/api/shipments", json={}, headers={"Authorization": f"Bearer {keys[0]}"})
        assert denied.status_code == 403
    bad = subprocess.run(
        [sys.executable, "-m", "shipments.keys", "create", "--role", "root"],
        env=topo.app_process_env(),
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert bad.returncode == 2 and "invalid choice" in bad.stderr



def test_a_one_statement_write_on_a_silently_dead_connection_is_retried(topo: Topology) -> None:
    """A one-statement write has no BEGIN that would fail first: after a quiet spell the pool's
    connection is probed, and a dead one costs the probe's timeout and a retry, not a 503."""

    async def scenario() -> tuple[int, float]:
        relay = Relay(topo.ports["pgbouncer"])
        dsn = topo.database_url.replace(f":{topo.ports['pgbouncer']}/", f":{relay.port}/")
        db = Database(dsn, (), pool_min=1, pool_max=1, command_timeout=3.0, idle_probe_seconds=0.2, probe_timeout=0.5)
        await db.start()
        try:
            assert await db.write(lambda c: c.fetchval("SELECT 1"), transaction=False) == 1  # warm: one connection
            await asyncio.sleep(0.3)  # quiet for longer than idle_probe_seconds
            relay.silence()  # PgBouncer's node gone: its connections answer nothing, new ones work
            started = time.monotonic()
            value = await db.write(lambda c: c.fetchval("SELECT 2"), transaction=False)
            return value, time.monotonic() - started
        finally:
            await db.close()
            relay.close()

    value, took = asyncio.run(scenario())
    assert value == 2
    assert took < 3.0, f"answered after the probe's timeout and a retry, not the command timeout ({took:.1f} s)"
