"""Tests room (bootstrap): the bootstrap's settings (every bad value named with what is allowed), the
permission table against the platform stacks' graphs, the runners' egress written into the platform
stack files, and the `berth bootstrap` command's refusals."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from berth.commands import app
from berth.operations import bootstrap as ops
from berth.operations.errors import OpsError
from berth.operations.stackfile import StackFile
from bootstrap import foundation, permissions
from bootstrap.inputs import BootstrapConfigError, settings_from_config_map
from embedded_cloud.runner import REPO, apply_overrides, read_config_file
from tests.conftest import Deployed

CONFIG = read_config_file(ops.BOOTSTRAP_DIR / "Pulumi.account.yaml")


def refusal(overrides: dict[str, Any]) -> str:
    with pytest.raises(BootstrapConfigError) as exc:
        settings_from_config_map("account", apply_overrides(CONFIG, overrides))
    return str(exc.value)


def test_the_checked_in_account_config_is_valid() -> None:
    s = settings_from_config_map("account", CONFIG)
    assert set(s.environments) == {"staging", "production", "review", "dr"}
    assert s.allowed_regions == ["us-east-1", "us-west-2"]


@pytest.mark.parametrize("repo", ["shipments", "acme/", "/shipments", "acme/ship ments", "-acme/x", "a/b/c", "acme/*"])
def test_a_repository_not_owner_slash_repo_is_refused(repo: str) -> None:
    msg = refusal({"berth-bootstrap:repository": repo})
    assert "berth-bootstrap:repository" in msg and repo in msg and "OWNER/REPO" in msg


def test_an_unknown_environment_kind_is_refused_naming_the_allowed_ones() -> None:
    msg = refusal({"berth-bootstrap:environments.qa": {"githubEnvironment": "qa", "stacks": ["staging"]}})
    assert "berth-bootstrap:environments" in msg and "'qa'" in msg and "staging, production, review, dr" in msg


def test_a_missing_environment_kind_is_refused() -> None:
    msg = refusal({"berth-bootstrap:environments.dr": None})
    assert "missing environment kind(s) ['dr']" in msg


def test_a_wildcard_environment_name_is_refused() -> None:
    msg = refusal({"berth-bootstrap:environments.review.githubEnvironment": "review-*"})
    assert "berth-bootstrap:environments.review.githubEnvironment" in msg and "review-*" in msg


@pytest.mark.parametrize("egress", ["public", "none", "ipv6"])
def test_runners_without_a_fixed_egress_are_refused(egress: str) -> None:
    msg = refusal({"berth-bootstrap:runners.egress": egress})
    assert "berth-bootstrap:runners.egress" in msg and egress in msg and "allowed: natGateway" in msg


def test_an_unknown_stack_for_a_role_and_an_unknown_key_are_refused() -> None:
    msg = refusal({"berth-bootstrap:environments.staging.stacks": ["qa"]})
    assert "environments.staging.stacks" in msg and "qa" in msg and "prod, staging" in msg
    msg = refusal({"berth-bootstrap:runner": {}})
    assert "berth-bootstrap:runner" in msg and "berth-bootstrap:runners" in msg


def test_every_problem_is_listed_at_once() -> None:
    msg = refusal(
        {
            "berth-bootstrap:repository": "x",
            "berth-bootstrap:runners.egress": "none",
            "berth-bootstrap:regions": ["us-east-1", "mars-1"],
        }
    )
    assert msg.count("\n  - ") == 3 and "nothing was created" in msg


def test_trust_policy_is_exactly_the_subject_and_audience() -> None:
    policy = json.loads(foundation.trust_policy("arn:aws:iam::1:oidc-provider/x", "acme/shipments", "staging"))
    assert policy["Statement"][0]["Condition"] == {
        "StringEquals": {
            "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
            "token.actions.githubusercontent.com:sub": "repo:acme/shipments:environment:staging",
        }
    }
    assert foundation.subject("acme/shipments", None) == "repo:acme/shipments:pull_request"


def test_the_permission_table_refuses_a_type_it_does_not_know() -> None:
    with pytest.raises(KeyError, match="aws:sqs/queue:Queue"):
        permissions.services_for("aws:sqs/queue:Queue")
    assert permissions.uncovered(["aws:sqs/queue:Queue", "aws:ec2/vpc:Vpc"]) == ["aws:sqs/queue:Queue"]
    # Besides the types' services: what `berth up` asks before deploying (quotas, usage, log groups).
    assert permissions.deploy_actions(["aws:cloudwatch/logGroup:LogGroup", "kubernetes:core/v1:Service"]) == [
        "cloudfront:ListDistributions",
        "eks:DescribeCluster",
        "elasticloadbalancing:DescribeLoadBalancers",
        "logs:*",
        "servicequotas:GetAWSDefaultServiceQuota",
        "servicequotas:GetServiceQuota",
    ]
    assert permissions.read_actions(["aws:eks/cluster:Cluster"]) == ["eks:Describe*", "eks:Get*", "eks:List*"]


def test_every_recorded_type_of_the_platform_stacks_is_covered() -> None:
    recorded = permissions.stack_types()
    assert set(recorded) == {"staging", "prod"}
    assert permissions.uncovered(t for types in recorded.values() for t in types) == []


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_the_recorded_types_are_those_the_program_registers(stack: str, request: pytest.FixtureRequest) -> None:
    deployed: Deployed = request.getfixturevalue(stack)
    # A new resource type in the platform fails here until `berth bootstrap types` records it (and the
    # table above covers it): its deploy role could not create it otherwise.
    assert permissions.stack_types()[stack] == ops.custom_types(deployed.graph), (
        "run `berth preview staging && berth preview prod && berth bootstrap types`"
    )


def test_types_are_recorded_from_the_preview_graphs(tmp_path: Path, staging: Deployed) -> None:
    with pytest.raises(OpsError, match="run `berth preview staging` first"):
        ops.record_types(["staging"], tmp_path, tmp_path / "types.json")
    staging.graph.write(tmp_path / "staging" / "graph.json")
    written = ops.record_types(["staging"], tmp_path, tmp_path / "types.json")
    assert json.loads(written.read_text()) == {"staging": ops.custom_types(staging.graph)}
    assert "aws:eks/cluster:Cluster" in json.loads(written.read_text())["staging"]


def test_link_writes_the_egress_once_keeps_comments_and_replaces_an_old_one(tmp_path: Path) -> None:
    for name in ("staging", "prod"):
        shutil.copy(REPO / f"Pulumi.{name}.yaml", tmp_path)
    assert ops.unlinked("198.18.0.7/32", ["staging", "prod"], tmp_path) == ["staging", "prod"]
    changed = ops.link("198.18.0.7/32", ["staging", "prod"], tmp_path)
    assert [p.name for p in changed] == ["Pulumi.staging.yaml", "Pulumi.prod.yaml"]
    assert ops.unlinked("198.18.0.7/32", ["staging", "prod"], tmp_path) == []
    assert ops.link("198.18.0.7/32", ["staging", "prod"], tmp_path) == []  # a second run changes nothing
    ops.link("198.18.0.9/32", ["staging"], tmp_path)
    text = (tmp_path / "Pulumi.staging.yaml").read_text()
    cidrs = yaml.safe_load(text)["config"]["berth:cluster"]["publicAccessCidrs"]
    assert cidrs == ["203.0.113.0/24", "198.18.0.9/32"]  # the operators' range stays, the old egress goes
    assert "# office / VPN egress" in text and "# CI runners' egress (berth bootstrap)" in text
    before = (REPO / "Pulumi.staging.yaml").read_text().splitlines()
    after = text.splitlines()
    assert [line for line in after if line not in before] == [
        "      - 198.18.0.9/32 # CI runners' egress (berth bootstrap)"
    ]
    # The platform's own settings accept what was written.
    settings = StackFile.read("staging", tmp_path).settings
    assert settings.cluster.public_access_cidrs == ["203.0.113.0/24", "198.18.0.9/32"]


def test_link_roles_names_the_bootstraps_roles_in_each_stack_once(tmp_path: Path) -> None:
    for name in ("staging", "prod"):
        shutil.copy(REPO / f"Pulumi.{name}.yaml", tmp_path)
    file = ops.read(None)
    arns = {kind: f"arn:aws:iam::210987654321:role/berth-ci-{kind}"
            for kind in ("staging", "production", "review", "dr", "preview")}
    assert set(ops.unlinked_roles(file, arns, tmp_path)) == {
        "staging: berth:cluster.ciRoleArn", "staging: berth:cluster.reviewCiRoleArn",
        "prod: berth:cluster.ciRoleArn", "prod: berth:dr.ciRoleArn"}
    changed = ops.link_roles(file, arns, tmp_path)
    assert sorted(p.name for p in changed) == ["Pulumi.prod.yaml", "Pulumi.staging.yaml"]
    assert ops.unlinked_roles(file, arns, tmp_path) == []
    assert ops.link_roles(file, arns, tmp_path) == []  # a second run changes nothing
    staging, prod = StackFile.read("staging", tmp_path), StackFile.read("prod", tmp_path)
    assert staging.settings.cluster.ci_role_arn == arns["staging"]
    assert staging.settings.cluster.review_ci_role_arn == arns["review"]
    assert staging.settings.cluster.read_only_role_arns.count(arns["preview"]) == 1  # the preview role reads
    assert prod.settings.cluster.ci_role_arn == arns["production"] and prod.settings.dr.ci_role_arn == arns["dr"]
    assert arns["preview"] not in prod.settings.cluster.read_only_role_arns
    assert "# berth bootstrap's role" in staging.text


def test_variables_need_the_outputs() -> None:
    with pytest.raises(OpsError, match="run `berth bootstrap up` first"):
        ops.variables({"region": "us-east-1"})


def _bad_dir(tmp_path: Path, overrides: dict[str, Any]) -> Path:
    tmp_path.mkdir(parents=True)
    doc = yaml.safe_load((ops.BOOTSTRAP_DIR / "Pulumi.account.yaml").read_text())
    doc["config"] = apply_overrides(doc["config"], overrides)
    (tmp_path / "Pulumi.account.yaml").write_text(yaml.safe_dump(doc))
    return tmp_path


def test_preview_refuses_bad_config_and_writes_nothing(tmp_path: Path) -> None:
    directory = _bad_dir(tmp_path / "project", {"berth-bootstrap:repository": "not a repo"})
    out = tmp_path / "build"
    result = CliRunner().invoke(app, ["bootstrap", "preview", "--dir", str(directory), "--out", str(out)])
    assert result.exit_code == 1
    assert "berth-bootstrap:repository = not a repo" in result.output and "OWNER/REPO" in result.output
    assert not out.exists()


def test_up_refuses_the_example_connection_before_touching_anything(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_workspace(file: Any) -> Any:
        raise AssertionError("a workspace was opened")

    # The CLI, the backend login and AWS all present: the example values alone refuse.
    monkeypatch.setattr(ops.deploy, "tools", lambda region, need_aws=True: ops.deploy.Preflight())
    monkeypatch.setattr(ops, "_workspace", no_workspace)
    with pytest.raises(OpsError) as exc:
        ops.up(None, yes=True)
    assert "nothing was changed" in exc.value.message
    assert "berth-bootstrap:runners.connectionArn" in exc.value.message and "123456789012" in exc.value.message


def test_the_command_is_registered() -> None:
    result = CliRunner().invoke(app, ["bootstrap", "--help"])
    assert result.exit_code == 0
    for sub in ("preview", "up", "vars", "outputs", "check", "types"):
        assert sub in result.output
