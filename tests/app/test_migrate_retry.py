"""app tests room: the migrations Job waits for a database that is still coming up, and gives up
within its bound when none comes (the Job must not fail on its first refused connection)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time

import asyncpg
import pytest
from shipments.migrate import ConnectTimeout, connect_with_retry

from local_topology.topology import REPO, Topology, free_port

from .relay import Relay


def _migrate(topo: Topology, dsn: str, timeout: str) -> subprocess.CompletedProcess[str]:
    env = {**topo.app_process_env(), "MIGRATION_DATABASE_URL": dsn, "MIGRATE_CONNECT_TIMEOUT": timeout}
    return subprocess.run([sys.executable, "-m", "shipments.migrate"], env=env, capture_output=True, text=True,
                          cwd=REPO, timeout=120)


def test_migrate_waits_for_a_database_that_comes_up_after_it_started(topo: Topology) -> None:
    topo.primary_sql("DROP DATABASE IF EXISTS miglate")
    topo.primary_sql("CREATE DATABASE miglate OWNER shipments_owner")
    port = free_port()
    dsn = f"postgresql://shipments_owner:{topo.owner_password}@127.0.0.1:{port}/miglate"
    started = time.monotonic()
    with Relay(topo.ports["primary"], port=port, delay=3.0):
        done = _migrate(topo, dsn, timeout="60")
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - started >= 3.0
    assert "database not reachable yet" in done.stderr  # it retried rather than got lucky
    assert done.stdout.strip().startswith("applied: 0001")
    assert topo.primary_sql("SELECT count(*) FROM schema_migrations", db="miglate") != "0"


def test_migrate_gives_up_with_a_clear_message_within_its_bound(topo: Topology) -> None:
    dsn = f"postgresql://shipments_owner:x@127.0.0.1:{free_port()}/nowhere"
    started = time.monotonic()
    done = _migrate(topo, dsn, timeout="3")
    elapsed = time.monotonic() - started
    assert done.returncode == 1
    assert "giving up: the database did not accept a connection within 3 s" in done.stderr
    assert "Traceback" not in done.stderr
    assert elapsed < 20, f"took {elapsed:.1f} s for a 3 s bound"


def test_a_bad_timeout_is_refused_by_name(topo: Topology) -> None:
    done = _migrate(topo, topo.database_url, timeout="soon")
    assert done.returncode == 2 and "MIGRATE_CONNECT_TIMEOUT" in done.stderr


def test_only_not_yet_errors_are_retried() -> None:
    calls: list[int] = []

    async def pgbouncer_without_server() -> asyncpg.Connection:
        calls.append(1)
        # What PgBouncer answers while it cannot reach its server (SQLSTATE 08P01).
        raise asyncpg.ProtocolViolationError("server login has been failing, try again later")

    with pytest.raises(ConnectTimeout, match="ProtocolViolationError"):
        asyncio.run(connect_with_retry("x", timeout=0.5, connect=pgbouncer_without_server, log=lambda m: None,
                                       base=0.05, cap=0.1))
    assert len(calls) > 1

    calls.clear()

    async def wrong_password() -> asyncpg.Connection:
        calls.append(1)
        raise asyncpg.InvalidPasswordError("password authentication failed")

    with pytest.raises(asyncpg.InvalidPasswordError):
        asyncio.run(connect_with_retry("x", timeout=5, connect=wrong_password, log=lambda m: None))
    assert calls == [1]  # no retry on a mistake that waiting cannot fix
