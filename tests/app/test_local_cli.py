"""app tests room: `berth local up|status|down` (berth/commands/local.py over local_topology/session.py) end to end: keys it
prints work against the app it started, status sees the processes, down stops them all."""

from __future__ import annotations

import json
import os
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from berth.commands.local import local_app
from local_topology.topology import pid_alive
from tests.commands.test_json import keys_as_documented


@pytest.mark.slow
def test_local_up_status_down(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BERTH_LOCAL_STATE_DIR", str(tmp_path))
    runner = CliRunner()
    up = runner.invoke(local_app, ["up", "--relaxed-limits", "--json"])
    state = tmp_path / "state.json"
    try:
        assert up.exit_code == 0, up.output
        info = json.loads(up.stdout)
        keys_as_documented("berth local up", info)
        assert state.stat().st_mode & 0o777 == 0o600  # it holds the keys
        with httpx.Client(timeout=10) as plain:
            assert plain.get(info["health"]).status_code == 200  # public
            assert plain.get(info["detailed_health"]).status_code == 401
            detailed = plain.get(info["detailed_health"], headers={"Authorization": f"Bearer {info['admin_key']}"})
            assert detailed.status_code == 200, detailed.text
            metrics = plain.get(info["metrics"])
            assert metrics.status_code == 200 and "# TYPE" in metrics.text
        with httpx.Client(base_url=info["url"], timeout=10) as client:
            body = {"tracking_number": "CLI-0001", "origin": "Lyon", "destination": "Turin", "weight_kg": 3}
            created = client.post(
                "/api/shipments", json=body, headers={"Authorization": f"Bearer {info['writer_key']}"}
            )
            assert created.status_code == 201, created.text
            assert (
                client.get("/api/inquiries", headers={"Authorization": f"Bearer {info['admin_key']}"}).status_code
                == 200
            )
            assert (
                client.get("/api/shipments", headers={"Authorization": f"Bearer {info['writer_key']}"}).json()["items"][
                    0
                ]["tracking_number"]
                == "CLI-0001"
            )

            # --relaxed-limits: a seeding script's writes are not cut at 20 a minute.
            writes = [client.post("/api/shipments", headers={"Authorization": f"Bearer {info['writer_key']}"},
                                  json={**body, "tracking_number": f"SEED-{i:04d}"}).status_code for i in range(25)]
            assert writes == [201] * 25, writes

        # The keys again, and a new one.
        shown = runner.invoke(local_app, ["status"])
        assert shown.exit_code == 0, shown.output
        assert info["writer_key"] in shown.output and info["admin_key"] in shown.output
        assert f'curl -H "Authorization: Bearer {info["admin_key"]}" {info["detailed_health"]}' in shown.output
        assert info["metrics"] in shown.output
        minted = runner.invoke(local_app, ["key", "create", "reader"])
        assert minted.exit_code == 0, minted.output
        reader = minted.stdout.strip()
        with httpx.Client(base_url=info["url"], timeout=10) as client:
            assert client.get("/api/shipments", headers={"Authorization": f"Bearer {reader}"}).status_code == 200
        bad = runner.invoke(local_app, ["key", "create", "root"])
        assert bad.exit_code == 1 and "ROLE must be one of reader, writer, admin, not 'root'" in bad.output

        again = runner.invoke(local_app, ["up"])
        assert again.exit_code == 1 and "already running" in again.output

        status = runner.invoke(local_app, ["status", "--json"])
        assert status.exit_code == 0, status.output
        listed = json.loads(status.stdout)
        keys_as_documented("berth local status", listed)
        assert listed["writer_key"] == info["writer_key"] and listed["keys"]["reader"] == [reader]
        services = {s["name"]: s for s in listed["services"]}
        assert set(services) == {"primary", "replica", "pgbouncer", "redis", "app0"}
        assert all(s["running"] for s in services.values())
        pids = [s["pid"] for s in services.values()]
        root = Path(json.loads(state.read_text())["root"])
    finally:
        down = runner.invoke(local_app, ["down"])
    assert down.exit_code == 0, down.output
    assert not state.exists()
    assert not any(pid_alive(pid) for pid in pids), "down left a process running"
    assert not root.exists()
    after = runner.invoke(local_app, ["status"])
    assert after.exit_code == 1 and "not running" in after.output
    assert os.environ["BERTH_LOCAL_STATE_DIR"] == str(tmp_path)


def test_missing_packages_are_named_when_not_root(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import local_topology.topology as local

    monkeypatch.setattr(
        local, "PACKAGES", {tmp_path / "no-pgbouncer": "pgbouncer", tmp_path / "no-redis": "redis-server"}
    )
    monkeypatch.setattr(local.os, "geteuid", lambda: 1000)
    with pytest.raises(local.HarnessError, match=r"apt-get install -y pgbouncer redis-server"):
        local.ensure_packages()
