"""Tests room (scripts): ./scripts/bootstrap on machines it does not own -- run in a copy, with the
distribution's tools (apt-get, systemctl, id, uv, npm) replaced by recorders on PATH and the
distribution's files under a fake root (BERTH_BOOTSTRAP_ROOT)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from embedded_cloud.runner import REPO

SERVERS = {
    "postgresql": "usr/lib/postgresql/15/bin/postgres",
    "pgbouncer": "usr/sbin/pgbouncer",
    "redis-server": "usr/bin/redis-server",
    "wrk": "usr/bin/wrk",
    "docker-registry": "usr/bin/docker-registry",
}


def machine(
    tmp_path: Path, *, uid: int, os_id: str, present: set[str], npm: bool = True
) -> tuple[Path, dict[str, str]]:
    repo, root, bin_dir, log = tmp_path / "repo", tmp_path / "root", tmp_path / "bin", tmp_path / "calls.log"
    (repo / "scripts").mkdir(parents=True)
    (repo / "tools").mkdir()
    (repo / "tools" / "package-lock.json").write_text("{}")
    shutil.copy(REPO / "scripts" / "bootstrap", repo / "scripts" / "bootstrap")
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "os-release").write_text(f"ID={os_id}\n")
    for name in present:
        path = root / SERVERS[name]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("")
        path.chmod(0o755)
    bin_dir.mkdir()
    tools = {"apt-get": "", "systemctl": "", "service": "", "uv": "", "id": f"echo {uid}"}
    if npm:
        tools["npm"] = ""
    for tool, body in tools.items():
        script = bin_dir / tool
        script.write_text(f'#!/bin/sh\necho "{tool} $*" >> {log}\n{body}\n')
        script.chmod(0o755)
    # Only these on PATH: what the script uses besides the recorders (so a real npm or apt-get is not found).
    for util in ("dirname", "grep", "sed", "cat", "sh"):
        (bin_dir / util).symlink_to(shutil.which(util) or f"/usr/bin/{util}")
    env = {"PATH": str(bin_dir), "BERTH_BOOTSTRAP_ROOT": str(root), "HOME": str(tmp_path)}
    return repo, env


def run(repo: Path, env: dict[str, str], *args: str) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    proc = subprocess.run(
        [shutil.which("bash") or "/bin/bash", str(repo / "scripts" / "bootstrap"), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    log = repo.parent / "calls.log"
    return proc, log.read_text().splitlines() if log.exists() else []


def test_without_root_it_sets_up_the_preview_names_the_packages_and_carries_on(tmp_path: Path) -> None:
    repo, env = machine(tmp_path, uid=1000, os_id="fedora", present=set())
    proc, calls = run(repo, env)
    assert proc.returncode == 0, proc.stderr
    assert "uv sync --locked --compile-bytecode -q" in calls
    assert not any(c.startswith(("apt-get", "systemctl", "service")) for c in calls), calls
    out = proc.stdout
    assert "ready to preview: uv run berth preview staging" in out
    assert "not installed: postgresql pgbouncer redis-server wrk docker-registry" in out
    assert "done. Next:" in out


def test_as_root_on_debian_it_installs_what_is_missing_and_stops_only_what_it_installed(tmp_path: Path) -> None:
    # The machine already runs its own PostgreSQL and PgBouncer: they must be left alone.
    repo, env = machine(tmp_path, uid=0, os_id="debian", present={"postgresql", "pgbouncer", "wrk"})
    proc, calls = run(repo, env)
    assert proc.returncode == 0, proc.stderr
    assert "apt-get install -y -qq redis-server docker-registry" in calls
    stopped = [c for c in calls if c.startswith(("systemctl stop", "service"))]
    assert stopped == ["systemctl stop redis-server", "systemctl stop docker-registry"], calls
    # A second run on the same machine (now complete) installs and stops nothing.
    for name in ("redis-server", "docker-registry"):
        path = Path(env["BERTH_BOOTSTRAP_ROOT"]) / SERVERS[name]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("")
        path.chmod(0o755)
    (repo.parent / "calls.log").unlink()
    proc, calls = run(repo, env)
    assert proc.returncode == 0 and "the servers and tools are installed already" in proc.stdout
    assert not any(c.startswith(("apt-get", "systemctl", "service")) for c in calls), calls


@pytest.mark.parametrize("args", [["--preview-only"], ["--nope"]])
def test_preview_only_and_unknown_options(tmp_path: Path, args: list[str]) -> None:
    repo, env = machine(tmp_path, uid=0, os_id="debian", present=set())
    proc, calls = run(repo, env, *args)
    if args == ["--nope"]:
        assert proc.returncode == 2 and "unknown option --nope (allowed: --preview-only, --help)" in proc.stderr
        assert calls == []
        return
    assert proc.returncode == 0 and "uv sync --locked --compile-bytecode -q" in calls
    assert not any(c.startswith("apt-get") for c in calls)


def test_the_ci_machine_still_gets_every_server(tmp_path: Path) -> None:
    """.ci/run: a fresh Debian machine as root -- everything installed, then stopped."""
    repo, env = machine(tmp_path, uid=0, os_id="debian", present=set(), npm=False)
    proc, calls = run(repo, env)
    assert proc.returncode == 0, proc.stderr
    assert "apt-get install -y -qq postgresql pgbouncer redis-server wrk docker-registry nodejs npm" in calls
    assert {c for c in calls if c.startswith("systemctl stop")} == {
        f"systemctl stop {s}" for s in ("postgresql", "pgbouncer", "redis-server", "docker-registry")
    }
    assert os.access(REPO / "scripts" / "bootstrap", os.X_OK)
