"""Local topology room: the Shipments API on this machine in its production shape.

One harness for the app tests and for `berth local up|down|status`: PostgreSQL primary + streaming
replica (pg_basebackup), PgBouncer (`shipments` -> primary, `shipments_ro` -> replica,
`shipments_migrate` -> primary, transaction pooling), Redis and N app processes, all on free
127.0.0.1 ports under a temporary directory. PostgreSQL and PgBouncer refuse to run as root, so when
we are root they run as `postgres`.

The database roles are production's: a master user like RDS's (`berth_admin`: CREATEROLE, CREATEDB,
pg_signal_backend, no superuser) owns the database and runs `python -m shipments.bootstrap`, which
creates the schema owner (the migrations log in as it, through `shipments_migrate`) and the app's role
(DATABASE_URL: rows only). PgBouncer's userlist holds those two, never the master; the app processes
get the app's credentials only.

It also exposes the controls the fault tests need: stop/start/pause/resume any service, restart
PgBouncer, SQL on the primary or the replica. No pulumi import here: this module must load fast.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from components.pgbouncer_config import (
    APP_ROLE,
    MIGRATE_DATABASE,
    OWNER_ROLE,
    render_hba,
    render_ini,
    render_userlist,
)
from components.settings import PgBouncerSettings

REPO = Path(__file__).resolve().parent.parent
APP_DIR = REPO / "app"

PG_BIN = Path("/usr/lib/postgresql/15/bin")
PGBOUNCER = Path("/usr/sbin/pgbouncer")
REDIS_SERVER = Path("/usr/bin/redis-server")
# A container's default PATH: the pod's command finds `pgbouncer` on it, whichever image it runs.
PGBOUNCER_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# binary -> the Debian package that provides it
PACKAGES = {PG_BIN / "postgres": "postgresql", PGBOUNCER: "pgbouncer", REDIS_SERVER: "redis-server"}
DB_NAME = "shipments"
# The RDS master user's name (components/database.py MASTER_USERNAME; not imported: that module loads pulumi).
MASTER_USER = "berth_admin"


def pgbouncer_version() -> tuple[int, int]:
    """(major, minor) of the local pgbouncer binary, e.g. (1, 18) on Debian 12."""
    out = subprocess.run([str(PGBOUNCER), "--version"], capture_output=True, text=True, check=False).stdout
    first = out.split()[1] if len(out.split()) > 1 else "0.0"
    major, _, rest = first.partition(".")
    return int(major or 0), int(rest.split(".")[0] or 0)


class HarnessError(RuntimeError):
    """The local topology could not be started; the message says what to do."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def ensure_packages() -> None:
    """Install the missing Debian packages when root; else fail naming them."""
    missing = sorted({pkg for binary, pkg in PACKAGES.items() if not binary.exists()})
    if not missing:
        return
    if os.geteuid() != 0:
        raise HarnessError(
            f"the local topology needs the Debian packages {' '.join(missing)}: "
            f"sudo apt-get install -y {' '.join(missing)}"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", *missing], check=True, env=env, stdout=subprocess.DEVNULL)
    for svc in missing:
        # Debian starts packaged services on install; we run our own on free ports.
        subprocess.run(["service", svc, "stop"], check=False, capture_output=True)
    still = [pkg for binary, pkg in PACKAGES.items() if not binary.exists()]
    if still:
        raise HarnessError(f"installing {' '.join(still)} did not provide the expected binaries")


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped by its parent) counts as gone.
    with contextlib.suppress(OSError):
        if Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].startswith("Z"):
            return False
    return True


@dataclass
class Service:
    """One server process the harness started; enough to stop, restart and report it."""

    name: str
    cmd: list[str]
    port: int
    log: str
    as_postgres: bool = False
    env: dict[str, str] = field(default_factory=dict)
    pid: int | None = None
    stop_signal: int = signal.SIGTERM
    # An app process's metrics listener (Prometheus' /metrics; the API's port does not serve it).
    metrics_port: int | None = None
    # Its health listener (the probes': liveness and readiness, on a port client traffic cannot fill).
    health_port: int | None = None


class Topology:
    """Start, control and stop the local topology. Usable as a context manager."""

    def __init__(self, apps: int = 2, app_env: dict[str, str] | None = None, root: Path | None = None):
        self.app_count = apps
        self.app_env = dict(app_env or {})
        self.root = root
        self.services: dict[str, Service] = {}
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        self.master_password = secrets.token_urlsafe(18)
        self.owner_password = secrets.token_urlsafe(18)
        # The app role's: what DATABASE_URL carries.
        self.db_password = secrets.token_urlsafe(18)
        self.replication_password = secrets.token_urlsafe(18)
        self.ports: dict[str, int] = {}
        self._extra_apps = 0

    # -- identity of the postgres-side processes ---------------------------------------------------------
    @property
    def _as_root(self) -> bool:
        return os.geteuid() == 0

    def _pg_user_kwargs(self) -> dict[str, Any]:
        if not self._as_root:
            return {}
        entry = pwd.getpwnam("postgres")
        return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}

    def _pg_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL", "TZ")}
        env["PATH"] = env.get("PATH", "/usr/bin:/bin")
        if self._as_root:
            env["HOME"] = pwd.getpwnam("postgres").pw_dir
            env["USER"] = "postgres"
        else:
            env["HOME"] = os.environ.get("HOME", "/tmp")
        return env

    def _chown(self, path: Path) -> None:
        if self._as_root:
            entry = pwd.getpwnam("postgres")
            os.chown(path, entry.pw_uid, entry.pw_gid)

    # -- URLs ----------------------------------------------------------------------------------------------
    @property
    def database_url(self) -> str:
        """The app's read-write DSN (the app role, through PgBouncer)."""
        return f"postgresql://{APP_ROLE}:{self.db_password}@127.0.0.1:{self.ports['pgbouncer']}/{DB_NAME}"

    @property
    def database_ro_url(self) -> str:
        return f"postgresql://{APP_ROLE}:{self.db_password}@127.0.0.1:{self.ports['pgbouncer']}/{DB_NAME}_ro"

    @property
    def migration_database_url(self) -> str:
        """The migrations' DSN (the schema owner, through PgBouncer's migrations database)."""
        return (f"postgresql://{OWNER_ROLE}:{self.owner_password}@127.0.0.1:{self.ports['pgbouncer']}/"
                f"{MIGRATE_DATABASE}")

    @property
    def master_database_url(self) -> str:
        """The master user's DSN, directly to the primary: for the bootstrap only."""
        return f"postgresql://{MASTER_USER}:{self.master_password}@127.0.0.1:{self.ports['primary']}/{DB_NAME}"

    def metrics_url(self, app_url: str) -> str:
        """Where the app process at `app_url` serves Prometheus' /metrics (its metrics listener)."""
        port = int(app_url.rsplit(":", 1)[1])
        (service,) = [s for s in self.services.values() if s.port == port and s.metrics_port]
        return f"http://127.0.0.1:{service.metrics_port}/metrics"

    def health_url(self, app_url: str) -> str:
        """The health listener of the app process at `app_url` (what the kubelet probes)."""
        port = int(app_url.rsplit(":", 1)[1])
        (service,) = [s for s in self.services.values() if s.port == port and s.health_port]
        return f"http://127.0.0.1:{service.health_port}"

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.ports['redis']}/0"

    @property
    def app_urls(self) -> list[str]:
        return [f"http://127.0.0.1:{s.port}" for n, s in self.services.items() if n.startswith("app")]

    @property
    def sock_dir(self) -> Path:
        assert self.root is not None
        return self.root / "sock"

    # -- start ---------------------------------------------------------------------------------------------
    def start(self) -> Topology:
        ensure_packages()
        if self.root is None:
            self.root = Path(tempfile.mkdtemp(prefix="berth-local-"))
        self.root.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o700)
        self._chown(self.root)
        for sub in ("sock", "logs", "redis", "pgbouncer"):
            (self.root / sub).mkdir(exist_ok=True)
            self._chown(self.root / sub)
        for name in ("primary", "replica", "pgbouncer", "redis"):
            self.ports[name] = free_port()
        try:
            self._start_primary()
            self._start_replica()
            self.bootstrap_roles()
            self._start_pgbouncer()
            self._start_redis()
            self.migrate()
            for i in range(self.app_count):
                self.start_app(name=f"app{i}")
        except BaseException:
            self.stop()
            raise
        return self

    def __enter__(self) -> Topology:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run_pg(self, args: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            args,
            env={**self._pg_env(), **kwargs.pop("env", {})},
            capture_output=True,
            text=True,
            cwd=self.root,
            **self._pg_user_kwargs(),
            **kwargs,
        )
        if result.returncode != 0:
            raise HarnessError(f"{Path(args[0]).name} failed ({result.returncode}): {result.stderr.strip()[-800:]}")
        return result

    def _pg_cmd(self, data: Path, port: int) -> list[str]:
        return [
            str(PG_BIN / "postgres"),
            "-D",
            str(data),
            "-c",
            f"port={port}",
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            f"unix_socket_directories={self.sock_dir}",
            "-c",
            "max_connections=200",
            "-c",
            "shared_buffers=64MB",
            "-c",
            "wal_level=replica",
            "-c",
            "max_wal_senders=5",
            "-c",
            "hot_standby=on",
            "-c",
            "hot_standby_feedback=on",
            "-c",
            "wal_receiver_status_interval=1s",
            "-c",
            "logging_collector=off",
        ]

    def _start_primary(self) -> None:
        assert self.root is not None
        data = self.root / "primary"
        pwfile = self.root / "pgpass.tmp"
        pwfile.write_text(secrets.token_urlsafe(18) + "\n")
        self._chown(pwfile)
        self._run_pg(
            [
                str(PG_BIN / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
                f"--pwfile={pwfile}",
            ]
        )
        pwfile.unlink()
        self._spawn(
            Service(
                "primary",
                self._pg_cmd(data, self.ports["primary"]),
                self.ports["primary"],
                str(self.root / "logs" / "primary.log"),
                as_postgres=True,
                stop_signal=signal.SIGINT,
            )
        )
        self._wait_pg(self.ports["primary"])
        # RDS's master user: no superuser, but CREATEROLE, CREATEDB and (through rds_superuser)
        # pg_signal_backend; the database is its own, as RDS creates it.
        self.primary_sql(
            f"CREATE ROLE {MASTER_USER} LOGIN CREATEROLE CREATEDB PASSWORD '{self.master_password}';"
            f"GRANT pg_signal_backend TO {MASTER_USER};"
            f"CREATE ROLE replicator REPLICATION LOGIN PASSWORD '{self.replication_password}';"
        )
        self.primary_sql(f"CREATE DATABASE {DB_NAME} OWNER {MASTER_USER};")

    def _start_replica(self) -> None:
        assert self.root is not None
        data = self.root / "replica"
        self._run_pg(
            [
                str(PG_BIN / "pg_basebackup"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.ports["primary"]),
                "-U",
                "replicator",
                "-D",
                str(data),
                "-R",
                "-X",
                "stream",
                "-c",
                "fast",
                "--create-slot",
                "--slot=replica1",
                "--no-sync",
            ],
            env={"PGPASSWORD": self.replication_password},
        )
        conninfo = (
            f"host=127.0.0.1 port={self.ports['primary']} user=replicator "
            f"password={self.replication_password} application_name=replica1"
        )
        with open(data / "postgresql.auto.conf", "a") as conf:
            conf.write(f"primary_conninfo = '{conninfo}'\nprimary_slot_name = 'replica1'\n")
        self._spawn(
            Service(
                "replica",
                self._pg_cmd(data, self.ports["replica"]),
                self.ports["replica"],
                str(self.root / "logs" / "replica.log"),
                as_postgres=True,
                stop_signal=signal.SIGINT,
            )
        )
        self._wait_for_hot_standby()

    def _wait_for_hot_standby(self) -> None:
        # A hot standby opens for reads once it replays a running-xacts record; the primary logs one
        # every 15 s on its own, or at once on CHECKPOINT.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            self._check_alive("replica")
            with contextlib.suppress(HarnessError):
                self.primary_sql("CHECKPOINT")
            with contextlib.suppress(HarnessError):
                self._wait_pg(self.ports["replica"], timeout=1.0)
                return
        raise HarnessError("the replica did not accept connections within 30s")

    def _start_pgbouncer(self) -> None:
        assert self.root is not None
        conf_dir = self.root / "pgbouncer"
        userlist = conf_dir / "userlist.txt"
        # The app's and the schema owner's roles; never the master.
        userlist.write_text(render_userlist({APP_ROLE: self.db_password, OWNER_ROLE: self.owner_password}))
        (conf_dir / "pgbouncer_hba.conf").write_text(render_hba())
        ini = conf_dir / "pgbouncer.ini"
        # The ini the cluster runs (components/pgbouncer_config.py), with what differs on one host:
        # loopback ports, no TLS to the servers, and fail-fast timeouts so the app's replica
        # fallback kicks in quickly when a backend is down.
        ini.write_text(
            render_ini(
                PgBouncerSettings(default_pool_size=40, read_only_pool_size=40, reserve_pool_size=5,
                                  max_client_conn=2000),
                "127.0.0.1",
                ["127.0.0.1"],
                port=self.ports["primary"],
                replica_port=self.ports["replica"],
                dbname=DB_NAME,
                listen_addr="127.0.0.1",
                listen_port=self.ports["pgbouncer"],
                config_dir=str(conf_dir),
                secret_dir=str(conf_dir),
                ca_file=None,
                prepared_statements=pgbouncer_version() >= (1, 21),
                overrides={"server_connect_timeout": "2", "server_login_retry": "1", "query_wait_timeout": "5"},
            )
        )
        for path in (conf_dir, userlist, ini, conf_dir / "pgbouncer_hba.conf"):
            self._chown(path)
        os.chmod(userlist, 0o600)
        self._spawn(
            Service(
                "pgbouncer",
                # By name on PATH, as the pod's command runs it (Debian installs it in /usr/sbin).
                [shutil.which("pgbouncer", path=PGBOUNCER_PATH) or str(PGBOUNCER), str(ini)],
                self.ports["pgbouncer"],
                str(self.root / "logs" / "pgbouncer.log"),
                as_postgres=True,
                stop_signal=signal.SIGINT,
            )
        )
        self._wait_port(self.ports["pgbouncer"], "pgbouncer")

    def _start_redis(self) -> None:
        assert self.root is not None
        cmd = [
            str(REDIS_SERVER),
            "--port",
            str(self.ports["redis"]),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(self.root / "redis"),
            "--daemonize",
            "no",
            "--protected-mode",
            "yes",
        ]
        self._spawn(Service("redis", cmd, self.ports["redis"], str(self.root / "logs" / "redis.log"), as_postgres=True))
        self._wait_port(self.ports["redis"], "redis")

    def app_process_env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        inherited = ("DATABASE_", "MIGRATION_", "MASTER_", "REDIS_", "RATE_LIMIT_")
        env = {k: v for k, v in os.environ.items() if not k.startswith(inherited)}
        env.update(
            {
                "PYTHONPATH": str(APP_DIR),
                "PYTHONDONTWRITEBYTECODE": "1",
                "DATABASE_URL": self.database_url,
                "DATABASE_RO_URL": self.database_ro_url,
                "REDIS_URL": self.redis_url,
                "HOST": "127.0.0.1",
                # Nothing routes to local processes through a load balancer: no need to wait before stopping.
                "DRAIN_SECONDS": "0",
            }
        )
        env.update(self.app_env)
        env.update(extra or {})
        return env

    def migration_env(self) -> dict[str, str]:
        """What the migrations Job gets: the app's settings plus the schema owner's DSN."""
        return self.app_process_env({"MIGRATION_DATABASE_URL": self.migration_database_url})

    def bootstrap_roles(self) -> str:
        """`python -m shipments.bootstrap` as the master user: the owner and app roles (the Job's command)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "MASTER_", "AWS_"))}
        env.update({
            "PYTHONPATH": str(APP_DIR),
            "PYTHONDONTWRITEBYTECODE": "1",
            "MASTER_DATABASE_URL": self.master_database_url,
            "OWNER_ROLE": OWNER_ROLE,
            "OWNER_PASSWORD": self.owner_password,
            "APP_ROLE": APP_ROLE,
            "APP_PASSWORD": self.db_password,
        })
        result = subprocess.run(
            [sys.executable, "-m", "shipments.bootstrap"], env=env, capture_output=True, text=True, cwd=REPO,
            timeout=60,
        )
        if result.returncode != 0:
            raise HarnessError(f"the role bootstrap failed: {result.stderr.strip()[-1500:]}")
        return result.stdout.strip()

    def migrate(self) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "shipments.migrate"],
            env=self.migration_env(),
            capture_output=True,
            text=True,
            cwd=REPO,
            timeout=60,
        )
        if result.returncode != 0:
            raise HarnessError(f"migrations failed: {result.stderr.strip()[-1500:]}")
        return result.stdout.strip()

    def start_app(self, name: str | None = None, env: dict[str, str] | None = None, wait: bool = True) -> str:
        """Start one more app process (the same command as the container's CMD); returns its URL."""
        assert self.root is not None
        if name is None:
            self._extra_apps += 1
            name = f"app-extra{self._extra_apps}"
        port = free_port()
        metrics_port = health_port = port
        while metrics_port == port:
            metrics_port = free_port()
        while health_port in (port, metrics_port):
            health_port = free_port()
        service = Service(
            name,
            [sys.executable, "-m", "shipments.server"],
            port,
            str(self.root / "logs" / f"{name}.log"),
            env={"METRICS_PORT": str(metrics_port), "HEALTH_PORT": str(health_port), **(env or {}), "PORT": str(port)},
            metrics_port=metrics_port,
            health_port=health_port,
        )
        self._spawn(service)
        url = f"http://127.0.0.1:{port}"
        if wait:
            self.wait_http(url + "/api/health/ready", name)
        return url

    # -- processes -----------------------------------------------------------------------------------------
    def _spawn(self, service: Service) -> None:
        log = open(service.log, "ab")  # noqa: SIM115 - handed to the child, closed below
        try:
            if service.as_postgres:
                proc = subprocess.Popen(
                    service.cmd,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    env=self._pg_env(),
                    cwd=self.root,
                    start_new_session=True,
                    **self._pg_user_kwargs(),
                )
            else:
                proc = subprocess.Popen(
                    service.cmd,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    env=self.app_process_env(service.env),
                    cwd=REPO,
                    start_new_session=True,
                )
        finally:
            log.close()
        service.pid = proc.pid
        self.services[service.name] = service
        self._procs[service.name] = proc

    def _check_alive(self, name: str) -> None:
        proc = self._procs.get(name)
        if proc is not None and proc.poll() is not None:
            tail = Path(self.services[name].log).read_text(errors="replace")[-2000:]
            raise HarnessError(f"{name} exited with {proc.returncode}; log tail:\n{tail}")

    def _wait_pg(self, port: int, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        name = next(n for n, s in self.services.items() if s.port == port)
        while time.monotonic() < deadline:
            self._check_alive(name)
            ok = subprocess.run(
                [str(PG_BIN / "pg_isready"), "-q", "-h", str(self.sock_dir), "-p", str(port)],
                capture_output=True,
            )
            if ok.returncode == 0:
                return
            time.sleep(0.1)
        raise HarnessError(f"{name} did not accept connections within {timeout}s")

    def _wait_port(self, port: int, name: str, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check_alive(name)
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
            time.sleep(0.05)
        raise HarnessError(f"{name} did not listen on port {port} within {timeout}s")

    def wait_http(self, url: str, name: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check_alive(name)
            with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
            time.sleep(0.1)
        raise HarnessError(f"{name} did not answer 200 on {url} within {timeout}s")

    def stop_service(self, name: str, timeout: float = 15.0) -> None:
        self.stop_services([name], timeout)

    def stop_services(self, names: list[str], timeout: float = 15.0) -> None:
        """Signal every named service, then wait for all of them (SIGKILL after `timeout`)."""
        running = [n for n in names if self.services[n].pid is not None]
        for name in running:
            service = self.services[name]
            assert service.pid is not None
            with contextlib.suppress(ProcessLookupError):
                os.kill(service.pid, signal.SIGCONT)  # a paused process cannot handle its stop signal
                os.kill(service.pid, service.stop_signal)
        deadline = time.monotonic() + timeout
        for name in running:
            service, proc = self.services[name], self._procs.get(name)
            assert service.pid is not None
            while time.monotonic() < deadline:
                if (proc.poll() is not None) if proc is not None else not pid_alive(service.pid):
                    break
                time.sleep(0.05)
            else:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(service.pid, signal.SIGKILL)
                if proc is not None:
                    proc.wait(timeout=5)
            service.pid = None
            self._procs.pop(name, None)

    def start_service(self, name: str) -> None:
        """Start a stopped service again with the same command and port."""
        service = self.services[name]
        if service.pid is not None:
            raise HarnessError(f"{name} is already running")
        self._spawn(service)
        if name == "replica":
            self._wait_for_hot_standby()
        elif name == "primary":
            self._wait_pg(service.port)
        elif name.startswith("app"):
            self.wait_http(f"http://127.0.0.1:{service.port}/api/health/ready", name)
        else:
            self._wait_port(service.port, name)

    def restart_service(self, name: str) -> None:
        self.stop_service(name)
        self.start_service(name)

    def pause(self, name: str) -> None:
        pid = self.services[name].pid
        assert pid is not None, f"{name} is not running"
        os.kill(pid, signal.SIGSTOP)

    def resume(self, name: str) -> None:
        pid = self.services[name].pid
        assert pid is not None, f"{name} is not running"
        os.kill(pid, signal.SIGCONT)

    def signal(self, name: str, sig: int) -> None:
        pid = self.services[name].pid
        assert pid is not None, f"{name} is not running"
        os.kill(pid, sig)

    def wait_exit(self, name: str, timeout: float = 20.0) -> int:
        """Wait for a process to exit on its own (e.g. after SIGTERM); returns its exit code."""
        proc = self._procs.pop(name)
        code = proc.wait(timeout=timeout)
        self.services[name].pid = None
        return code

    def stop(self) -> None:
        apps = [n for n in self.services if n.startswith("app")]
        for group in (apps, ["pgbouncer", "redis"], ["replica"], ["primary"]):
            with contextlib.suppress(Exception):
                self.stop_services([n for n in group if n in self.services])
        if self.root is not None and self.root.exists():
            shutil.rmtree(self.root, ignore_errors=True)

    # -- SQL and keys ----------------------------------------------------------------------------------------
    def _sql(self, port: int, sql: str, db: str = "postgres") -> str:
        result = self._run_pg(
            [
                str(PG_BIN / "psql"),
                "-h",
                str(self.sock_dir),
                "-p",
                str(port),
                "-U",
                "postgres",
                "-d",
                db,
                "-v",
                "ON_ERROR_STOP=1",
                "-X",
                "-q",
                "-A",
                "-t",
                "-c",
                sql,
            ]
        )
        return result.stdout.strip()

    def primary_sql(self, sql: str, db: str = "postgres") -> str:
        """Run SQL as superuser on the primary directly (not through PgBouncer)."""
        return self._sql(self.ports["primary"], sql, db)

    def replica_sql(self, sql: str, db: str = DB_NAME) -> str:
        return self._sql(self.ports["replica"], sql, db)

    def create_keys(self, role: str, count: int = 1, name: str = "local") -> list[str]:
        """Create API keys with `role` through the app's own key code; returns them in clear."""

        # The app's own key code, from app/ (not a dependency of the berth command, so not on its path).
        if str(APP_DIR) not in sys.path:
            sys.path.insert(0, str(APP_DIR))
        from shipments.keys import create_keys

        return asyncio.run(create_keys(self.database_url, role, name, count))

    def create_key(self, role: str, name: str = "local") -> str:
        return self.create_keys(role, 1, name)[0]

    # -- state for the CLI ----------------------------------------------------------------------------------
    def to_state(self) -> dict[str, Any]:
        return {
            "root": str(self.root),
            "ports": self.ports,
            "database_url": self.database_url,
            "database_ro_url": self.database_ro_url,
            "redis_url": self.redis_url,
            "urls": self.app_urls,
            "services": {n: asdict(s) for n, s in self.services.items()},
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Topology:
        topo = cls(apps=0, root=Path(state["root"]))
        topo.ports = dict(state["ports"])
        topo.db_password = state["database_url"].split(":")[2].split("@")[0]
        topo.services = {n: Service(**s) for n, s in state["services"].items()}
        return topo
