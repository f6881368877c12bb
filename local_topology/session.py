"""Local topology room: one topology running in the background for `berth local up|status|down`.

`up` starts it and records what runs in a state file (.local/state.json, git-ignored, 0600, or under
$BERTH_LOCAL_STATE_DIR); `status` reads that file and checks each pid; `down` stops everything and
deletes its data.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local_topology.topology import REPO, HarnessError, Topology, pid_alive


class SessionError(RuntimeError):
    """`berth local` cannot do what was asked; the message says why."""


@dataclass
class Started:
    topology: Topology
    writer_key: str
    admin_key: str
    state_path: Path


@dataclass
class ServiceStatus:
    name: str
    pid: int | None
    port: int | None
    running: bool


def state_file() -> Path:
    """Where `up` records what it started: .local/state.json (git-ignored), or $BERTH_LOCAL_STATE_DIR."""
    return Path(os.environ.get("BERTH_LOCAL_STATE_DIR") or REPO / ".local") / "state.json"


def read_state() -> dict[str, Any] | None:
    path = state_file()
    if not path.exists():
        return None
    return json.loads(path.read_text())


def up(apps: int) -> Started:
    """Start the topology with `apps` app processes and fresh writer/admin keys; record it."""
    state = read_state()
    if state is not None and any(s["pid"] and pid_alive(s["pid"]) for s in state["services"].values()):
        raise SessionError("berth local is already running (see `berth local status`; `berth local down` stops it)")
    topo = Topology(apps=apps)
    try:
        topo.start()
        writer, admin = topo.create_key("writer", "berth-local"), topo.create_key("admin", "berth-local")
    except HarnessError as exc:
        raise SessionError(str(exc)) from None
    path = state_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(topo.to_state(), indent=2))
    os.chmod(path, 0o600)
    return Started(topo, writer, admin, path)


def status() -> tuple[list[str], list[ServiceStatus]] | None:
    """The app URLs and each service with whether its pid runs; None when nothing was started."""
    state = read_state()
    if state is None:
        return None
    rows = [ServiceStatus(n, s["pid"], s["port"], bool(s["pid"]) and pid_alive(s["pid"]))
            for n, s in state["services"].items()]
    return state["urls"], rows


def down() -> bool:
    """Stop everything `up` started and delete its data; False when nothing was running."""
    state = read_state()
    if state is None:
        return False
    Topology.from_state(state).stop()
    state_file().unlink()
    return True
