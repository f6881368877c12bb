"""Components room: PgBouncer's configuration files, rendered from the pooler's settings.

Pure functions with no Pulumi import, so the one `pgbouncer.ini` the cluster runs is also what the
local topology (`stacks/local.py`) starts PgBouncer with: what the tests exercise is the file
production reads, not a hand-written look-alike.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from components.settings import APP_ROLE, OWNER_ROLE, PgBouncerSettings

# Requests of the pooler and its sidecars: the Deployment (components/pgbouncer.py) and the capacity check
# (stacks/config.py) read the same figures.
CPU_REQUEST = "100m"
MEMORY_REQUEST = "64Mi"
EXPORTER_RESOURCES = {"requests": {"cpu": "10m", "memory": "32Mi"}, "limits": {"cpu": "200m", "memory": "64Mi"}}

PORT = 6432
RW_DATABASE = "shipments"
RO_DATABASE = "shipments_ro"
# The migrations' way in: the primary again, under a name of its own so that the schema owner has a
# pool of its own (PgBouncer pools per database name and user) with a small, fixed budget.
MIGRATE_DATABASE = "shipments_migrate"
MIGRATE_POOL_SIZE = 2
# The database roles PgBouncer admits, APP_ROLE and OWNER_ROLE (imported above), are declared with
# DatabaseRoles' settings in components/settings.py; the local topology takes them from here.
# A user that exists only in PgBouncer: the exporter reads SHOW STATS/POOLS as it, over loopback.
STATS_USER = "pgbouncer_stats"
# Sibling mounts: a mount nested inside a ConfigMap volume cannot be created (read-only).
CONFIG_DIR = "/etc/pgbouncer/config"
SECRET_DIR = "/etc/pgbouncer/secret"
TLS_DIR = "/etc/pgbouncer/tls"
CA_FILE = f"{TLS_DIR}/rds-ca.pem"


def database_limits(s: PgBouncerSettings) -> dict[str, int]:
    """Server connections one PgBouncer pod may open per database name (its `max_db_connections`).

    A pool is per (database name, user) and `reserve_pool_size` adds to every pool; the hba file lets
    one user into each name, so each name has one pool: its pool size plus the reserve (the
    migrations' pool: its fixed size, reserve included).
    """
    return {
        RW_DATABASE: s.default_pool_size + s.reserve_pool_size,
        RO_DATABASE: s.read_only_pool_size + s.reserve_pool_size,
        MIGRATE_DATABASE: MIGRATE_POOL_SIZE,
    }


def server_connections(s: PgBouncerSettings) -> int:
    """Server connections every PgBouncer pod may open at once, all pods together."""
    return s.replicas * sum(database_limits(s).values())


def render_ini(
    s: PgBouncerSettings,
    primary: str,
    replicas: Sequence[str],
    *,
    port: int = 5432,
    replica_port: int | None = None,
    dbname: str = RW_DATABASE,
    listen_addr: str = "0.0.0.0",
    listen_port: int = PORT,
    config_dir: str = CONFIG_DIR,
    secret_dir: str = SECRET_DIR,
    ca_file: str | None = CA_FILE,
    prepared_statements: bool = True,
    overrides: Mapping[str, str] | None = None,
) -> str:
    """pgbouncer.ini: `shipments` -> the primary, `shipments_ro` -> the replicas (or the primary).

    `replica_port` is the replicas' port when it differs from the primary's (the local topology
    runs both on one host); `ca_file=None` connects to servers without TLS (the local topology's PostgreSQL has none);
    `prepared_statements=False` leaves out max_prepared_statements, which PgBouncer < 1.21 refuses
    as an unknown parameter; `overrides` replaces or adds [pgbouncer] settings.
    """
    readers = ",".join(replicas) if replicas else primary
    reader_port = (replica_port or port) if replicas else port
    settings: dict[str, str] = {
        "listen_addr": listen_addr,
        "listen_port": str(listen_port),
        # No unix socket: the root filesystem is read-only and nothing local needs one.
        "unix_socket_dir": "",
        "auth_type": "hba",
        "auth_hba_file": f"{config_dir}/pgbouncer_hba.conf",
        "auth_file": f"{secret_dir}/userlist.txt",
        "stats_users": STATS_USER,
        "pool_mode": "transaction",
        "default_pool_size": str(s.default_pool_size),
        "reserve_pool_size": str(s.reserve_pool_size),
        "reserve_pool_timeout": "3",
        "max_client_conn": str(s.max_client_conn),
        "server_idle_timeout": str(s.server_idle_timeout_seconds),
        "server_lifetime": "3600",
        "query_wait_timeout": "60",
        "ignore_startup_parameters": "extra_float_digits,options",
        "application_name_add_host": "1",
        "log_connections": "0",
        "log_disconnections": "0",
        "log_pooler_errors": "1",
        "stats_period": "60",
    }
    if prepared_statements:
        # asyncpg prepares statements; PgBouncer >= 1.21 tracks them in transaction mode.
        settings["max_prepared_statements"] = "200"
    if ca_file is not None:
        # RDS forces TLS; verify-full checks the chain and that the name is the endpoint's.
        settings |= {
            "server_tls_sslmode": "verify-full",
            "server_tls_ca_file": ca_file,
            "server_tls_protocols": "secure",  # TLS 1.2 and 1.3
        }
    settings |= dict(overrides or {})
    # max_db_connections caps each name's server connections whoever connects (database_limits): the
    # budget is in the file, and the policy pack reads it from there.
    limit = database_limits(s)
    return "\n".join(
        [
            "[databases]",
            f"{RW_DATABASE} = host={primary} port={port} dbname={dbname} pool_size={s.default_pool_size} "
            f"max_db_connections={limit[RW_DATABASE]}",
            # Several hosts: PgBouncer spreads new server connections over them round robin.
            f"{RO_DATABASE} = host={readers} port={reader_port} dbname={dbname} pool_size={s.read_only_pool_size} "
            f"max_db_connections={limit[RO_DATABASE]}",
            f"{MIGRATE_DATABASE} = host={primary} port={port} dbname={dbname} pool_size={MIGRATE_POOL_SIZE} "
            f"max_db_connections={limit[MIGRATE_DATABASE]}",
            "",
            "[pgbouncer]",
            *(f"{k} = {v}" if v else f"{k} =" for k, v in settings.items()),
            "",
        ]
    )


def render_hba(app_role: str = APP_ROLE, owner_role: str = OWNER_ROLE) -> str:
    """Who may log in where, first match wins: the exporter over loopback to the admin console without
    a password; the app (SCRAM) to the read-write and read-only names; the schema owner (SCRAM) to the
    migrations' name only; nobody else, anywhere."""
    return "\n".join(
        [
            f"host pgbouncer {STATS_USER} 127.0.0.1/32 trust",
            f"host all {STATS_USER} 0.0.0.0/0 reject",
            f"host {RW_DATABASE},{RO_DATABASE} {app_role} 0.0.0.0/0 scram-sha-256",
            f"host {MIGRATE_DATABASE} {owner_role} 0.0.0.0/0 scram-sha-256",
            "host all all 0.0.0.0/0 reject",
            "",
        ]
    )


def _quote(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


def render_userlist(users: Mapping[str, str]) -> str:
    return "".join(f"{_quote(u)} {_quote(p)}\n" for u, p in users.items())
