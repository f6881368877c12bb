"""Tests room (operations): what each stack needs per AWS quota, and whether an account has room.

The needs come from the offline graphs (build/STACK/quotas.json); the account is an embedded cloud
whose Service Quotas moto is taught (embedded_cloud/handlers/servicequotas.py): applied values
after a RequestServiceQuotaIncrease, AWS's defaults otherwise, usage from the describe calls.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from berth.commands import app as berth_app
from berth.operations import envs, quotas
from berth.operations.errors import OpsError
from berth.operations.render import write_build
from embedded_cloud import EmbeddedCloud
from embedded_cloud.runner import REPO, read_stack_config
from tests.conftest import Deployed


def by_quota(needs: list[quotas.Need]) -> dict[tuple[str, str], int]:
    out: dict[tuple[str, str], int] = {}
    for n in needs:
        out[(n.quota, n.region)] = out.get((n.quota, n.region), 0) + n.count
    return out


def test_quotas_json_lists_what_staging_and_prod_need_with_codes_and_defaults(
    staging: Deployed, prod: Deployed, tmp_path: Path
) -> None:
    written = write_build(staging.graph, tmp_path / "staging")
    assert tmp_path / "staging" / "quotas.json" in written
    data = json.loads((tmp_path / "staging" / "quotas.json").read_text())
    rows = {(r["quota"], r["region"]): r for r in data["quotas"]}
    eips = rows[("elastic-ips", "us-east-1")]
    assert (eips["serviceCode"], eips["quotaCode"], eips["awsDefault"], eips["needed"]) == ("ec2", "L-0263D0A3", 5, 1)
    s = by_quota(quotas.needs(staging.graph))
    # Staging: one VPC, one NAT (single), Spot nodes: nodeMax 4 x t3.large's 2 vCPUs.
    assert s[("vpcs", "us-east-1")] == 1 and s[("nat-gateways", "us-east-1")] == 1
    assert s[("spot-vcpus", "us-east-1")] == 8 and ("on-demand-vcpus", "us-east-1") not in s
    assert s[("eks-clusters", "us-east-1")] == 1 and s[("rds-instances", "us-east-1")] == 2
    assert s[("elasticache-nodes", "us-east-1")] == 2 and s[("cloudfront-distributions", "us-east-1")] == 1
    assert s[("network-load-balancers", "us-east-1")] == 1
    p = by_quota(quotas.needs(prod.graph))
    # Prod: a NAT gateway (and its address) per AZ, the recovery VPC in its DR region, On-Demand nodes
    # at nodeMax 9 x 2 vCPUs.
    assert p[("elastic-ips", "us-east-1")] == 3 and p[("vpcs", "us-west-2")] == 1
    assert all(n.count == 1 for n in quotas.needs(prod.graph) if n.quota == "nat-gateways")
    assert len([n for n in quotas.needs(prod.graph) if n.quota == "nat-gateways" and n.region == "us-east-1"]) == 3
    assert p[("on-demand-vcpus", "us-east-1")] == 18
    assert data["configDigest"] == quotas.config_digest(staging.graph.config)


@pytest.fixture
def cloud() -> Iterator[EmbeddedCloud]:
    with EmbeddedCloud.serve() as c:
        yield c


def _fill_addresses(cloud: EmbeddedCloud, n: int) -> None:
    for _ in range(n):
        cloud.client("ec2", "us-east-1").allocate_address(Domain="vpc")


def _raise(cloud: EmbeddedCloud, service: str, code: str, value: int) -> None:
    cloud.client("service-quotas", "us-east-1").request_service_quota_increase(
        ServiceCode=service, QuotaCode=code, DesiredValue=value)


@pytest.mark.slow
def test_preflight_names_each_quota_that_will_not_fit_and_warns_about_a_first_distribution(
    staging: Deployed, cloud: EmbeddedCloud
) -> None:
    needs = quotas.StackNeeds.of(staging.graph)
    _fill_addresses(cloud, 5)  # five Elastic IPs held by other stacks: the AWS default
    report = quotas.account_check(needs, cloud.client)
    failing = {f.key: f for f in report.findings}
    assert set(failing) == {"quota ec2/L-0263D0A3", "quota ec2/L-34B43A08"}
    eip = failing["quota ec2/L-0263D0A3"]
    assert "needs 1 (berth-staging-nat-a-eip), 5 already in use, the account allows 5 (AWS default" in eip.problem
    assert "--service-code ec2 --quota-code L-0263D0A3 --desired-value 6" in eip.fix
    assert "needs 8" in failing["quota ec2/L-34B43A08"].problem
    assert report.warnings == [quotas.NEW_ACCOUNT_CDN]
    # Raised the way an operator would: applied values now, and both fit.
    _raise(cloud, "ec2", "L-0263D0A3", 10)
    _raise(cloud, "ec2", "L-34B43A08", 16)
    again = quotas.account_check(needs, cloud.client)
    assert again.ok, again.findings
    assert any("EC2-VPC Elastic IPs (us-east-1): 5 in use + 1 needed <= 10 (applied)" in c for c in again.checked)


def test_applied_values_fall_back_to_aws_defaults(cloud: EmbeddedCloud) -> None:
    from embedded_cloud.quotas import AWS_QUOTAS

    assert quotas.applied(cloud.client, AWS_QUOTAS["vpcs"], "us-east-1") == quotas.Applied(5, "applied")
    assert quotas.applied(cloud.client, AWS_QUOTAS["eks-clusters"], "us-east-1") == quotas.Applied(100, "AWS default")
    _raise(cloud, "eks", "L-1194D53C", 150)
    assert quotas.applied(cloud.client, AWS_QUOTAS["eks-clusters"], "us-east-1") == quotas.Applied(150, "applied")


@pytest.fixture
def configs(tmp_path: Path) -> Path:
    for stack in ("staging", "prod"):
        (tmp_path / f"Pulumi.{stack}.yaml").write_text((REPO / f"Pulumi.{stack}.yaml").read_text())
    return tmp_path


@pytest.mark.slow
def test_env_create_refuses_a_review_environment_that_would_not_fit_writing_nothing(
    cloud: EmbeddedCloud, configs: Path
) -> None:
    _fill_addresses(cloud, 5)
    with pytest.raises(OpsError) as exc:
        envs.create("pr-12", "staging", "1d", config_dir=configs, client=cloud.client)
    assert "would not fit the account's quotas; nothing was written" in exc.value.message
    assert "EC2-VPC Elastic IPs in us-east-1" in exc.value.message
    assert not (configs / "Pulumi.pr-12.yaml").exists()
    assert cloud.client("ec2", "us-east-1").describe_vpcs()["Vpcs"][0]["IsDefault"]  # nothing created either
    assert len(cloud.client("ec2", "us-east-1").describe_vpcs()["Vpcs"]) == 1
    _raise(cloud, "ec2", "L-0263D0A3", 10)
    env = envs.create("pr-12", "staging", "1d", config_dir=configs, client=cloud.client)
    assert env.path.exists() and env.warnings == [quotas.NEW_ACCOUNT_CDN]


@pytest.mark.slow
def test_berth_preflight_reads_quotas_json_and_names_what_will_not_fit(
    staging: Deployed, cloud: EmbeddedCloud, tmp_path: Path
) -> None:
    write_build(staging.graph, tmp_path / "staging")
    assert quotas.read(tmp_path / "staging" / "quotas.json", read_stack_config("staging")) is not None
    _fill_addresses(cloud, 5)
    result = CliRunner().invoke(berth_app, ["preflight", "staging", "--no-registries", "--account", "--endpoint",
                                            cloud.endpoint_url or "", "--build", str(tmp_path)], terminal_width=250)
    out = " ".join(result.output.split())
    assert result.exit_code == 1, out
    assert "2 quota(s) it will not fit" in out and "L-0263D0A3" in out and "L-34B43A08" in out
    assert "warning: the account holds no CloudFront distribution" in out


def test_preflight_without_credentials_says_the_account_was_not_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    result = CliRunner().invoke(berth_app, ["preflight", "staging", "--no-registries", "--account"],
                                terminal_width=250)
    out = " ".join(result.output.split())
    assert result.exit_code == 1
    assert "account not checked: no AWS credentials found" in out and "--no-account" in out


@pytest.mark.slow
def test_berth_env_create_asks_the_account_and_refuses_writing_nothing(cloud: EmbeddedCloud, configs: Path) -> None:
    _fill_addresses(cloud, 5)
    args = ["env", "create", "pr-21", "--from", "staging", "--ttl", "1d", "--config-dir", str(configs)]
    refused = CliRunner().invoke(berth_app, [*args, "--quotas", "--endpoint", cloud.endpoint_url or ""],
                                 terminal_width=250)
    assert refused.exit_code == 1
    assert "would not fit the account's quotas; nothing was written" in " ".join(refused.output.split())
    assert not (configs / "Pulumi.pr-21.yaml").exists()
    # Offline, on purpose: written, and it says the account was not asked.
    unchecked = CliRunner().invoke(berth_app, args, terminal_width=250)
    assert unchecked.exit_code == 0 and "(account quotas not checked: --quotas)" in unchecked.output
    assert (configs / "Pulumi.pr-21.yaml").exists()


def test_an_account_that_cannot_be_read_is_a_warning_not_a_pass(cloud: EmbeddedCloud) -> None:
    """Credentials without service-quotas:Get* (or a describe call): `berth up`/`env create` go on with a
    warning naming the permissions; `berth preflight` counts it as a problem (unreadable is set)."""
    from botocore.exceptions import ClientError

    def denied(service: str, region: str) -> object:
        if service == "service-quotas":
            class Denied:
                def get_service_quota(self, **kw: object) -> None:
                    raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "GetServiceQuota")
            return Denied()
        return cloud.client(service, region)

    needs = quotas.StackNeeds("pr-1", [quotas.Need("vpcs", "us-east-1", 1, resources=["vpc"])], set())
    report = quotas.account_check(needs, denied)
    assert report.findings == [] and report.unreadable and "AccessDeniedException" in report.unreadable
    assert "servicequotas:GetServiceQuota" in report.warnings[0]


def test_env_create_asked_for_quotas_without_credentials_refuses_writing_nothing(
    configs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for var in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    args = ["env", "create", "pr-22", "--config-dir", str(configs)]
    insisted = CliRunner().invoke(berth_app, [*args, "--quotas"], terminal_width=250)
    assert insisted.exit_code == 1 and "no AWS credentials found" in insisted.output
    assert not (configs / "Pulumi.pr-22.yaml").exists()
