"""Tests room: disaster recovery -- plan, rebuild and drill, end to end in the embedded cloud.

Prod is deployed once for this module into its own moto server (it creates its own
cross-region replica in us-west-2), two snapshot copies are seeded there a second apart,
and the rebuild runs against that same server. Config files are copies in a temp dir.
"""

from __future__ import annotations

import datetime as dt
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
import typer
import yaml
from botocore.stub import Stubber
from typer.testing import CliRunner

from berth.commands import app as berth_app
from berth.operations import dr
from berth.operations.errors import OpsError
from berth.operations.stackfile import StackFile
from embedded_cloud import EmbeddedCloud, Graph, read_stack_config, run_isolated
from embedded_cloud.runner import REPO
from stacks.config import RestoreSource

DR_REGION = "us-west-2"


@dataclass
class World:
    cloud: EmbeddedCloud
    graph: Graph
    configs: Path
    snapshots: list[str]  # oldest first

    def client(self, service: str, region: str) -> Any:
        return self.cloud.client(service, region)


def _copy_configs(dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for stack in ("staging", "prod"):
        shutil.copy(REPO / f"Pulumi.{stack}.yaml", dest / f"Pulumi.{stack}.yaml")
    return dest


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    configs = _copy_configs(tmp_path_factory.mktemp("dr-configs"))
    with EmbeddedCloud.serve(warm_regions=("us-east-1", DR_REGION)) as cloud:
        graph = run_isolated("prod", endpoint_url=cloud.endpoint_url or "", config=read_stack_config("prod", configs))
        primary = graph.outputs["databasePrimaryIdentifier"]
        older = dr.seed_snapshot(cloud.client, primary, "us-east-1", DR_REGION, name=f"{primary}-older")
        time.sleep(1.2)  # snapshot times have a second's resolution in some clients
        newer = dr.seed_snapshot(cloud.client, primary, "us-east-1", DR_REGION, name=f"{primary}-newer")
        yield World(cloud, graph, configs, [older, newer])


def _cli() -> typer.Typer:
    return berth_app


def test_plan_lists_the_material_best_first(world: World) -> None:
    p = dr.plan("prod", world.client, config_dir=world.configs)
    assert p.region == DR_REGION and p.source_region == "us-east-1"
    kinds = [(o.kind, o.identifier) for o in p.options]
    older, newer = world.snapshots
    # The most recent snapshot copy first, then the older one; prod's own cross-region replica
    # is listed too, after them: without a ReplicaLag datapoint its RPO cannot be promised.
    assert kinds == [("snapshot", newer), ("snapshot", older), ("replica", "berth-prod-dr-replica")]
    assert p.options[0].rpo_seconds is not None and p.options[1].rpo_seconds is not None
    assert p.options[0].rpo_seconds < p.options[1].rpo_seconds
    assert p.options[0].restore == {"kind": "snapshot", "snapshotIdentifier": newer}
    assert "lag unknown" in p.options[2].detail
    for o in p.options:
        RestoreSource.model_validate(o.restore)
    # Snapshots prod keeps in its own region are not DR material.
    assert all(o.region == DR_REGION for o in p.options)


def test_cli_plan_prints_the_table(world: World) -> None:
    result = CliRunner().invoke(_cli(), ["dr", "plan", "prod", "--endpoint", world.cloud.endpoint_url,
                                         "--config-dir", str(world.configs), "--json"])
    assert result.exit_code == 0, result.output
    assert world.snapshots[1] in result.output and "berth-prod-dr-replica" in result.output


@pytest.mark.slow
def test_a_measured_replica_ranks_first(empty_cloud: EmbeddedCloud, tmp_path: Path) -> None:
    # Built by hand in a cloud of its own: prod's primary, a snapshot copy and a replica
    # in us-west-2 whose ReplicaLag CloudWatch reports as 0.5s.
    configs = _copy_configs(tmp_path / "configs")
    east = empty_cloud.client("rds", "us-east-1")
    arn = east.create_db_instance(
        DBInstanceIdentifier="berth-prod-primary", Engine="postgres", DBInstanceClass="db.t4g.medium",
        AllocatedStorage=20, MasterUsername="shipments", MasterUserPassword="p" * 16)["DBInstance"]["DBInstanceArn"]
    snap = dr.seed_snapshot(empty_cloud.client, "berth-prod-primary", "us-east-1", DR_REGION)
    empty_cloud.client("rds", DR_REGION).create_db_instance_read_replica(
        DBInstanceIdentifier="berth-prod-dr-replica", SourceDBInstanceIdentifier=arn, SourceRegion="us-east-1",
        DBInstanceClass="db.t4g.medium")
    empty_cloud.client("cloudwatch", DR_REGION).put_metric_data(Namespace="AWS/RDS", MetricData=[{
        "MetricName": "ReplicaLag", "Value": 0.5, "Unit": "Seconds", "Timestamp": dt.datetime.now(dt.UTC),
        "Dimensions": [{"Name": "DBInstanceIdentifier", "Value": "berth-prod-dr-replica"}]}])
    time.sleep(1.1)
    p = dr.plan("prod", empty_cloud.client, config_dir=configs)
    assert [(o.kind, o.identifier) for o in p.options] == [("replica", "berth-prod-dr-replica"), ("snapshot", snap)]
    assert p.options[0].rpo_seconds == 0.5 and "replica lag 0s" in p.options[0].detail
    assert p.options[0].restore == {"kind": "replica", "replicaIdentifier": "berth-prod-dr-replica"}
    assert p.best("snapshot").identifier == snap


@pytest.mark.slow
def test_rebuild_offline_restores_the_latest_snapshot_in_the_dr_region(world: World) -> None:
    messages: list[str] = []
    # Production policy wants backups copied to another region: the rebuilt stack copies
    # (and replicates) to us-east-2 from now on.
    r = dr.rebuild("prod", world.client, config_dir=world.configs, offline=True, new_dr_region="us-east-2",
                   endpoint_url=world.cloud.endpoint_url, echo=messages.append)
    newer = world.snapshots[1]
    assert r.option.identifier == newer

    # Pulumi.prod-dr.yaml: prod's config moved to the DR region, nothing else of prod's lost.
    written = yaml.safe_load((world.configs / "Pulumi.prod-dr.yaml").read_text())["config"]
    prod = read_stack_config("prod", world.configs)
    assert written["aws:region"] == DR_REGION
    assert written["berth:environment"] == "prod"
    assert written["berth:network"]["cidr"] == "10.64.0.0/16" != prod["berth:network"]["cidr"]
    assert written["berth:database"]["restore"] == {"kind": "snapshot", "snapshotIdentifier": newer}
    assert written["berth:database"]["crossRegionReplica"] is True
    assert written["berth:backup"]["copyToDr"] is True
    assert written["berth:dr"]["region"] == "us-east-2"
    for key in ("berth:app", "berth:cache", "berth:alarms", "berth:pgbouncer", "berth:tags"):
        assert written[key] == prod[key], key
    # The public name stays with prod's distribution until the cut-over: the rebuilt edge has a
    # standby name in the same zone, everything else of the CDN as prod has it.
    assert written["berth:cdn"] == {**prod["berth:cdn"], "domain": "prod-dr.shipments.example.com"}
    assert {k: v for k, v in written["berth:database"].items() if k != "restore"} == prod["berth:database"]
    # Nothing in prod's config is bound to the lost region: the origin's certificate is made by
    # the stack in whatever region it runs (no ARN to carry over).
    assert not any("need us-west-2 counterparts" in m for m in messages)
    assert written["berth:dns"] == prod["berth:dns"]

    # moto shows the restore: the new primary in us-west-2 carries the snapshot's database
    # (name, master user) although the program passed neither for a restore.
    assert r.graph is not None
    primary = dr.primary_node(r.graph)
    assert primary is not None and primary.region == DR_REGION
    assert primary.inputs["snapshotIdentifier"] == newer
    assert "dbName" not in primary.inputs and "username" not in primary.inputs
    live = world.client("rds", DR_REGION).describe_db_instances(
        DBInstanceIdentifier=primary.outputs["identifier"])["DBInstances"][0]
    source = world.client("rds", "us-east-1").describe_db_instances(
        DBInstanceIdentifier=world.graph.outputs["databasePrimaryIdentifier"])["DBInstances"][0]
    assert live["DBName"] == source["DBName"] == "shipments"
    assert live["MasterUsername"] == source["MasterUsername"]
    assert "ReadReplicaSourceDBInstanceIdentifier" not in live

    # Every tier exists again in us-west-2 (CloudFront's app origin is the new NLB).
    checks = {c.tier: c for c in dr.verify(r.graph, world.client, DR_REGION, r.option, promoted=r.promoted)}
    assert set(checks) == {"network", "cluster", "database", "cache", "app", "cdn", "alarms", "backups"}
    assert {t: c.detail for t, c in checks.items() if not c.ok} == {}
    assert r.graph.outputs["appLoadBalancerHostname"] != world.graph.outputs["appLoadBalancerHostname"]
    assert r.graph.outputs["appOriginHostname"] == "prod-dr-origin.shipments.example.com"
    assert f"app origin {r.graph.outputs['appOriginHostname']}: yes" in checks["cdn"].detail
    assert world.client("elasticache", DR_REGION).describe_replication_groups()["ReplicationGroups"]
    assert world.client("ec2", DR_REGION).describe_vpcs(
        Filters=[{"Name": "cidr", "Values": ["10.64.0.0/16"]}])["Vpcs"]

    # The DR stack passes the policy pack.
    from policy.evaluator import evaluate

    report = evaluate(r.graph)
    assert [f"{v.rule_id}: {v.message}" for v in report.mandatory_failures] == []


@pytest.fixture
def empty_cloud() -> Iterator[EmbeddedCloud]:
    with EmbeddedCloud.serve() as cloud:
        yield cloud


def test_without_material_plan_says_so_and_rebuild_refuses(empty_cloud: EmbeddedCloud, tmp_path: Path) -> None:
    configs = _copy_configs(tmp_path / "configs")
    p = dr.plan("prod", empty_cloud.client, config_dir=configs)
    assert p.options == []

    cli = _cli()
    result = CliRunner().invoke(cli, ["dr", "plan", "prod", "--endpoint", empty_cloud.endpoint_url,
                                      "--config-dir", str(configs)])
    assert result.exit_code == 1
    assert "no recovery material for prod in us-west-2" in " ".join(result.output.split())

    result = CliRunner().invoke(cli, ["dr", "rebuild", "prod", "--offline", "--endpoint", empty_cloud.endpoint_url,
                                      "--config-dir", str(configs)])
    assert result.exit_code == 1
    assert "cannot rebuild prod: no recovery material for it in us-west-2; nothing was written" in " ".join(
        result.output.split())
    assert not (configs / "Pulumi.prod-dr.yaml").exists()

    with pytest.raises(OpsError, match="no replica recovery material"):
        dr.rebuild("prod", empty_cloud.client, config_dir=configs, kind="replica", offline=True,
                   endpoint_url=empty_cloud.endpoint_url)


def test_real_rebuild_without_pulumi_refuses_before_touching_anything(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    configs = _copy_configs(tmp_path / "configs")
    monkeypatch.setenv("PATH", str(tmp_path))
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    touched: list[str] = []

    def clients(service: str, region: str) -> Any:
        touched.append(service)
        raise AssertionError("the cloud was queried before the preflight passed")

    with pytest.raises(OpsError) as exc:
        dr.rebuild("prod", clients, config_dir=configs)
    assert "get.pulumi.com" in exc.value.message and "nothing was changed" in exc.value.message
    assert touched == [] and not (configs / "Pulumi.prod-dr.yaml").exists()


def test_real_rebuild_checks_credentials_in_the_dr_region_only(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """The source region may be the one that is down: the rebuild's preflight asks the DR region's
    own STS endpoint, even where the environment asks for the global one."""
    from berth.operations import deploy
    from berth.operations import preflight as placeholders
    from tests.operations.test_deploy import fake_pulumi

    configs = _copy_configs(tmp_path / "configs")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake_pulumi(bin_dir)
    monkeypatch.setenv("PATH", str(bin_dir))
    for var in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_STS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    monkeypatch.setenv("AWS_STS_REGIONAL_ENDPOINTS", "legacy")  # would send us-east-1 to sts.amazonaws.com
    monkeypatch.setattr(placeholders, "registry_findings", lambda *a, **k: [])  # no registry on the network here
    asked: list[str] = []
    real = deploy.sts_client

    def recording(session: Any) -> Any:
        client = real(session)
        asked.append(client.meta.endpoint_url)
        stub = Stubber(client)
        stub.add_response("get_caller_identity", {"Account": "123456789012", "UserId": "AIDA",
                                                  "Arn": "arn:aws:iam::123456789012:user/dr"})
        stub.activate()
        return client

    monkeypatch.setattr(deploy, "sts_client", recording)

    def clients(service: str, region: str) -> Any:
        raise AssertionError("the cloud was queried before the preflight passed")

    with pytest.raises(OpsError, match="nothing was changed"):  # prod's committed stand-ins refuse
        dr.rebuild("prod", clients, config_dir=configs)
    assert asked == [f"https://sts.{DR_REGION}.amazonaws.com"]
    # Without the rebuild's region, the same preflight of prod would have asked us-east-1's.
    asked.clear()
    deploy.preflight(StackFile.read("prod", configs))
    assert asked == ["https://sts.us-east-1.amazonaws.com"]


def _stubbed(service: str, region: str) -> Any:
    return boto3.session.Session().client(service, region_name=region, aws_access_key_id="x",
                                          aws_secret_access_key="x")


def test_plan_reads_replicated_backups_and_backup_recovery_points(tmp_path: Path) -> None:
    """The material moto cannot hold (replicated automated backups, recovery points), stubbed
    with botocore's Stubber, which validates both requests and responses against the API."""
    configs = _copy_configs(tmp_path / "configs")
    now = dt.datetime(2026, 11, 22, 12, 0, tzinfo=dt.UTC)
    rds, backup, ec2 = _stubbed("rds", DR_REGION), _stubbed("backup", DR_REGION), _stubbed("ec2", DR_REGION)
    src_arn = "arn:aws:rds:us-east-1:123456789012:db:berth-prod-primary"
    ab_arn = "arn:aws:rds:us-west-2:123456789012:auto-backup:ab-abcdefghijklmnop"
    with Stubber(rds) as rs, Stubber(backup) as bs, Stubber(ec2) as es:
        es.add_response("describe_vpcs", {"Vpcs": []})  # no recovery VPC: a rebuild takes a fresh range
        rs.add_response("describe_db_instances", {"DBInstances": []})
        rs.add_response("describe_db_instance_automated_backups", {"DBInstanceAutomatedBackups": [
            {"DBInstanceArn": src_arn, "DbiResourceId": "db-ABC", "Region": "us-east-1",
             "DBInstanceIdentifier": "berth-prod-primary", "Status": "replicating",
             "DBInstanceAutomatedBackupsArn": ab_arn,
             "RestoreWindow": {"EarliestTime": now - dt.timedelta(days=14), "LatestTime": now - dt.timedelta(minutes=5)}},
            {"DBInstanceArn": "arn:aws:rds:us-east-1:123456789012:db:someone-else", "DbiResourceId": "db-X",
             "Region": "us-east-1", "DBInstanceIdentifier": "someone-else", "Status": "replicating",
             "RestoreWindow": {"LatestTime": now}},
        ]})
        rs.add_response("describe_db_snapshots", {"DBSnapshots": []})
        bs.add_response("list_backup_vaults", {"BackupVaultList": [
            {"BackupVaultName": "berth-prod-dr", "BackupVaultArn": "arn:aws:backup:us-west-2:123456789012:backup-vault:berth-prod-dr"}]})
        rp = "arn:aws:rds:us-west-2:123456789012:snapshot:awsbackup:copyjob-1234"
        bs.add_response("list_recovery_points_by_backup_vault", {"RecoveryPoints": [
            {"RecoveryPointArn": rp, "ResourceArn": src_arn, "ResourceType": "RDS", "Status": "COMPLETED",
             "CreationDate": now - dt.timedelta(hours=1)},
            {"RecoveryPointArn": "arn:aws:backup:us-west-2:123456789012:recovery-point:s3-1",
             "ResourceArn": "arn:aws:s3:::berth-prod-assets", "ResourceType": "S3", "Status": "COMPLETED",
             "CreationDate": now - dt.timedelta(minutes=1)},
            {"RecoveryPointArn": "arn:aws:rds:us-west-2:123456789012:snapshot:awsbackup:copyjob-partial",
             "ResourceArn": src_arn, "ResourceType": "RDS", "Status": "PARTIAL",
             "CreationDate": now - dt.timedelta(minutes=2)},
        ]}, {"BackupVaultName": "berth-prod-dr"})
        clients = {"rds": rds, "backup": backup, "ec2": ec2}
        p = dr.plan("prod", lambda s, r: clients[s], config_dir=configs, now=now)
    assert [(o.kind, o.source, o.rpo_seconds) for o in p.options] == [
        ("pitr", "replicated automated backups", 300.0),
        ("snapshot", "AWS Backup recovery point", 3600.0),
    ]
    assert p.options[0].restore == {"kind": "pitr", "useLatestRestorableTime": True, "sourceDbInstanceArn": ab_arn}
    assert p.options[1].restore == {"kind": "snapshot", "snapshotIdentifier": rp}
    for o in p.options:
        RestoreSource.model_validate(o.restore)


def test_dr_config_with_a_new_dr_region_and_overrides(tmp_path: Path) -> None:
    configs = _copy_configs(tmp_path / "configs")
    option = dr.RecoveryOption("snapshot", "DB snapshot", "snap-1", DR_REGION, None, None, "",
                               {"kind": "snapshot", "snapshotIdentifier": "snap-1"})
    origin = "dr-origin.shipments.example.com"
    text = dr.dr_config_text("prod", option, config_dir=configs, new_dr_region="us-east-2",
                             overrides={"berth:app.originDomain": origin})
    cfg = yaml.safe_load(text)["config"]
    assert cfg["berth:dr"]["region"] == "us-east-2"
    assert cfg["berth:dr"]["rebuildCidr"] == "10.20.0.0/16"  # the lost region's range is free again
    assert cfg["berth:database"]["crossRegionReplica"] is True
    assert cfg["berth:backup"]["copyToDr"] is True
    assert cfg["berth:app"]["originDomain"] == origin
    # The rebuilt cluster's admin entry is the DR deploy role's (the role that runs the rebuild).
    prod_cfg = read_stack_config("prod", configs)
    assert cfg["berth:cluster"]["ciRoleArn"] == prod_cfg["berth:dr"]["ciRoleArn"] != prod_cfg["berth:cluster"]["ciRoleArn"]
    assert cfg["berth:cluster"]["adminRoleArns"] == prod_cfg["berth:cluster"]["adminRoleArns"]
    assert dr.region_bound_refs(cfg, "us-east-1") == []
    assert dr.region_bound_refs(read_stack_config("prod", configs), "us-east-1") == []
    # A regional ARN of the lost region is named; CloudFront's us-east-1 certificates are not.
    synthetic = {"berth:alarms": {"topicArn": "arn:aws:sns:us-east-1:210987654321:pager"},
                 "berth:cdn": {"certificateArn": "arn:aws:acm:us-east-1:210987654321:certificate/edge"}}
    assert dr.region_bound_refs(synthetic, "us-east-1") == [
        ("berth:alarms.topicArn", "arn:aws:sns:us-east-1:210987654321:pager")]
    # Comments of prod's file survive (the changed keys carry new ones).
    assert "# office / VPN egress" in text and text.startswith("# Disaster-recovery rebuild of prod in us-west-2")


@pytest.mark.slow
def test_drill_from_the_replica_end_to_end(tmp_path: Path) -> None:
    configs = _copy_configs(tmp_path / "configs")
    result = CliRunner().invoke(_cli(), ["dr", "drill", "prod", "--from", "replica", "--config-dir", str(configs),
                                         "--out", str(tmp_path / "drill")])
    out = " ".join(result.output.split())
    # The replica prod keeps in us-west-2 was promoted and adopted as the DR stack's primary.
    written = yaml.safe_load((tmp_path / "drill" / "Pulumi.prod-dr.yaml").read_text())["config"]
    # ...and, imported by that first up, marked adopted so the next up converges it to prod's settings.
    assert written["berth:database"]["restore"] == {"kind": "replica", "replicaIdentifier": "berth-prod-dr-replica",
                                                    "adopted": True}
    assert "restored from the cross-region read replica berth-prod-dr-replica" in out
    # The DR platform is built in the recovery VPC the replica already lives in: found by its
    # tags and written as berth:network.existing; the drill's verification (below: "drill
    # passed") asks the cloud that the promoted database's subnet group and the new cluster's
    # subnets are in that one VPC.
    existing = written["berth:network"]["existing"]
    assert existing["cidr"] == written["berth:network"]["cidr"] == "10.64.0.0/16"
    assert existing["vpcId"].startswith("vpc-") and len(existing["privateSubnetIds"]) == 3
    assert "recovery VPC" in out
    for step in ("deploy prod", "seed a snapshot copy", "plan", "promote replica berth-prod-dr-replica",
                 "bring prod-dr up in us-west-2", "verify every tier", "policy pack"):
        assert step in out, step
    assert "RPO achieved" in out
    assert result.exit_code == 0, result.output
    assert "drill passed" in out
    assert not (configs / "Pulumi.prod-dr.yaml").exists()  # a drill never writes next to the real configs


def test_verify_refuses_a_database_and_a_cluster_in_different_vpcs(world: World) -> None:
    """What the recovery VPC exists for: a promoted database the rebuilt cluster cannot reach fails."""
    import copy

    graph = copy.deepcopy(world.graph)
    ec2 = world.client("ec2", "us-east-1")
    other = ec2.create_vpc(CidrBlock="10.99.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=other, CidrBlock="10.99.0.0/24")["Subnet"]["SubnetId"]
    (eks,) = graph.by_type("aws:eks/cluster:Cluster")
    eks.inputs["vpcConfig"] = {**eks.inputs["vpcConfig"], "subnetIds": [subnet]}
    (db,) = [c for c in dr.verify(graph, world.client, "us-east-1") if c.tier == "database"]
    assert not db.ok and "they cannot talk" in db.detail


def test_an_offline_rebuild_writes_its_dr_file_beside_copies_not_the_real_configs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    configs = _copy_configs(tmp_path / "configs")
    seen: dict[str, Path] = {}

    def rebuild(stack: str, clients: Any, *, config_dir: Path, **kw: Any) -> Any:
        seen["config_dir"] = config_dir
        (config_dir / "Pulumi.prod-dr.yaml").write_text("config: {}\n")  # what the real one writes
        raise OpsError("stopped here")

    monkeypatch.setattr(dr, "rebuild", rebuild)
    result = CliRunner().invoke(_cli(), ["dr", "rebuild", "prod", "--offline", "--endpoint", "http://127.0.0.1:9",
                                         "--config-dir", str(configs)])
    assert result.exit_code == 1 and "stopped here" in result.output
    assert seen["config_dir"] != configs and (seen["config_dir"] / "Pulumi.prod.yaml").exists()
    assert not (configs / "Pulumi.prod-dr.yaml").exists()


def test_real_clients_use_regional_sts_even_when_the_profile_says_legacy(monkeypatch: pytest.MonkeyPatch) -> None:
    """The DR commands' real clients never reach STS's global endpoint (served from us-east-1), whatever
    AWS_STS_REGIONAL_ENDPOINTS says: legacy would send us-west-2 to sts.amazonaws.com."""
    from berth.operations.aws import clients

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    monkeypatch.setenv("AWS_STS_REGIONAL_ENDPOINTS", "legacy")
    for var in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_STS"):
        monkeypatch.delenv(var, raising=False)
    assert clients(None)("sts", "us-west-2").meta.endpoint_url == "https://sts.us-west-2.amazonaws.com"
