"""Tests room (commands): `--json` on every command a script branches on, each shape as docs/json.md says."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from berth.commands import app
from berth.operations import dr
from embedded_cloud.runner import REPO

DOC = (REPO / "docs" / "json.md").read_text()


def json_commands() -> list[str]:
    """Every `berth ...` command path that takes --json."""
    found: list[str] = []

    def walk(cmd: Any, path: str) -> None:
        if hasattr(cmd, "commands"):
            for name, sub in cmd.commands.items():
                walk(sub, f"{path} {name}")
        elif any("--json" in p.opts for p in cmd.params):
            found.append(path)

    walk(typer.main.get_command(app), "berth")
    return found


def documented(command: str) -> dict[str, object] | list[object]:
    """The example document of a command's section in docs/json.md."""
    section = re.search(rf"^## `{re.escape(command)}[^`]*`\n(.*?)(?=^## |\Z)", DOC, re.M | re.S)
    assert section, f"docs/json.md has no section for {command} --json"
    block = re.search(r"```json\n(.*?)```", section[1], re.S)
    assert block, f"the {command} section shows no JSON"
    return json.loads(block[1])


def keys_as_documented(command: str, actual: dict[str, object]) -> None:
    doc = documented(command)
    assert isinstance(doc, dict)
    assert set(doc) <= set(actual), f"{command} --json lacks {sorted(set(doc) - set(actual))}"


def test_every_command_with_json_is_documented() -> None:
    commands = json_commands()
    for needed in (
        "berth preview",
        "berth policy",
        "berth preflight",
        "berth diff",
        "berth env list",
        "berth dr plan",
        "berth dr drill",
        "berth loadtest",
        "berth local up",
        "berth local status",
    ):
        assert needed in commands, f"{needed} takes no --json"
    for command in commands:
        documented(command)


def test_preflight_json(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["preflight", "staging", "--no-registries", "--json"])
    assert result.exit_code == 1
    out = json.loads(result.stdout)
    keys_as_documented("berth preflight", out)
    assert out["ok"] is False and out["checkedRegistries"] is False
    assert {f["key"] for f in out["findings"]} >= {"berth:dns.zone", "berth:cluster.publicAccessCidrs[0]"}
    assert set(out["findings"][0]) == {"key", "value", "problem", "fix"}


def test_env_list_json(tmp_path: Path) -> None:
    shutil.copy(REPO / "Pulumi.staging.yaml", tmp_path)
    runner = CliRunner()
    assert runner.invoke(app, ["env", "create", "pr-7", "--ttl", "1d", "--config-dir", str(tmp_path)]).exit_code == 0
    result = runner.invoke(app, ["env", "list", "--json", "--config-dir", str(tmp_path)])
    assert result.exit_code == 0
    (row,) = json.loads(result.stdout)
    assert set(row) == set(documented("berth env list")[0])  # type: ignore[index]
    assert row["name"] == "pr-7" and row["from"] == "staging" and row["expired"] is False


def test_drill_json_shape() -> None:
    d = dr.Drill(
        "prod",
        "us-west-2",
        [dr.Step("plan", 0.5), dr.Step("verify every tier", 1.0)],
        checks=[dr.TierCheck("database", True, "available")],
        rpo_seconds=2.0,
    )
    out = d.as_dict()
    keys_as_documented("berth dr drill", out)
    assert out["ok"] is True and out["rtoSeconds"] == 1.5 and out["checks"][0]["tier"] == "database"
    json.dumps(out)


def berth(*args: str) -> subprocess.CompletedProcess[str]:
    """Each run in its own process: the Pulumi runtime runs one program per process."""
    exe = shutil.which("berth", path=str(REPO / ".venv" / "bin")) or "berth"
    return subprocess.run(
        [exe, *args], capture_output=True, text=True, cwd=REPO, timeout=300, env={**os.environ, "COLUMNS": "80"}
    )


@pytest.mark.slow
def test_preview_and_policy_json_and_the_policy_file(tmp_path: Path) -> None:
    result = berth("policy", "staging", "--out", str(tmp_path), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    keys_as_documented("berth policy", report)
    assert report["passed"] is True
    assert json.loads((tmp_path / "staging" / "policy.json").read_text()) == report

    result = berth("preview", "staging", "--out", str(tmp_path), "--json")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    keys_as_documented("berth preview", out)
    assert out["ok"] is True and out["resources"] > 100 and sum(out["types"].values()) >= out["resources"]
    assert str(tmp_path / "staging" / "graph.json") in out["written"]
    assert out["policy"]["rulesEvaluated"] == report["rulesEvaluated"]
