"""Tests room (stacks): the `berth` command end to end, from a subprocess, as a user runs it."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from embedded_cloud.runner import REPO


def berth(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("berth", path=str(REPO / ".venv" / "bin")) or "berth"
    return subprocess.run(
        [exe, *args], capture_output=True, text=True, cwd=REPO, timeout=timeout, env={**os.environ, "COLUMNS": "200"}
    )


@pytest.mark.slow
def test_preview_staging_prints_the_tree_and_writes_the_build(tmp_path: Path) -> None:
    out = berth("preview", "staging", "--out", str(tmp_path))
    assert out.returncode == 0, out.stderr + out.stdout
    assert "berth-staging (pulumi:pulumi:Stack)" in out.stdout
    assert "berth:network:Network berth-staging" in out.stdout
    assert "aws:ec2/vpc:Vpc berth-staging-vpc" in out.stdout
    assert "resources by type" in out.stdout and "total" in out.stdout
    build = tmp_path / "staging"
    graph = json.loads((build / "graph.json").read_text())
    assert graph["stack"] == "staging" and len(graph["nodes"]) > 20
    mmd = (build / "graph.mmd").read_text()
    assert mmd.startswith("flowchart LR") and "Network" in mmd
    for manifest in (build / "manifests").glob("*.yaml"):
        obj = yaml.safe_load(manifest.read_text())
        assert obj["apiVersion"] and obj["kind"] and obj["metadata"]["name"]


def test_preview_of_a_broken_config_exits_non_zero_naming_the_key(tmp_path: Path) -> None:
    cfg = yaml.safe_load((REPO / "Pulumi.staging.yaml").read_text())
    cfg["config"]["berth:network"]["cidr"] = "10.0.0.0/99"
    bad = tmp_path / "Pulumi.staging.yaml"
    bad.write_text(yaml.safe_dump(cfg))
    out = berth("preview", "staging", "--config", str(bad), "--out", str(tmp_path))
    assert out.returncode == 1
    assert "berth:network.cidr" in out.stderr and "10.0.0.0/99" in out.stderr
    assert "Traceback" not in out.stderr


def test_preview_of_a_size_aws_would_refuse_fails_before_any_resource(tmp_path: Path) -> None:
    cfg = yaml.safe_load((REPO / "Pulumi.staging.yaml").read_text())
    cfg["config"]["berth:database"]["instanceClass"] = "db.t4g.enormous"
    cfg["config"]["berth:cache"]["nodeType"] = "cache.t4g.huge"
    bad = tmp_path / "Pulumi.staging.yaml"
    bad.write_text(yaml.safe_dump(cfg))
    out = berth("preview", "staging", "--config", str(bad), "--out", str(tmp_path))
    assert out.returncode == 1, out.stdout
    assert "berth:database.instanceClass = 'db.t4g.enormous'" in out.stderr
    assert "nearest: db.t4g." in out.stderr
    assert "berth:cache.nodeType = 'cache.t4g.huge'" in out.stderr and "nearest: cache.t4g." in out.stderr
    assert not (tmp_path / "staging" / "graph.json").exists()
    shutil.copy(REPO / "Pulumi.yaml", tmp_path)
    out = berth("preflight", "staging", "--no-registries", "--config-dir", str(tmp_path))
    assert out.returncode == 1 and "berth:database.instanceClass = 'db.t4g.enormous'" in out.stderr


def test_preview_of_an_unknown_stack_says_which_exist() -> None:
    out = berth("preview", "qa")
    assert out.returncode == 1
    assert "Pulumi.qa.yaml does not exist" in out.stderr and "staging" in out.stderr


@pytest.mark.slow
def test_diff_staging_prod_shows_config_and_resource_differences() -> None:
    out = berth("diff", "staging", "prod", "--json")
    assert out.returncode == 1, out.stderr  # like git diff --exit-code: they differ
    d = json.loads(out.stdout)
    assert d["differs"] is True and d["stacks"] == ["staging", "prod"]
    config = {row["key"]: (row["staging"], row["prod"]) for row in d["config"]}
    assert config["berth:database.replicas"] == (1, 2)
    assert config["berth:network.natGateways"] == ("single", "one_per_az")
    assert "aws:region" not in config  # both in us-east-1
    types = {row["type"]: (row["staging"], row["prod"]) for row in d["types"]}
    assert types["aws:ec2/natGateway:NatGateway"] == (1, 4)  # prod: one per AZ, and one in its recovery VPC
    changed = {c["name"]: c for c in d["changed"]}
    vpc = {i["input"]: (i["staging"], i["prod"]) for i in changed["berth-<stack>-vpc"]["inputs"]}
    assert vpc["cidrBlock"] == ("10.10.0.0/16", "10.20.0.0/16")
    # Stack names are normalised everywhere: no row differs only by a URN or a name naming its stack,
    # and policies compare statement by statement.
    rows = [(c["name"], i) for c in d["changed"] for i in c["inputs"]]
    for name, row in rows:
        values = json.dumps([row["staging"], row["prod"]])
        assert "staging" not in values and "urn:pulumi:prod" not in values, (name, row)
    assert "berth-<stack>-alarms-key-alias" not in changed  # its target key differs only by stack
    assert len(changed) < 60

    table = berth("diff", "staging", "prod")
    assert table.returncode == 1
    assert "berth:database.replicas" in table.stdout and "aws:ec2/natGateway:NatGateway" in table.stdout
    # The differing part of a long value: the pinned PgBouncer digest, whole, in a log 200 columns wide.
    pgbouncer = changed["berth-<stack>-pgbouncer-deployment"]["inputs"]
    (image,) = [i["prod"] for i in pgbouncer if i["input"].endswith("containers[0].image")]
    assert image.split("@")[1] in table.stdout


@pytest.mark.slow
def test_diff_of_a_stack_with_itself_is_one_line_and_exit_0() -> None:
    out = berth("diff", "staging", "staging")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines() == [
        "staging and staging do not differ (config, resources and their inputs, stack names aside)"]
    out = berth("diff", "staging", "staging", "--json")
    assert out.returncode == 0 and json.loads(out.stdout)["differs"] is False
    # A comparison that could not be made is not a difference: 2, as git diff keeps 1 for differences.
    out = berth("diff", "staging", "nosuch")
    assert out.returncode == 2 and "no stack 'nosuch'" in out.stderr


def on_a_terminal(*args: str) -> str:
    """`berth ARGS` with stdout and stderr on a pseudo-terminal, as a person sees it (80 columns)."""
    import pty

    exe = shutil.which("berth", path=str(REPO / ".venv" / "bin")) or "berth"
    leader, follower = pty.openpty()
    proc = subprocess.Popen([exe, *args], stdout=follower, stderr=follower, cwd=REPO,
                            env={**os.environ, "COLUMNS": "80", "TERM": "xterm"})
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    proc.wait(timeout=60)
    os.close(leader)
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", b"".join(chunks).decode(errors="replace"))


def test_version_short_help_and_flags_without_a_type() -> None:
    out = berth("--version")
    assert out.returncode == 0 and out.stdout.strip() == "berth 0.1.0"
    out = berth("diff", "-h")
    assert out.returncode == 0 and "--json" in out.stdout and "-h, --help" in out.stdout
    shown = on_a_terminal("diff", "-h")
    assert "--json" in shown and "Usage" in shown
    assert "<bool>" not in shown, shown  # a flag takes no value
    # Where stderr is a log, a usage error is one plain line (no box wrapped at 80 columns).
    out = berth("diff", "staging", "--json", "true", "extra")
    assert out.returncode == 2 and "Error: Got unexpected extra argument" in out.stderr and "╭" not in out.stderr


def test_a_ci_log_80_columns_wide_gets_whole_keys_values_and_error_lines(tmp_path: Path) -> None:
    def at_80(*args: str) -> subprocess.CompletedProcess[str]:
        exe = shutil.which("berth", path=str(REPO / ".venv" / "bin")) or "berth"
        return subprocess.run([exe, *args], capture_output=True, text=True, cwd=REPO, timeout=120,
                              env={**os.environ, "COLUMNS": "80"})

    out = at_80("preflight", "staging", "--no-registries", "--no-account")
    assert out.returncode == 1
    for whole in ("berth:cluster.publicAccessCidrs[0]", "https://staging.shipments.example.com",
                  "an example/reserved domain (RFC 2606): nobody receives it"):
        assert whole in out.stdout, out.stdout
    (error,) = [line for line in out.stderr.splitlines() if line.startswith("error:")]
    # Four placeholders, and the four example-account roles that reach the cluster API.
    assert error == "error: staging is not ready for a real deploy: fix the 8 finding(s) above"
    # Bracketed text the user wrote comes back as written, in one line.
    cfg = yaml.safe_load((REPO / "Pulumi.staging.yaml").read_text())
    cfg["config"]["berth:network"]["cidr"] = "10.10.0.0/16[internal]"
    (tmp_path / "Pulumi.staging.yaml").write_text(yaml.safe_dump(cfg))
    shutil.copy(REPO / "Pulumi.yaml", tmp_path)
    out = at_80("preflight", "staging", "--no-registries", "--config-dir", str(tmp_path))
    assert "  - berth:network.cidr = '10.10.0.0/16[internal]': not an IPv4 CIDR block such as 10.0.0.0/16 " \
           "('16[internal]' is not a valid netmask)" in out.stderr.splitlines()
