"""Tests room: review environments and tear-down in the embedded cloud.

A review environment made from staging (in a temp dir: the real stack files are never written)
passes the policy pack, comes up in moto, gets objects (with versions and a delete marker) in
every bucket, and `berth destroy --offline`'s path deletes it in reverse dependency order until
moto holds nothing at all. Prod refuses, naming its protected resources. moto's own rules are
what refuse a non-empty bucket without force_destroy and a database with deletion protection.
"""

from __future__ import annotations

import ipaddress
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from berth.commands import app as berth_app
from berth.operations import envs
from berth.operations.errors import OpsError
from embedded_cloud import EmbeddedCloud, run_isolated, teardown
from embedded_cloud.graph import Graph, Node
from embedded_cloud.runner import REPO, read_stack_config
from policy.evaluator import evaluate
from stacks.config import parse_settings, raw_from_config_map
from tests.conftest import Deployed


@pytest.fixture
def configs(tmp_path: Path) -> Path:
    for stack in ("staging", "prod"):
        shutil.copy(REPO / f"Pulumi.{stack}.yaml", tmp_path / f"Pulumi.{stack}.yaml")
    return tmp_path


def test_review_environment_is_staging_small_destroyable_and_expiring(configs: Path) -> None:
    now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    env = envs.create("pr-7", "staging", "3d", config_dir=configs, now=now)
    assert env.path == configs / "Pulumi.pr-7.yaml" and env.expires == now + timedelta(days=3)
    s = parse_settings("pr-7", raw_from_config_map(read_stack_config("pr-7", configs)))
    assert s.environment == "staging" and s.tags["Expires"] == "2026-01-04T12:00:00Z"
    assert s.network.az_count == 2 and s.network.nat_gateways == "single"
    assert s.database.replicas <= 1 and s.cache.replicas <= 1 and s.pgbouncer.replicas == 1
    assert s.app.replicas == s.app.max_replicas == 1 and not s.database.multi_az and not s.cache.multi_az
    assert not s.database.deletion_protection and s.database.skip_final_snapshot
    assert not s.cluster.deletion_protection and not s.backup.vault_lock and s.dr.region is None
    ranges = [ipaddress.IPv4Network(c) for c in ("10.10.0.0/16", "10.20.0.0/16", "10.64.0.0/16")]
    assert not any(ipaddress.IPv4Network(s.network.cidr).overlaps(r) for r in ranges)
    # A second review environment gets a range of its own, the same name the same range.
    other = envs.create("pr-39", "staging", "1d", config_dir=configs, now=now)
    assert not ipaddress.IPv4Network(other.cidr).overlaps(ipaddress.IPv4Network(env.cidr))
    assert envs.create("pr-7", "staging", "1d", config_dir=configs, force=True).cidr == env.cidr
    assert [e.name for e in envs.listing(configs)] == ["pr-39", "pr-7"]


@pytest.mark.parametrize("name", ["PR-7", "pr_7", "7pr", "pr--7", "pr-7-", "prod-7", "staging2", "a" * 21, ""])
def test_review_environment_names_are_stack_and_aws_safe(configs: Path, name: str) -> None:
    with pytest.raises(OpsError) as exc:
        envs.create(name, "staging", config_dir=configs)
    assert "is not allowed: use 1-20 characters of a-z, 0-9 and single hyphens" in exc.value.message
    assert not (configs / f"Pulumi.{name}.yaml").exists()


def test_creating_an_existing_review_environment_is_refused_unless_forced(configs: Path) -> None:
    now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    first = envs.create("pr-7", "staging", "3d", config_dir=configs, now=now)
    text = first.path.read_text()
    with pytest.raises(OpsError) as exc:
        envs.create("pr-7", "staging", "1d", config_dir=configs)
    assert "Pulumi.pr-7.yaml already exists (review environment pr-7 from staging, expiring 2026-01-04T12:00:00Z)" \
        in exc.value.message and "--force" in exc.value.message
    assert first.path.read_text() == text  # expiry not reset
    again = envs.create("pr-7", "staging", "1d", config_dir=configs, now=now, force=True)
    assert again.replaced is not None and again.replaced.expires == now + timedelta(days=3)
    assert again.expires == now + timedelta(days=1)
    # A stack that is not a review environment is never overwritten.
    (configs / "Pulumi.qa.yaml").write_text((configs / "Pulumi.staging.yaml").read_text())
    with pytest.raises(OpsError, match=r"already exists \(a stack that is not a review environment\)"):
        envs.create("qa", "staging", config_dir=configs)
    with pytest.raises(OpsError, match="is not a review environment"):
        envs.create("qa", "staging", config_dir=configs, force=True)


def test_a_review_environment_does_not_start_from_prod_nor_live_forever(configs: Path) -> None:
    with pytest.raises(OpsError, match="non-production"):
        envs.create("pr-1", "prod", config_dir=configs)
    with pytest.raises(OpsError, match="between 1h and 30d"):
        envs.create("pr-1", "staging", "90d", config_dir=configs)


@pytest.mark.slow
def test_review_environment_up_in_moto_then_destroyed_leaves_nothing(configs: Path) -> None:
    envs.create("pr-7", "staging", "3d", config_dir=configs, now=datetime.now(UTC) - timedelta(days=4))
    with EmbeddedCloud.serve() as cloud:
        graph = run_isolated("pr-7", endpoint_url=cloud.endpoint_url or "", config=read_stack_config("pr-7", configs))
        report = evaluate(graph)
        assert report.mandatory_failures == [], [(v.rule_id, v.message) for v in report.mandatory_failures]
        buckets = graph.by_type("aws:s3/bucket:Bucket")
        assert len(buckets) >= 2 and all(b.inputs.get("forceDestroy") for b in buckets)
        assert teardown.write_objects(cloud, graph) == 6 * len(buckets)
        before = teardown.leftovers(cloud, teardown.regions_of(graph))
        assert len(before) > 50
        # Expired and still there: the nightly check names it.
        assert "pr-7" in envs.expired(cloud.client, "us-east-1")

        result = teardown.destroy(graph, cloud)

        assert result.count("deleted") > 100 and result.count("retained") == 0
        assert teardown.leftovers(cloud, teardown.regions_of(graph)) == []
        assert envs.expired(cloud.client, "us-east-1") == {}


def test_delete_order_puts_dependents_first(staging: Deployed) -> None:
    order = [n.urn for n in teardown.delete_order(staging.graph)]
    pos = {u: i for i, u in enumerate(order)}
    for n in staging.graph.nodes:
        # Providers go last, as Pulumi deletes them: they are not ordered by dependencies.
        if n.urn not in pos or n.type.startswith("pulumi:providers:"):
            continue
        for dep in n.dependencies:
            if dep in pos:
                assert pos[n.urn] < pos[dep], f"{n.name} must go before {dep}"
    vpc = staging.graph.by_type("aws:ec2/vpc:Vpc")[0].urn
    subnets = [n.urn for n in staging.graph.by_type("aws:ec2/subnet:Subnet")]
    assert all(pos[s] < pos[vpc] for s in subnets)


def test_prod_refuses_naming_its_protected_resources(prod: Deployed) -> None:
    rds = prod.client("rds")
    before = len(rds.describe_db_instances()["DBInstances"])
    with pytest.raises(teardown.ProtectedResources) as exc:
        teardown.destroy(prod.graph, prod.cloud)
    assert "refusing to destroy stack 'prod'" in exc.value.message
    for name in ("berth-prod-primary", "berth-prod-assets", "berth-prod-redis", "berth-prod-vault"):
        assert f"'{name}'" in exc.value.message
    assert len(rds.describe_db_instances()["DBInstances"]) == before  # nothing was touched


@pytest.mark.slow
def test_cli_destroy_prod_offline_refuses() -> None:
    result = CliRunner().invoke(berth_app, ["destroy", "prod", "--offline"], terminal_width=200)
    assert result.exit_code == 1
    assert "refusing to destroy stack 'prod'" in result.output and "berth-prod-primary" in result.output


@pytest.mark.slow
def test_cli_rehearsals_change_nothing_on_disk(configs: Path) -> None:
    runner = CliRunner()
    made = runner.invoke(berth_app, ["env", "create", "pr-7", "--config-dir", str(configs)])
    assert made.exit_code == 0, made.output
    before = {p.name: p.read_text() for p in configs.iterdir()}
    again = runner.invoke(berth_app, ["env", "create", "pr-7", "--config-dir", str(configs)])
    assert again.exit_code == 1 and "already exists" in again.output
    forced = runner.invoke(berth_app, ["env", "create", "pr-7", "--force", "--config-dir", str(configs)])
    assert forced.exit_code == 0 and "replaced Pulumi.pr-7.yaml: it was from staging" in forced.output
    before = {p.name: p.read_text() for p in configs.iterdir()}
    rehearsal = runner.invoke(berth_app, ["env", "destroy", "pr-7", "--offline", "--config-dir", str(configs)],
                              terminal_width=200)
    assert rehearsal.exit_code == 0, rehearsal.output
    assert "nothing of it is left in the embedded cloud" in rehearsal.output
    assert {p.name: p.read_text() for p in configs.iterdir()} == before


def _graph(*nodes: Node) -> Graph:
    return Graph(stack="t", project="berth", nodes=list(nodes), region="us-east-1")


def _node(type_: str, name: str, id_: str, **inputs: object) -> Node:
    return Node(urn=f"urn:pulumi:t::berth::{type_}::{name}", type=type_, name=name, custom=True, id=id_,
                region="us-east-1", inputs=dict(inputs))


def test_moto_refuses_a_non_empty_bucket_without_force_destroy() -> None:
    with EmbeddedCloud.serve() as cloud:
        s3 = cloud.client("s3", "us-east-1")
        for name in ("kept", "emptied"):
            s3.create_bucket(Bucket=name)
            s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
            s3.put_object(Bucket=name, Key="k", Body=b"1")
            s3.put_object(Bucket=name, Key="k", Body=b"2")
        with pytest.raises(teardown.DestroyRefused) as exc:
            teardown.destroy(_graph(_node("aws:s3/bucket:Bucket", "kept", "kept", forceDestroy=False)), cloud)
        assert "BucketNotEmpty" in exc.value.message and "'kept'" in exc.value.message
        teardown.destroy(_graph(_node("aws:s3/bucket:Bucket", "emptied", "emptied", forceDestroy=True)), cloud)
        assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["kept"]


def test_moto_refuses_a_database_with_deletion_protection() -> None:
    with EmbeddedCloud.serve() as cloud:
        rds = cloud.client("rds", "us-east-1")
        rds.create_db_instance(DBInstanceIdentifier="db1", Engine="postgres", DBInstanceClass="db.t4g.micro",
                               MasterUsername="u", MasterUserPassword="password123", AllocatedStorage=20,
                               DeletionProtection=True)
        with pytest.raises(teardown.DestroyRefused) as exc:
            teardown.destroy(_graph(_node("aws:rds/instance:Instance", "db1", "db1", skipFinalSnapshot=True)), cloud)
        assert "db1" in exc.value.message
        assert rds.describe_db_instances()["DBInstances"][0]["DBInstanceIdentifier"] == "db1"


def test_review_environment_file_is_plain_config(configs: Path) -> None:
    env = envs.create("pr-8", "staging", "12h", config_dir=configs)
    doc = yaml.safe_load(env.path.read_text())
    assert set(doc) == {"config"} and doc["config"]["berth:tags"]["ReviewOf"] == "staging"
    assert env.path.read_text().startswith("# Review environment pr-8")


def test_a_review_environment_deploys_through_the_review_ci_role(configs: Path) -> None:
    staging = read_stack_config("staging", configs)["berth:cluster"]
    env = envs.create("pr-8", "staging", "1d", config_dir=configs)
    cluster = read_stack_config(env.name, configs)["berth:cluster"]
    # Its cluster's CI (cluster-admin) entry is the review role's, never staging's deploy role.
    assert cluster["ciRoleArn"] == staging["reviewCiRoleArn"] != staging["ciRoleArn"]
    assert "reviewCiRoleArn" not in cluster
    assert cluster["adminRoleArns"] == staging["adminRoleArns"]


def test_a_review_environment_is_refused_when_its_source_names_no_review_role(configs: Path) -> None:
    text = (configs / "Pulumi.staging.yaml").read_text()
    lines = [line for line in text.splitlines() if "reviewCiRoleArn:" not in line]
    (configs / "Pulumi.staging.yaml").write_text("\n".join(lines) + "\n")
    with pytest.raises(OpsError, match=r"names no berth:cluster\.reviewCiRoleArn"):
        envs.create("pr-9", "staging", "1d", config_dir=configs)
    assert not (configs / "Pulumi.pr-9.yaml").exists()
