"""Local topology room: one topology running in the background for `berth local up|status|down`.

`up` starts it and records what runs in a state file (.local/state.json, git-ignored, 0600, or under
$BERTH_LOCAL_STATE_DIR), with the API keys it minted (so `status` can show them again and
`key_create` can add one); `status` reads that file and checks each pid; `down` stops everything and
deletes its data. `up(relaxed_limits=True)` lifts the app's per-key rate limits for seeding.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local_topology.topology import REPO, HarnessError, Topology, pid_alive

# The roles the app's keys carry (app/shipments/auth.py ROLES; the app is not importable from here).
ROLES = ("reader", "writer", "admin")


class SessionError(RuntimeError):
    """`berth local` cannot do what was asked; the message says why."""


# What `--relaxed-limits` sets: per-key and per-IP limits no seeding script reaches (the app's
# defaults, 20 writes and 100 reads a minute per key, are production's).
RELAXED_LIMITS = {
    "RATE_LIMIT_READS_PER_MINUTE": "1000000",
    "RATE_LIMIT_WRITES_PER_MINUTE": "1000000",
    "RATE_LIMIT_INQUIRIES_PER_MINUTE": "1000000",
}


@dataclass
class Started:
    topology: Topology
    writer_key: str
    admin_key: str
    state_path: Path
    metrics_urls: list[str]
    relaxed_limits: bool = False


@dataclass
class ServiceStatus:
    name: str
    pid: int | None
    port: int | None
    running: bool


@dataclass
class LocalStatus:
    urls: list[str]
    services: list[ServiceStatus]
    keys: dict[str, list[str]]  # role -> the keys minted for it, oldest first
    metrics_urls: list[str]
    relaxed_limits: bool


def _metrics_urls(state: dict[str, Any]) -> list[str]:
    return [f"http://127.0.0.1:{s['metrics_port']}/metrics" for n, s in sorted(state["services"].items())
            if n.startswith("app") and s.get("metrics_port")]


def _write_state(state: dict[str, Any]) -> Path:
    path = state_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    # Created 0600 before anything is written: it holds API keys and the database password.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(json.dumps(state, indent=2))
    os.chmod(path, 0o600)
    return path


def state_file() -> Path:
    """Where `up` records what it started: .local/state.json (git-ignored), or $BERTH_LOCAL_STATE_DIR."""
    return Path(os.environ.get("BERTH_LOCAL_STATE_DIR") or REPO / ".local") / "state.json"


def read_state() -> dict[str, Any] | None:
    path = state_file()
    if not path.exists():
        return None
    return json.loads(path.read_text())


def up(apps: int, relaxed_limits: bool = False) -> Started:
    """Start the topology with `apps` app processes and fresh writer/admin keys; record it."""
    state = read_state()
    if state is not None and any(s["pid"] and pid_alive(s["pid"]) for s in state["services"].values()):
        raise SessionError("berth local is already running (see `berth local status`; `berth local down` stops it)")
    topo = Topology(apps=apps, app_env=dict(RELAXED_LIMITS) if relaxed_limits else None)
    try:
        topo.start()
        writer, admin = topo.create_key("writer", "berth-local"), topo.create_key("admin", "berth-local")
    except HarnessError as exc:
        raise SessionError(str(exc)) from None
    state = {**topo.to_state(), "keys": {"writer": [writer], "admin": [admin]}, "relaxed_limits": relaxed_limits}
    path = _write_state(state)
    return Started(topo, writer, admin, path, _metrics_urls(state), relaxed_limits)


def status() -> LocalStatus | None:
    """The app URLs, each service with whether its pid runs, and the keys minted; None when nothing
    was started."""
    state = read_state()
    if state is None:
        return None
    rows = [ServiceStatus(n, s["pid"], s["port"], bool(s["pid"]) and pid_alive(s["pid"]))
            for n, s in state["services"].items()]
    return LocalStatus(state["urls"], rows, state.get("keys", {}), _metrics_urls(state),
                       bool(state.get("relaxed_limits")))


def key_create(role: str) -> str:
    """Mint a new API key with `role` in the running topology's database and record it."""
    if role not in ROLES:
        raise SessionError(f"ROLE must be one of {', '.join(ROLES)}, not {role!r}")
    state = read_state()
    if state is None:
        raise SessionError("berth local is not running (`berth local up` starts it)")
    try:
        key = Topology.from_state(state).create_key(role, "berth-local")
    except (HarnessError, OSError) as exc:
        raise SessionError(f"could not mint a {role} key: {exc}") from None
    state.setdefault("keys", {}).setdefault(role, []).append(key)
    _write_state(state)
    return key


def down() -> bool:
    """Stop everything `up` started and delete its data; False when nothing was running."""
    state = read_state()
    if state is None:
        return False
    Topology.from_state(state).stop()
    state_file().unlink()
    return True
