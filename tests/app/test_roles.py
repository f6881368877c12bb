"""app tests room: least privilege in the database, on the real topology. The app logs in as a role that
reads and writes rows and can change nothing else; the migrations log in as the schema's owner; the
master user (RDS's, emulated: CREATEROLE, CREATEDB, no superuser) is used by the bootstrap alone and is
in no process's environment and not in PgBouncer's userlist."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from shipments.migrate import migrate

from local_topology.topology import APP_DIR, MASTER_USER, REPO, Topology

DENIED = asyncpg.InsufficientPrivilegeError


async def _as(dsn: str, work: Callable[[asyncpg.Connection], Awaitable[Any]]) -> Any:
    conn = await asyncpg.connect(dsn, statement_cache_size=0)
    try:
        return await work(conn)
    finally:
        await conn.close()


def _refused(dsn: str, *statements: str) -> dict[str, str]:
    """Each statement on its own (PgBouncer's transaction pooling): the error class of each."""

    async def work(conn: asyncpg.Connection) -> dict[str, str]:
        out = {}
        for sql in statements:
            try:
                await conn.execute(sql)
                out[sql] = "ALLOWED"
            except asyncpg.PostgresError as exc:
                out[sql] = type(exc).__name__
        return out

    return asyncio.run(_as(dsn, work))


SCHEMA_CHANGES = (
    "CREATE TABLE evil (x int)",
    "CREATE TEMP TABLE evil_tmp (x int)",
    "CREATE SCHEMA evil",
    "CREATE VIEW evil_v AS SELECT 1",
    "CREATE FUNCTION evil_f() RETURNS int LANGUAGE sql AS 'SELECT 1'",
    "ALTER TABLE shipments ADD COLUMN evil int",
    "CREATE INDEX evil_i ON shipments (origin)",
    "DROP TABLE inquiries",
    "TRUNCATE inquiries",
    "INSERT INTO schema_migrations (version, checksum) VALUES ('9999_evil', 'x')",
    "DELETE FROM schema_migrations",
)
ROLE_CHANGES = (
    "CREATE ROLE evil LOGIN",
    "ALTER ROLE shipments_app CREATEROLE",
    "ALTER ROLE shipments_app CREATEDB",
    "ALTER ROLE shipments_app SUPERUSER",
    "ALTER ROLE shipments_app BYPASSRLS",
    "ALTER ROLE shipments_owner PASSWORD 'taken-over-0123456789'",
    f"ALTER ROLE {MASTER_USER} PASSWORD 'taken-over-0123456789'",
    "GRANT shipments_owner TO shipments_app",
    "SET ROLE shipments_owner",
    "CREATE DATABASE evil",
)


def test_the_apps_role_cannot_change_the_schema_or_any_role(topo: Topology) -> None:
    """Through PgBouncer, exactly as the app connects (DATABASE_URL)."""
    refused = _refused(topo.database_url, *SCHEMA_CHANGES, *ROLE_CHANGES)
    allowed = {sql for sql, outcome in refused.items() if outcome == "ALLOWED"}
    assert not allowed, f"the app's role may: {sorted(allowed)}"
    assert {refused[s] for s in SCHEMA_CHANGES} == {"InsufficientPrivilegeError"}, refused
    assert {refused[s] for s in ROLE_CHANGES} == {"InsufficientPrivilegeError"}, refused
    made = topo.primary_sql("SELECT count(*) FROM pg_class WHERE relname LIKE 'evil%'", db="shipments")
    assert made == "0" and topo.primary_sql("SELECT count(*) FROM pg_namespace WHERE nspname = 'evil'",
                                            db="shipments") == "0"
    columns = topo.primary_sql("SELECT count(*) FROM pg_attribute WHERE attrelid = 'shipments'::regclass "
                               "AND attname = 'evil'", db="shipments")
    assert columns == "0" and topo.primary_sql("SELECT to_regclass('inquiries') IS NOT NULL", db="shipments") == "t"
    assert topo.primary_sql("SELECT count(*) FROM schema_migrations WHERE version = '9999_evil'", db="shipments") == "0"
    # Without the grant option a GRANT is a warning that grants nothing.
    assert _refused(topo.database_url, "GRANT SELECT ON api_keys TO PUBLIC") == {
        "GRANT SELECT ON api_keys TO PUBLIC": "ALLOWED"}
    assert topo.primary_sql("SELECT relacl::text FROM pg_class WHERE relname = 'api_keys'", db="shipments") == (
        "{shipments_owner=arwdDxt/shipments_owner,shipments_app=arwd/shipments_owner}")
    assert topo.primary_sql("SELECT rolcreaterole OR rolcreatedb OR rolsuper FROM pg_roles "
                            "WHERE rolname = 'shipments_app'") == "f"


def test_the_apps_role_reads_and_writes_rows(topo: Topology) -> None:
    async def work(conn: asyncpg.Connection) -> tuple[int, int, int]:
        row = await conn.fetchrow(
            "INSERT INTO inquiries (name, email, message) VALUES ('Rolf', 'r@example.com', 'row rights') RETURNING id"
        )
        updated = await conn.execute("UPDATE inquiries SET message = 'row rights!' WHERE id = $1", row["id"])
        read = await conn.fetchval("SELECT count(*) FROM inquiries WHERE id = $1", row["id"])
        deleted = await conn.execute("DELETE FROM inquiries WHERE id = $1", row["id"])
        return int(updated.split()[-1]), read, int(deleted.split()[-1])

    assert asyncio.run(_as(topo.database_url, work)) == (1, 1, 1)
    # schema_migrations: read-only to it (a role that could write it could mark a migration applied)
    versions = asyncio.run(_as(topo.database_url, lambda c: c.fetchval("SELECT count(*) FROM schema_migrations")))
    assert versions >= 2


def test_pgbouncer_admits_each_role_to_its_own_databases_and_never_the_master(topo: Topology) -> None:
    pgb = f"127.0.0.1:{topo.ports['pgbouncer']}"
    app, owner = f"shipments_app:{topo.db_password}", f"shipments_owner:{topo.owner_password}"
    cases = {
        "app -> shipments_migrate": f"postgresql://{app}@{pgb}/shipments_migrate",
        "owner -> shipments": f"postgresql://{owner}@{pgb}/shipments",
        "owner -> shipments_ro": f"postgresql://{owner}@{pgb}/shipments_ro",
        "master -> shipments": f"postgresql://{MASTER_USER}:{topo.master_password}@{pgb}/shipments",
    }
    for what, dsn in cases.items():
        # PgBouncer's hba: first match wins, and the last line rejects everyone else.
        with pytest.raises(asyncpg.PostgresError, match="login rejected"):
            asyncio.run(_as(dsn, lambda c: c.fetchval("SELECT 1")))
            pytest.fail(f"{what}: admitted")
    assert asyncio.run(_as(topo.migration_database_url, lambda c: c.fetchval("SELECT current_user"))) == "shipments_owner"
    userlist = (Path(topo.root or "") / "pgbouncer" / "userlist.txt").read_text()
    assert MASTER_USER not in userlist and topo.master_password not in userlist
    assert set(line.split()[0].strip('"') for line in userlist.splitlines()) == {"shipments_app", "shipments_owner"}
    # and no app process has the master's or the owner's credentials
    env = topo.app_process_env()
    assert not [k for k, v in env.items() if topo.master_password in v or topo.owner_password in v]


def _bootstrap(topo: Topology, database: str, **roles: str) -> subprocess.CompletedProcess[str]:
    env = {
        "PYTHONPATH": str(APP_DIR),
        "PATH": "/usr/bin:/bin",
        "MASTER_DATABASE_URL": f"postgresql://{MASTER_USER}:{topo.master_password}@127.0.0.1:"
                               f"{topo.ports['primary']}/{database}",
        "OWNER_PASSWORD": topo.owner_password,
        "APP_PASSWORD": topo.db_password,
        **roles,
    }
    return subprocess.run([sys.executable, "-m", "shipments.bootstrap"], env=env, capture_output=True, text=True,
                          cwd=REPO, timeout=60)


def test_what_the_owners_migrations_create_the_app_may_use_rows_of(topo: Topology, tmp_path: Path) -> None:
    """A database of its own, as RDS makes it (the master owns it): bootstrap, then the owner's
    migrations, then the app's role on the new table."""
    topo.primary_sql("DROP DATABASE IF EXISTS rolestest")
    topo.primary_sql(f"CREATE DATABASE rolestest OWNER {MASTER_USER}")
    done = _bootstrap(topo, "rolestest")
    assert done.returncode == 0, done.stderr
    (tmp_path / "0001_parcels.sql").write_text("CREATE TABLE parcels (id serial PRIMARY KEY, label text);")
    primary = f"127.0.0.1:{topo.ports['primary']}/rolestest"
    assert asyncio.run(migrate(f"postgresql://shipments_owner:{topo.owner_password}@{primary}", tmp_path)) == [
        "0001_parcels"]
    app = f"postgresql://shipments_app:{topo.db_password}@{primary}"
    assert asyncio.run(_as(app, lambda c: c.fetchval("INSERT INTO parcels (label) VALUES ('x') RETURNING id"))) == 1
    assert _refused(app, "ALTER TABLE parcels ADD COLUMN y int", "DROP TABLE parcels",
                    "UPDATE schema_migrations SET checksum = 'x'") == {
        "ALTER TABLE parcels ADD COLUMN y int": "InsufficientPrivilegeError",
        "DROP TABLE parcels": "InsufficientPrivilegeError",
        "UPDATE schema_migrations SET checksum = 'x'": "InsufficientPrivilegeError",
    }
    topo.primary_sql("DROP DATABASE rolestest")


def test_bootstrap_hands_a_schema_the_master_owned_to_the_owner_and_converges(topo: Topology) -> None:
    """A database restored from before the roles existed: its tables belong to the master."""
    topo.primary_sql("DROP DATABASE IF EXISTS legacytest")
    topo.primary_sql(f"CREATE DATABASE legacytest OWNER {MASTER_USER}")
    topo.primary_sql(f"SET ROLE {MASTER_USER}; CREATE TABLE old_shipments (id serial PRIMARY KEY, n int);"
                     "CREATE SEQUENCE old_counter; CREATE VIEW old_view AS SELECT id FROM old_shipments;",
                     db="legacytest")
    first = _bootstrap(topo, "legacytest")
    assert first.returncode == 0, first.stderr
    assert "handed to the owner: old_counter, old_shipments, old_view" in first.stdout
    owners = topo.primary_sql("SELECT string_agg(relname || '=' || relowner::regrole::text, ',' ORDER BY relname) "
                              "FROM pg_class WHERE relnamespace = 'public'::regnamespace", db="legacytest")
    assert owners == ("old_counter=shipments_owner,old_shipments=shipments_owner,old_shipments_id_seq=shipments_owner,"
                      "old_shipments_pkey=shipments_owner,old_view=shipments_owner")
    app = f"postgresql://shipments_app:{topo.db_password}@127.0.0.1:{topo.ports['primary']}/legacytest"
    assert asyncio.run(_as(app, lambda c: c.fetchval("INSERT INTO old_shipments (n) VALUES (1) RETURNING n"))) == 1
    again = _bootstrap(topo, "legacytest")
    assert again.returncode == 0 and "created: none" in again.stdout and "handed to the owner: nothing" in again.stdout
    topo.primary_sql("DROP DATABASE legacytest")


def test_bootstrap_refuses_a_role_with_powers_and_bad_input(topo: Topology) -> None:
    topo.primary_sql("DROP DATABASE IF EXISTS powertest")
    topo.primary_sql(f"CREATE DATABASE powertest OWNER {MASTER_USER}")
    try:
        topo.primary_sql("DROP ROLE IF EXISTS t_app; CREATE ROLE t_app LOGIN BYPASSRLS")
        refused = _bootstrap(topo, "powertest", OWNER_ROLE="t_owner", APP_ROLE="t_app")
        assert refused.returncode == 1 and "role t_app has BYPASSRLS" in refused.stderr
        assert topo.primary_sql("SELECT count(*) FROM pg_roles WHERE rolname = 't_owner'") == "0"  # all or nothing
        bad = _bootstrap(topo, "powertest", OWNER_ROLE="t_owner", APP_ROLE="t_owner")
        assert bad.returncode == 1 and "OWNER_ROLE and APP_ROLE must differ" in bad.stderr
        short = _bootstrap(topo, "powertest", APP_PASSWORD="short")
        assert short.returncode == 1 and "APP_PASSWORD must be at least 16" in short.stderr
        assert topo.master_password not in refused.stderr + bad.stderr + short.stderr
    finally:
        topo.primary_sql("DROP DATABASE IF EXISTS powertest")
        topo.primary_sql("DROP ROLE IF EXISTS t_app; DROP ROLE IF EXISTS t_owner")
