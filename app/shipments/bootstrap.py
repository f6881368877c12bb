"""app room: `python -m shipments.bootstrap`: the database roles the app and its migrations log in as.

Runs before PgBouncer and the migrations (a Kubernetes Job in the cluster, a step of the local
topology), as the database's master user, directly against the primary. On RDS the master is not a
superuser: it has CREATEROLE and CREATEDB and is a member of rds_superuser; nothing here needs more.

- OWNER_ROLE (shipments_owner) owns the schema: the migrations run as it. USAGE and CREATE on schema
  public, CONNECT and TEMPORARY on the database.
- APP_ROLE (shipments_app) reads and writes rows: SELECT, INSERT, UPDATE, DELETE on the tables and
  USAGE, SELECT on the sequences of schema public (the present ones, and, through default privileges,
  every one the owner creates later); USAGE on the schema, CONNECT on the database. No CREATE
  anywhere, no TEMPORARY, no role attribute; schema_migrations is read-only to it (shipments.migrate).
  Its server-side limits are set here: statement_timeout 10 s, idle_in_transaction_session_timeout
  30 s (when they change, its idle sessions are ended so that PgBouncer reopens them with them).
- Both: LOGIN NOCREATEDB NOCREATEROLE, member of no role. Passwords (OWNER_PASSWORD, APP_PASSWORD)
  are sent as SCRAM-SHA-256 verifiers computed here: no password reaches the server, or its logs, in
  clear. A role that has been given SUPERUSER, REPLICATION, BYPASSRLS or a membership is refused
  (the master cannot take those away on RDS, and the role must not keep them).
- Tables, views and sequences the master user owns in schema public (a database restored from before
  these roles existed) are handed to the owner. PUBLIC loses CONNECT on the database and CREATE on
  schema public.

Idempotent: every run converges (roles created or altered, passwords set again: what a restored
database, which brings the source stack's roles, needs) under an advisory lock.

The master's credentials come from MASTER_DATABASE_URL (the local topology, an operator's shell) or
from RDS's managed secret (MASTER_SECRET_ARN, JSON with username and password) read with the pod's
own AWS credentials (EKS Pod Identity: shipments.secretsmanager), connecting to DATABASE_HOST with
TLS verified against RDS's CA bundle (RDS_CA_BUNDLE_URL). They live in this process's memory only:
never in a Kubernetes object, an environment variable or a file.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import os
import re
import secrets
import ssl
import sys
import time
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass

import asyncpg

from shipments.backoff import backoff_delay
from shipments.migrate import CONNECT_TIMEOUT_DEFAULT, ConnectTimeout, connect_with_retry
from shipments.secretsmanager import AwsError, credentials, get_secret_string

LOCK_ID = 0x5348_4951  # "SHIQ": one bootstrap at a time (the migrations use "SHIP")
RDS_CA_BUNDLE_URL = "https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem"
SCRAM_ITERATIONS = 4096  # PostgreSQL's default (scram_iterations)
APP_ROLE_SETTINGS = {"statement_timeout": "10s", "idle_in_transaction_session_timeout": "30s"}
# Role names are SQL identifiers we quote ourselves: keep them plain.
_ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class BootstrapError(RuntimeError):
    """The roles could not be put in place; the message says why and what to do."""


@dataclass(frozen=True)
class Roles:
    owner: str
    owner_password: str
    app: str
    app_password: str

    def __post_init__(self) -> None:
        for var, name in (("OWNER_ROLE", self.owner), ("APP_ROLE", self.app)):
            if not _ROLE_NAME.match(name):
                raise BootstrapError(f"{var}={name!r}: must be a lower-case SQL name ([a-z_][a-z0-9_]*)")
        if self.owner == self.app:
            raise BootstrapError(f"OWNER_ROLE and APP_ROLE must differ (both {self.owner!r})")
        for var, password in (("OWNER_PASSWORD", self.owner_password), ("APP_PASSWORD", self.app_password)):
            # Printable ASCII: PostgreSQL would SASLprep anything else, PgBouncer's userlist would not.
            if len(password) < 16 or not all(33 <= ord(c) < 127 for c in password):
                raise BootstrapError(f"{var} must be at least 16 printable ASCII characters without spaces")

    def __repr__(self) -> str:
        return f"Roles(owner={self.owner!r}, app={self.app!r})"


def scram_verifier(password: str, salt: bytes | None = None, iterations: int = SCRAM_ITERATIONS) -> str:
    """The SCRAM-SHA-256 verifier PostgreSQL stores for `password` (what `\\password` sends)."""
    salt = salt if salt is not None else secrets.token_bytes(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()

    def b64(b: bytes) -> str:
        return base64.b64encode(b).decode()

    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


async def bootstrap(conn: asyncpg.Connection, roles: Roles) -> dict[str, list[str]]:
    """Put the roles and their privileges in place; returns what was created or changed."""
    done: dict[str, list[str]] = {"created": [], "settings": [], "reassigned": []}
    owner, app = _ident(roles.owner), _ident(roles.app)
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", LOCK_ID)
        database = await conn.fetchval("SELECT current_database()")
        master = await conn.fetchval("SELECT current_user")
        for name, password in ((roles.owner, roles.owner_password), (roles.app, roles.app_password)):
            exists = await conn.fetchval("SELECT true FROM pg_roles WHERE rolname = $1", name)
            verb = "ALTER" if exists else "CREATE"
            await conn.execute(
                f"{verb} ROLE {_ident(name)} WITH LOGIN NOCREATEDB NOCREATEROLE INHERIT "
                f"PASSWORD {_literal(scram_verifier(password))}"
            )
            if not exists:
                done["created"].append(name)
            await _refuse_extra_powers(conn, name)
        # The master acts as the owner for what follows (ownership, default privileges).
        await conn.execute(f"GRANT {owner} TO {_ident(master)}")

        await conn.execute(f"REVOKE ALL ON DATABASE {_ident(database)} FROM PUBLIC")
        await conn.execute(f"GRANT CONNECT, TEMPORARY ON DATABASE {_ident(database)} TO {owner}")
        await conn.execute(f"GRANT CONNECT ON DATABASE {_ident(database)} TO {app}")
        await conn.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
        await conn.execute(f"GRANT USAGE, CREATE ON SCHEMA public TO {owner}")
        await conn.execute(f"GRANT USAGE ON SCHEMA public TO {app}")

        kinds = {"r": "TABLE", "p": "TABLE", "v": "VIEW", "m": "MATERIALIZED VIEW", "S": "SEQUENCE", "f": "FOREIGN TABLE"}
        rows = await conn.fetch(
            """SELECT c.relname, c.relkind::text AS relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE n.nspname = 'public' AND c.relowner = (SELECT oid FROM pg_roles WHERE rolname = current_user)
                 AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
                 -- a sequence owned by a table column moves with its table
                 AND NOT (c.relkind = 'S' AND EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid
                          AND d.deptype IN ('a', 'i') AND d.classid = 'pg_class'::regclass))
               ORDER BY c.relname"""
        )
        for row in rows:
            await conn.execute(f"ALTER {kinds[row['relkind']]} public.{_ident(row['relname'])} OWNER TO {owner}")
            done["reassigned"].append(row["relname"])

        await conn.execute(
            f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA public "
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {app}"
        )
        await conn.execute(
            f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO {app}"
        )
        await conn.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {app}")
        await conn.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {app}")
        if await conn.fetchval("SELECT to_regclass('public.schema_migrations') IS NOT NULL"):
            await conn.execute(f"REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON public.schema_migrations FROM {app}")

        current = await conn.fetchval(
            "SELECT coalesce(rolconfig, '{}') FROM pg_roles WHERE rolname = $1", roles.app
        )
        for name, value in APP_ROLE_SETTINGS.items():
            if f"{name}={value}" not in current:
                await conn.execute(f"ALTER ROLE {app} SET {name} = {_literal(value)}")
                done["settings"].append(f"{name}={value}")
    if done["settings"]:
        # Role settings apply when a session starts, and PgBouncer keeps server sessions for an hour:
        # end the app role's idle ones (PgBouncer opens fresh ones, with the settings).
        await conn.execute(
            """SELECT pg_terminate_backend(pid) FROM pg_stat_activity
               WHERE usename = $1 AND backend_type = 'client backend' AND state = 'idle'""",
            roles.app,
        )
    return done


async def _refuse_extra_powers(conn: asyncpg.Connection, name: str) -> None:
    row = await conn.fetchrow(
        "SELECT rolsuper, rolreplication, rolbypassrls FROM pg_roles WHERE rolname = $1", name
    )
    powers = [k.removeprefix("rol").upper() for k, v in row.items() if v]
    groups = await conn.fetch(
        """SELECT g.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid
           JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = $1 ORDER BY 1""",
        name,
    )
    powers += [f"member of {g['rolname']}" for g in groups]
    if powers:
        raise BootstrapError(
            f"role {name} has {', '.join(powers)}: it must hold none (remove it as a superuser, or as the role's "
            "grantor), then run the bootstrap again"
        )


# ---- where the master's credentials come from -------------------------------------------------------------
@dataclass(frozen=True)
class Target:
    """How to reach the primary as the master user (never printed with its password)."""

    host: str
    port: int
    database: str
    user: str
    password: str
    ssl: ssl.SSLContext | None

    def __repr__(self) -> str:
        return f"Target({self.user}@{self.host}:{self.port}/{self.database})"


def rds_ca_context(url: str = RDS_CA_BUNDLE_URL) -> ssl.SSLContext:
    """verify-full against RDS's CA bundle, fetched over HTTPS checked with the image's CAs."""
    with urllib.request.urlopen(url, timeout=30) as response:
        bundle = response.read().decode()
    if "BEGIN CERTIFICATE" not in bundle:
        raise BootstrapError(f"{url} did not return a PEM bundle")
    context = ssl.create_default_context(cadata=bundle)
    context.check_hostname = True
    context.verify_mode = ssl.CERT_REQUIRED
    return context


def target_from_env(env: Mapping[str, str], *, deadline: float) -> Target:
    """The master's connection: MASTER_DATABASE_URL, or RDS's managed secret and the primary's address."""
    url = env.get("MASTER_DATABASE_URL")
    if url:
        from urllib.parse import unquote, urlsplit

        parts = urlsplit(url)
        if parts.scheme not in ("postgres", "postgresql") or not parts.hostname or not parts.username:
            raise BootstrapError("MASTER_DATABASE_URL must be postgresql://USER:PASSWORD@HOST:PORT/DATABASE")
        return Target(parts.hostname, parts.port or 5432, parts.path.lstrip("/") or "postgres",
                      unquote(parts.username), unquote(parts.password or ""), None)
    arn = env.get("MASTER_SECRET_ARN")
    host = env.get("DATABASE_HOST")
    if not arn or not host:
        raise BootstrapError("set MASTER_SECRET_ARN and DATABASE_HOST (RDS's managed master secret and the primary), "
                             "or MASTER_DATABASE_URL")
    secret = _read_secret(arn, env, deadline=deadline)
    try:
        value = json.loads(secret)
        user, password = str(value["username"]), str(value["password"])
    except (ValueError, KeyError, TypeError):
        raise BootstrapError(f"{arn} is not RDS's master secret (JSON with username and password)") from None
    port = env.get("DATABASE_PORT", "5432")
    if not port.isdigit():
        raise BootstrapError(f"DATABASE_PORT={port!r}: must be a port number")
    return Target(host, int(port), env.get("DATABASE_NAME", "shipments"), user, password,
                  rds_ca_context(env.get("RDS_CA_BUNDLE_URL", RDS_CA_BUNDLE_URL)))


def _read_secret(arn: str, env: Mapping[str, str], *, deadline: float) -> str:
    attempt = 0
    while True:
        try:
            return get_secret_string(arn, creds=credentials(env), environ=env)
        except AwsError as exc:
            left = deadline - time.monotonic()
            if not exc.retryable or left <= 0:
                raise BootstrapError(f"cannot read the master secret {arn}: {exc}") from None
            delay = min(left, backoff_delay(attempt, base=0.5, cap=10.0))
            print(f"master secret not readable yet ({exc}); retry {attempt + 1} in {delay:.1f} s",
                  file=sys.stderr, flush=True)
            time.sleep(delay)
            attempt += 1


def roles_from_env(env: Mapping[str, str]) -> Roles:
    missing = [v for v in ("OWNER_PASSWORD", "APP_PASSWORD") if not env.get(v)]
    if missing:
        raise BootstrapError(f"set {' and '.join(missing)}")
    return Roles(env.get("OWNER_ROLE", "shipments_owner"), env["OWNER_PASSWORD"],
                 env.get("APP_ROLE", "shipments_app"), env["APP_PASSWORD"])


async def run(env: Mapping[str, str]) -> dict[str, list[str]]:
    roles = roles_from_env(env)
    raw_timeout = env.get("BOOTSTRAP_CONNECT_TIMEOUT", str(CONNECT_TIMEOUT_DEFAULT))
    try:
        timeout = float(raw_timeout)
        if not 0 <= timeout <= 3600:
            raise ValueError
    except ValueError:
        raise BootstrapError(f"BOOTSTRAP_CONNECT_TIMEOUT must be seconds between 0 and 3600, got {raw_timeout!r}") from None
    deadline = time.monotonic() + timeout
    target = await asyncio.to_thread(target_from_env, env, deadline=deadline)
    conn = await connect_with_retry(
        "",
        timeout=max(0.0, deadline - time.monotonic()),
        connect=lambda: asyncpg.connect(host=target.host, port=target.port, user=target.user,
                                        password=target.password, database=target.database, ssl=target.ssl,
                                        statement_cache_size=0, timeout=10),
    )
    try:
        return await bootstrap(conn, roles)
    finally:
        await conn.close()


def main() -> int:
    try:
        done = asyncio.run(run(os.environ))
    except (BootstrapError, ConnectTimeout) as exc:
        print(f"bootstrap: {exc}", file=sys.stderr)
        return 1
    except asyncpg.PostgresError as exc:
        print(f"bootstrap: the database refused: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    created = ", ".join(done["created"]) or "none"
    print(f"roles in place (created: {created}; app settings changed: {', '.join(done['settings']) or 'none'}; "
          f"handed to the owner: {', '.join(done['reassigned']) or 'nothing'})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
