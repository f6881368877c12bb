"""Tests room: real deployments refuse cleanly without the Pulumi CLI or AWS credentials.

The Pulumi CLI is genuinely absent here. A fake `pulumi` script (answering `version` and
`whoami`) stands in for it where a test needs the CLI check to pass, so the next check
(credentials, backend login) is the one exercised. No test reaches a real backend.
"""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from berth.commands import app as berth_app
from berth.operations import deploy
from berth.operations.errors import OpsError
from berth.operations.stackfile import StackFile
from embedded_cloud.runner import REPO

AWS_VARS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
            "AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE", "AWS_WEB_IDENTITY_TOKEN_FILE",
            "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI")


@pytest.fixture
def bare_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No pulumi on PATH, no AWS credentials anywhere (not even the instance metadata service)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", str(bin_dir))
    for var in AWS_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return bin_dir


def fake_pulumi(bin_dir: Path, version: str = "v3.272.0", whoami_ok: bool = True) -> Path:
    script = bin_dir / "pulumi"
    who = 'echo alice' if whoami_ok else 'echo "error: PULUMI_ACCESS_TOKEN must be set for login" >&2; exit 255'
    script.write_text(f'#!/bin/sh\ncase "$1" in\n  version) echo {version};;\n  whoami) {who};;\n'
                      f'  *) echo "fake pulumi: $*" >&2; exit 3;;\nesac\n')
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return script


@pytest.fixture
def no_workspace(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Fail loudly if anything reaches the Automation API's workspace (that would be partial work)."""
    calls: list[Any] = []

    def trap(*args: Any, **kwargs: Any) -> None:
        calls.append((args, kwargs))
        raise AssertionError("the Automation API was reached despite a failed preflight")

    from pulumi import automation

    monkeypatch.setattr(automation, "create_or_select_stack", trap)
    return calls


def _cli() -> typer.Typer:
    return berth_app


@pytest.mark.parametrize("args", [["up", "prod", "--yes"], ["up", "staging"], ["destroy", "staging", "--yes"]])
def test_without_pulumi_cli_and_credentials_commands_refuse(bare_env: Path, no_workspace: list[Any],
                                                            args: list[str]) -> None:
    result = CliRunner().invoke(_cli(), args)
    assert result.exit_code == 1
    out = " ".join(result.output.split())
    assert "nothing was changed" in out
    assert "install the Pulumi CLI: curl -fsSL https://get.pulumi.com | sh" in out
    assert "AWS_PROFILE" in out and "AWS_ACCESS_KEY_ID" in out
    assert no_workspace == []
    assert not (REPO / ".pulumi").exists()


def test_cloud_preview_refuses_with_the_same_message(bare_env: Path, no_workspace: list[Any]) -> None:
    with pytest.raises(OpsError) as exc:
        deploy.preview_cloud(StackFile.read("staging"))
    assert exc.value.exit_code == 1
    assert "cannot preview staging against the cloud" in exc.value.message
    assert "get.pulumi.com" in exc.value.message
    assert no_workspace == []


def test_with_the_cli_but_no_credentials_only_aws_is_missing(bare_env: Path, no_workspace: list[Any]) -> None:
    fake_pulumi(bare_env)
    pf = deploy.preflight(StackFile.read("prod"))
    assert pf.pulumi_version == "3.272.0"  # the Automation API's version check accepted it
    assert len(pf.problems) == 1 and pf.problems[0].startswith("no AWS credentials found")
    with pytest.raises(OpsError, match="AWS_PROFILE"):
        deploy.up(StackFile.read("prod"), yes=True)
    assert no_workspace == []


def test_credentials_that_sts_rejects_are_reported(bare_env: Path, no_workspace: list[Any],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    fake_pulumi(bare_env)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong")
    # Nothing listens there: STS cannot confirm these credentials.
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:9")
    pf = deploy.preflight(StackFile.read("staging"))
    assert len(pf.problems) == 1
    assert "were not accepted by STS" in pf.problems[0] and "env" in pf.problems[0]


def test_too_old_cli_and_missing_login_are_named(bare_env: Path) -> None:
    fake_pulumi(bare_env, version="v2.25.0")
    pf = deploy.preflight(StackFile.read("staging"), need_aws=False)
    assert len(pf.problems) == 1 and "unusable" in pf.problems[0] and "get.pulumi.com" in pf.problems[0]

    fake_pulumi(bare_env, whoami_ok=False)
    pf = deploy.preflight(StackFile.read("staging"), need_aws=False)
    assert len(pf.problems) == 1
    assert "not logged in to a Pulumi backend" in pf.problems[0] and "pulumi login" in pf.problems[0]
    assert "PULUMI_ACCESS_TOKEN must be set" in pf.problems[0]


def test_an_invalid_config_is_refused_before_anything(bare_env: Path, tmp_path: Path, no_workspace: list[Any]) -> None:
    (tmp_path / "policy").mkdir()
    (tmp_path / "policy" / "PulumiPolicy.yaml").write_text("runtime: python\n")
    text = (REPO / "Pulumi.staging.yaml").read_text().replace("replicas: 1\n", "replicas: 9\n", 1)
    (tmp_path / "Pulumi.staging.yaml").write_text(text)
    with pytest.raises(OpsError) as exc:
        deploy.up(StackFile.read("staging", tmp_path))
    assert "berth:database.replicas = 9" in exc.value.message
    with pytest.raises(OpsError, match="no stack 'qa'"):
        deploy.up(StackFile.read("qa", tmp_path))
    assert no_workspace == []


class FakeStack:
    """Stands in for pulumi.automation.Stack once the preflight has passed."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def preview(self, **kw: Any) -> Any:
        self.calls.append(("preview", kw))
        return type("R", (), {"change_summary": {"create": 3}})()

    def up(self, **kw: Any) -> Any:
        self.calls.append(("up", kw))
        return type("R", (), {"outputs": {"region": type("O", (), {"value": "us-east-1"})()}})()

    def destroy(self, **kw: Any) -> Any:
        self.calls.append(("destroy", kw))

    def export_stack(self) -> Any:
        # A new stack: nothing deployed, nothing for `berth up` to adopt first.
        return type("D", (), {"deployment": {"resources": []}})()


@pytest.fixture
def ready(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """A passing preflight and a fake workspace: the orchestration after the checks."""
    made: dict[str, Any] = {}

    def workspace(stack: StackFile) -> FakeStack:
        made["stack"], made["repo"] = stack.name, stack.path.parent
        made["fake"] = FakeStack()
        return made["fake"]

    monkeypatch.setattr(deploy, "preflight", lambda *a, **k: deploy.Preflight())
    monkeypatch.setattr(deploy, "workspace_stack", workspace)
    # The adoption of service log groups is tested on its own (tests/operations/test_adopt.py).
    monkeypatch.setattr(deploy, "adopt_service_log_groups", lambda *a, **k: [])
    return made


def test_prod_previews_and_asks_before_deploying(ready: dict[str, Any]) -> None:
    asked: list[str] = []
    with pytest.raises(OpsError, match="not deployed"):
        deploy.up(StackFile.read("prod"), confirm=lambda q: asked.append(q) or False, echo=lambda _: None)
    assert asked == ["Deploy these changes to production stack 'prod'?"]
    assert [c for c, _ in ready["fake"].calls] == ["preview"]  # never `up`

    outputs = deploy.up(StackFile.read("prod"), confirm=lambda q: True, echo=lambda _: None)
    calls = ready["fake"].calls
    assert [c for c, _ in calls] == ["preview", "up"]
    assert outputs == {"region": "us-east-1"}
    for _, kw in calls:
        assert kw["policy_packs"] == [str(REPO / "policy")]
    assert ready["repo"] == REPO


def test_staging_and_yes_deploy_without_a_question(ready: dict[str, Any]) -> None:
    def never(q: str) -> bool:
        raise AssertionError(f"asked {q!r}")

    deploy.up(StackFile.read("staging"), confirm=never, echo=lambda _: None)
    assert [c for c, _ in ready["fake"].calls] == ["up"]
    deploy.up(StackFile.read("prod"), yes=True, confirm=never, echo=lambda _: None)
    assert [c for c, _ in ready["fake"].calls] == ["up"]
    assert ready["fake"].calls[0][1]["policy_packs"] == [str(REPO / "policy")]


def test_destroy_always_asks(ready: dict[str, Any]) -> None:
    asked: list[str] = []
    with pytest.raises(OpsError, match="not destroyed"):
        deploy.destroy(StackFile.read("staging"), confirm=lambda q: asked.append(q) or False, echo=lambda _: None)
    assert asked == ["Destroy every resource of stack 'staging'?"]
    assert "stack" not in ready  # declined before the workspace was even opened
    deploy.destroy(StackFile.read("prod"), yes=True, echo=lambda _: None)
    assert [c for c, _ in ready["fake"].calls] == ["destroy"]


def test_policy_pack_is_where_up_points() -> None:
    assert (REPO / deploy.POLICY_PACK_DIR / "PulumiPolicy.yaml").exists()
    assert os.path.isdir(deploy._policy_packs(REPO)[0])


def test_only_a_role_with_a_cluster_admin_entry_may_drive_the_kubernetes_resources() -> None:
    """The Kubernetes provider authenticates as whoever runs `up`: the CI role (as CI assumes it, an
    STS session) and the admin roles pass; the read-only role, a user, another role are refused."""
    cluster = StackFile.read("prod").settings.cluster
    assert cluster.ci_role_arn and cluster.admin_role_arns and cluster.read_only_role_arns
    session = "arn:aws:sts::123456789012:assumed-role/berth-ci-production/berth-prod-4242"
    assert deploy.role_of(session) == cluster.ci_role_arn
    assert deploy.cluster_access_problem(session, cluster) is None
    assert deploy.cluster_access_problem(cluster.admin_role_arns[0], cluster) is None
    oncall = "arn:aws:sts::123456789012:assumed-role/platform-oncall/alice"
    problem = deploy.cluster_access_problem(oncall, cluster)
    assert problem and "has no cluster-admin access entry" in problem and cluster.ci_role_arn in problem
    assert deploy.cluster_access_problem("arn:aws:iam::123456789012:user/bob", cluster)
    # Same role name in another account: not the same principal.
    assert deploy.cluster_access_problem(session.replace("123456789012", "210987654321"), cluster)


@pytest.mark.slow
def test_up_refuses_a_stack_the_account_quotas_cannot_hold_before_touching_anything(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_workspace: list[Any]
) -> None:
    """Everything else passes (the CLI, the CI role's session, real-looking config): the Elastic IPs
    are full, so `berth up` says which quota and what to request, and never opens the workspace."""
    from berth.operations import preflight as placeholders
    from embedded_cloud import EmbeddedCloud

    shutil.copy(REPO / "Pulumi.staging.yaml", tmp_path / "Pulumi.staging.yaml")
    (tmp_path / "policy").mkdir()
    shutil.copy(REPO / "policy" / "PulumiPolicy.yaml", tmp_path / "policy" / "PulumiPolicy.yaml")
    file = StackFile.read("staging", tmp_path)

    def as_ci(pf: deploy.Preflight, region: str | None) -> None:
        pf.aws_arn = "arn:aws:sts::123456789012:assumed-role/berth-ci-staging/ci-7"

    monkeypatch.setattr(deploy, "_check_pulumi", lambda pf: None)
    monkeypatch.setattr(deploy, "_check_aws", as_ci)
    monkeypatch.setattr(deploy.placeholders, "check", lambda *a, **k: placeholders.Report("staging", [], True))
    with EmbeddedCloud.serve() as cloud:
        for _ in range(5):
            cloud.client("ec2", "us-east-1").allocate_address(Domain="vpc")
        monkeypatch.setattr(deploy, "aws_clients", lambda: cloud.client)
        with pytest.raises(OpsError) as exc:
            deploy.up(file, yes=True)
    message = " ".join(exc.value.message.split())
    assert "cannot deploy staging: nothing was changed" in message
    assert "staging will not fit the account's quotas: quota ec2/L-0263D0A3" in message
    assert no_workspace == []
