"""Tests room (bootstrap): the account foundation run offline in the embedded cloud, as
`berth bootstrap preview` runs it: its graph, what moto holds afterwards, the policy pack, and bad
config refused before any resource is registered."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from berth.operations import bootstrap as ops
from bootstrap.inputs import RUNNER_PROJECT
from embedded_cloud import EmbeddedCloud, Node, ProgramError, run_isolated
from embedded_cloud.runner import REPO, apply_overrides, read_config_file
from policy.evaluator import evaluate
from tests.conftest import Deployed

pytestmark = pytest.mark.slow
CONFIG = read_config_file(ops.BOOTSTRAP_DIR / "Pulumi.account.yaml")
REPO_NAME = CONFIG["berth-bootstrap:repository"]
SUB = "token.actions.githubusercontent.com:sub"
AUD = "token.actions.githubusercontent.com:aud"


@pytest.fixture(scope="module")
def account() -> Iterator[Deployed]:
    cloud = EmbeddedCloud.serve()
    try:
        graph = run_isolated("account", endpoint_url=cloud.endpoint_url or "", config=CONFIG, repo=ops.BOOTSTRAP_DIR)
        yield Deployed("account", graph, cloud)
    finally:
        cloud.close()


def of_type(d: Deployed, type_: str) -> list[Node]:
    return [n for n in d.graph.nodes if n.type == type_]


def doc(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else json.loads(value)


def test_the_graph_is_of_the_bootstrap_project(account: Deployed) -> None:
    assert account.graph.project == "berth-bootstrap"
    assert all("::berth-bootstrap::" in n.urn for n in account.graph.nodes)


def test_one_github_oidc_provider_for_sts(account: Deployed) -> None:
    [provider] = of_type(account, "aws:iam/openIdConnectProvider:OpenIdConnectProvider")
    assert provider.inputs["url"] == "https://token.actions.githubusercontent.com"
    assert provider.inputs["clientIdLists"] == ["sts.amazonaws.com"]
    listed = account.client("iam").list_open_id_connect_providers()["OpenIDConnectProviderList"]
    assert [p["Arn"] for p in listed] == [provider.outputs["arn"]]


def test_five_roles_each_pinned_to_one_subject_with_the_audience(account: Deployed) -> None:
    roles = {
        n.inputs["name"]: doc(n.inputs["assumeRolePolicy"])
        for n in of_type(account, "aws:iam/role:Role")
        if n.inputs["name"].startswith("berth-ci-")
    }
    expected = {
        "berth-ci-staging": f"repo:{REPO_NAME}:environment:staging",
        "berth-ci-production": f"repo:{REPO_NAME}:environment:production",
        "berth-ci-review": f"repo:{REPO_NAME}:environment:review",
        "berth-ci-dr": f"repo:{REPO_NAME}:environment:dr",
        "berth-ci-preview": f"repo:{REPO_NAME}:pull_request",
    }
    assert set(roles) == set(expected)
    provider_arn = of_type(account, "aws:iam/openIdConnectProvider:OpenIdConnectProvider")[0].outputs["arn"]
    for name, policy in roles.items():
        [statement] = policy["Statement"]
        assert statement["Principal"] == {"Federated": provider_arn}
        assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
        # Exactly one operator, StringEquals: no StringLike, so no pattern can widen it.
        assert statement["Condition"] == {"StringEquals": {AUD: "sts.amazonaws.com", SUB: expected[name]}}, name
        # And what IAM holds is the same document.
        held = account.client("iam").get_role(RoleName=name)["Role"]["AssumeRolePolicyDocument"]
        assert doc(held)["Statement"][0]["Condition"]["StringEquals"][SUB] == expected[name]


def test_no_subject_condition_anywhere_has_a_wildcard(account: Deployed) -> None:
    subjects = []
    for role in of_type(account, "aws:iam/role:Role"):
        for statement in doc(role.inputs["assumeRolePolicy"])["Statement"]:
            for operator, conds in statement.get("Condition", {}).items():
                assert "Like" not in operator, (role.name, operator)
                if SUB in conds:
                    subjects += conds[SUB] if isinstance(conds[SUB], list) else [conds[SUB]]
    assert len(subjects) == 5 and not [s for s in subjects if "*" in s or "?" in s]


def test_deploy_roles_get_their_stacks_services_and_the_preview_role_only_reads(account: Deployed) -> None:
    policies = {n.name: doc(n.inputs["policy"]) for n in of_type(account, "aws:iam/rolePolicy:RolePolicy")}
    staging = {s["Sid"]: s for s in policies["ci-staging"]["Statement"]}
    services = staging["StackServices"]["Action"]
    assert "*" not in services and "eks:*" in services and "rds:*" in services
    assert "ecr:PutImage" in staging["Registry"]["Action"]  # the image job pushes with the staging role
    assert staging["StackServices"]["Condition"]["StringEquals"]["aws:RequestedRegion"] == ["us-east-1", "us-west-2"]
    prod = {s["Sid"]: s for s in policies["ci-production"]["Statement"]}
    assert "ecr:PutImage" not in prod["Registry"]["Action"] and "ecr:DescribeImages" in prod["Registry"]["Action"]
    # berth up's account checks, and the nightly sweep's tag search for the review role only.
    assert "servicequotas:GetServiceQuota" in services and "tag:GetResources" not in services
    review = {s["Sid"]: s for s in policies["ci-review"]["Statement"]}
    assert "tag:GetResources" in review["StackServices"]["Action"]
    preview = {s["Sid"]: s for s in policies["ci-preview"]["Statement"]}
    reads = preview["StackServices"]["Action"]
    assert reads and all(a.split(":")[1].startswith(("Describe", "List", "Get")) for a in reads), reads
    # The whole inline policy fits IAM's 10,240-character limit per role.
    assert all(len(json.dumps(p, separators=(",", ":"))) < 10240 for p in policies.values())


def test_the_registry_is_immutable_scanned_kms_encrypted_and_expires_untagged_images(account: Deployed) -> None:
    [repo] = of_type(account, "aws:ecr/repository:Repository")
    assert repo.protect
    held = account.client("ecr").describe_repositories(repositoryNames=[repo.inputs["name"]])["repositories"][0]
    assert held["imageTagMutability"] == "IMMUTABLE"
    assert held["imageScanningConfiguration"] == {"scanOnPush": True}
    [key] = of_type(account, "aws:kms/key:Key")
    assert held["encryptionConfiguration"] == {"encryptionType": "KMS", "kmsKey": key.outputs["arn"]}
    policy = json.loads(
        account.client("ecr").get_lifecycle_policy(repositoryName=held["repositoryName"])["lifecyclePolicyText"]
    )
    [rule] = policy["rules"]
    assert rule["selection"]["tagStatus"] == "untagged" and rule["action"] == {"type": "expire"}


def test_runners_are_a_codebuild_project_on_workflow_jobs_behind_one_nat_address(account: Deployed) -> None:
    [project] = of_type(account, "aws:codebuild/project:Project")
    [hook] = of_type(account, "aws:codebuild/webhook:Webhook")
    assert project.inputs["name"] == RUNNER_PROJECT
    assert hook.inputs["filterGroups"] == [{"filters": [{"type": "EVENT", "pattern": "WORKFLOW_JOB_QUEUED"}]}]
    assert project.inputs["source"]["location"] == f"https://github.com/{REPO_NAME}.git"
    assert project.inputs["source"]["auth"]["type"] == "CODECONNECTIONS"
    # Every runner sits in private subnets whose only default route is the NAT gateway with the EIP.
    ec2 = account.client("ec2")
    vpc = project.outputs["vpcConfig"]
    [nat] = ec2.describe_nat_gateways()["NatGateways"]
    [eip] = of_type(account, "aws:ec2/eip:Eip")
    assert nat["NatGatewayAddresses"][0]["AllocationId"] == eip.outputs["allocationId"] and eip.protect
    tables = ec2.describe_route_tables(Filters=[{"Name": "association.subnet-id", "Values": vpc["subnets"]}])
    defaults = {
        r.get("NatGatewayId") or r.get("GatewayId")
        for t in tables["RouteTables"]
        for r in t["Routes"]
        if r.get("DestinationCidrBlock") == "0.0.0.0/0"
    }
    assert defaults == {nat["NatGatewayId"]}
    assert account.graph.outputs["runnerEgressCidr"] == f"{eip.outputs['publicIp']}/32"
    held = account.client("codebuild").batch_get_projects(names=[RUNNER_PROJECT])["projects"][0]
    assert held["vpcConfig"]["vpcId"] == vpc["vpcId"]


def test_the_variables_come_from_the_outputs(account: Deployed) -> None:
    variables = ops.variables(account.graph.outputs)
    roles = {n.inputs["name"]: n.outputs["arn"] for n in of_type(account, "aws:iam/role:Role")}
    assert variables == {
        "AWS_REGION": "us-east-1",
        "AWS_STAGING_ROLE_ARN": roles["berth-ci-staging"],
        "AWS_PROD_ROLE_ARN": roles["berth-ci-production"],
        "AWS_REVIEW_ROLE_ARN": roles["berth-ci-review"],
        "AWS_DR_ROLE_ARN": roles["berth-ci-dr"],
        "AWS_PREVIEW_ROLE_ARN": roles["berth-ci-preview"],
        "APP_IMAGE_REPOSITORY": of_type(account, "aws:ecr/repository:Repository")[0].outputs["repositoryUrl"],
    }


def test_the_policy_pack_passes_on_the_bootstrap(account: Deployed) -> None:
    report = evaluate(account.graph)
    assert report.mandatory_failures == [] and report.to_dict()


BAD = {
    "repository without an owner": (
        {"berth-bootstrap:repository": "shipments"},
        "berth-bootstrap:repository",
        "shipments",
        "OWNER/REPO",
    ),
    "unknown environment kind": (
        {"berth-bootstrap:environments.qa": {"githubEnvironment": "qa", "stacks": ["staging"]}},
        "berth-bootstrap:environments",
        "qa",
        "staging, production, review, dr",
    ),
    "runners without a fixed egress": (
        {"berth-bootstrap:runners.egress": "public"},
        "berth-bootstrap:runners.egress",
        "public",
        "natGateway",
    ),
}


@pytest.mark.parametrize("case", list(BAD), ids=lambda c: c.replace(" ", "-"))
def test_bad_config_is_refused_before_any_resource(case: str) -> None:
    overrides, key, value, allowed = BAD[case]
    cloud = EmbeddedCloud.serve()
    try:
        with pytest.raises(ProgramError) as exc:
            run_isolated(
                "account",
                endpoint_url=cloud.endpoint_url or "",
                repo=ops.BOOTSTRAP_DIR,
                config=apply_overrides(CONFIG, overrides),
            )
        message = str(exc.value)
        assert key in message and value in message and allowed in message, message
        assert exc.value.graph is not None
        assert [n.type for n in exc.value.graph.nodes if n.custom] == []
        assert cloud.client("iam", "us-east-1").list_roles()["Roles"] == []
    finally:
        cloud.close()


def test_berth_bootstrap_preview_writes_the_graph_and_prints_the_variables(tmp_path: Path) -> None:
    exe = shutil.which("berth", path=str(REPO / ".venv" / "bin")) or "berth"
    out = subprocess.run(
        [exe, "bootstrap", "preview", "--no-tree", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert out.returncode == 0, out.stderr + out.stdout
    graph = json.loads((tmp_path / "bootstrap" / "graph.json").read_text())
    assert graph["project"] == "berth-bootstrap" and graph["stack"] == "account"
    assert json.loads((tmp_path / "bootstrap" / "policy.json").read_text())
    lines = [line for line in out.stdout.splitlines() if line.startswith("gh variable set ")]
    assert [line.split()[3] for line in lines] == [
        "AWS_REGION",
        "AWS_STAGING_ROLE_ARN",
        "AWS_PROD_ROLE_ARN",
        "AWS_REVIEW_ROLE_ARN",
        "AWS_DR_ROLE_ARN",
        "AWS_PREVIEW_ROLE_ARN",
        "APP_IMAGE_REPOSITORY",
    ]
    assert "gh variable set AWS_PROD_ROLE_ARN --body arn:aws:iam::123456789012:role/berth-ci-production" in lines
    assert graph["outputs"]["runnerEgressCidr"] in out.stdout
