"""Tests room (components): the RDS database tier, asserted on moto's state and on the graph."""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.database import DatabaseArgs, restore_to_point_in_time
from embedded_cloud import EmbeddedCloud, ProgramError, read_stack_config, run_isolated
from stacks.config import ConfigError, DatabaseSettings, RestoreSource, parse_settings, raw_from_config_map
from tests.conftest import Deployed

INSTANCE = "aws:rds/instance:Instance"


def instances(d: Deployed, region: str = "us-east-1", prefix: str | None = None) -> dict[str, dict[str, Any]]:
    """This stack's instances (the moto servers of one test process share their state)."""
    prefix = f"berth-{d.stack}-" if prefix is None else prefix
    found = d.client("rds", region).describe_db_instances()["DBInstances"]
    return {db["DBInstanceIdentifier"]: db for db in found if db["DBInstanceIdentifier"].startswith(prefix)}


def variant(deploy: Any, name: str, base: str, overrides: dict[str, Any], **kw: Any) -> Deployed:
    """A one-off stack `name` with `base`'s config: its own physical names, so it cannot collide
    with the session's stacks in moto (every moto server of a process shares one state)."""
    return deploy(name, overrides, config=read_stack_config(base), **kw)


def db_component(d: Deployed) -> Any:
    (node,) = d.graph.by_type("berth:database:Database")
    return node


def db_resources(d: Deployed, type_: str) -> list[Any]:
    return [n for n in d.graph.descendants(db_component(d).urn) if n.type == type_]


# ---- topology, as moto sees it -------------------------------------------------------------
def test_prod_runs_a_primary_two_replicas_and_a_cross_region_replica(prod: Deployed) -> None:
    dbs = instances(prod)
    primary = dbs.pop("berth-prod-primary")
    assert primary.get("ReadReplicaSourceDBInstanceIdentifier") is None
    assert sorted(dbs) == ["berth-prod-replica-1", "berth-prod-replica-2"]
    assert all(r["ReadReplicaSourceDBInstanceIdentifier"] == "berth-prod-primary" for r in dbs.values())
    # Replicas spread: none shares an AZ with another.
    assert len({r["AvailabilityZone"] for r in dbs.values()}) == 2

    dr = instances(prod, "us-west-2")
    assert list(dr) == ["berth-prod-dr-replica"]
    assert dr["berth-prod-dr-replica"]["ReadReplicaSourceDBInstanceIdentifier"] == primary["DBInstanceArn"]
    assert dr["berth-prod-dr-replica"]["DBInstanceArn"].startswith("arn:aws:rds:us-west-2:")


def test_staging_runs_one_primary_and_one_replica_and_nothing_in_another_region(staging: Deployed) -> None:
    dbs = instances(staging)
    assert sorted(dbs) == ["berth-staging-primary", "berth-staging-replica-1"]
    assert dbs["berth-staging-replica-1"]["ReadReplicaSourceDBInstanceIdentifier"] == "berth-staging-primary"
    assert instances(staging, "us-west-2") == {}
    assert staging.graph.outputs["databaseCrossRegionReplicaIdentifier"] is None


@pytest.mark.parametrize(
    ("stack", "multi_az", "retention", "protected"),
    [("staging", False, 7, False), ("prod", True, 35, True)],
)
def test_primary_durability_follows_the_environment(
    request: pytest.FixtureRequest, stack: str, multi_az: bool, retention: int, protected: bool
) -> None:
    d: Deployed = request.getfixturevalue(stack)
    primary = instances(d)[f"berth-{stack}-primary"]
    key_arn = db_component(d).outputs["kmsKeyArn"]
    assert primary["StorageEncrypted"] is True
    assert primary["KmsKeyId"] == key_arn
    assert primary["MultiAZ"] is multi_az
    assert primary["BackupRetentionPeriod"] == retention
    assert primary["DeletionProtection"] is protected
    assert primary["PubliclyAccessible"] is False
    assert primary["StorageType"] == "gp3"
    assert primary["MaxAllocatedStorage"] > primary["AllocatedStorage"]
    assert primary["IAMDatabaseAuthenticationEnabled"] is True
    assert primary["CopyTagsToSnapshot"] is True
    assert sorted(primary["EnabledCloudwatchLogsExports"]) == ["postgresql", "upgrade"]
    assert primary["MonitoringInterval"] > 0 and primary["MonitoringRoleArn"].startswith("arn:aws:iam::")
    assert primary["DBName"] == "shipments"
    # The major only, minors upgraded by RDS: a forced minor upgrade never reads as a downgrade.
    assert primary["AutoMinorVersionUpgrade"] is True

    node = d.graph.named(f"berth-{stack}-primary", INSTANCE)
    assert node.inputs["engineVersion"] == "16", "no pinned minor: RDS retires them"
    assert node.inputs["autoMinorVersionUpgrade"] is True
    assert node.protect is protected, "prod's primary is protect=True; staging's can be destroyed"
    assert node.inputs["performanceInsightsEnabled"] is True
    assert node.inputs["performanceInsightsKmsKeyId"] == key_arn
    assert node.inputs["skipFinalSnapshot"] is (not protected)
    assert ("finalSnapshotIdentifier" in node.inputs) is protected


def test_prod_key_rotates_and_is_protected(prod: Deployed) -> None:
    key_arn = db_component(prod).outputs["kmsKeyArn"]
    key_id = key_arn.rsplit("/", 1)[-1]
    assert prod.client("kms").get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] is True
    (key,) = [n for n in db_resources(prod, "aws:kms/key:Key") if n.region == "us-east-1"]
    assert key.protect is True


def test_replicas_survive_destroy_and_keep_no_backups_of_their_own(prod: Deployed) -> None:
    replicas = [n for n in db_resources(prod, INSTANCE) if n.inputs.get("replicateSourceDb")]
    assert len(replicas) == 3
    for n in replicas:
        # A replica cannot take a final snapshot: without this, `pulumi destroy` fails on it.
        assert n.inputs["skipFinalSnapshot"] is True
        assert "finalSnapshotIdentifier" not in n.inputs
        assert n.inputs["monitoringInterval"] > 0
    same_region = [n for n in replicas if n.region == "us-east-1"]
    assert all(n.inputs["backupRetentionPeriod"] == 0 for n in same_region)
    assert all(n.inputs["replicateSourceDb"] == "berth-prod-primary" for n in same_region)
    params = {n.inputs["parameterGroupName"] for n in same_region}
    assert params == {db_component(prod).outputs["parameterGroupName"]}


def test_cross_region_replica_uses_the_source_arn_and_a_key_of_its_own_region(prod: Deployed) -> None:
    dr = prod.graph.named("berth-prod-dr-replica", INSTANCE)
    assert dr.region == "us-west-2"
    assert dr.inputs["replicateSourceDb"].startswith("arn:aws:rds:us-east-1:")
    assert dr.inputs["kmsKeyId"].startswith("arn:aws:kms:us-west-2:")
    assert dr.inputs["performanceInsightsKmsKeyId"] == dr.inputs["kmsKeyId"]
    moto_dr = instances(prod, "us-west-2")["berth-prod-dr-replica"]
    assert moto_dr["StorageEncrypted"] is True
    groups = prod.client("rds", "us-west-2").describe_db_parameter_groups()["DBParameterGroups"]
    assert dr.inputs["parameterGroupName"] in {g["DBParameterGroupName"] for g in groups}


def test_cross_region_replica_keeps_no_backups_and_lives_in_a_recovery_vpc_of_ours(prod: Deployed) -> None:
    dr = prod.graph.named("berth-prod-dr-replica", INSTANCE)
    # RDS for PostgreSQL keeps no automated backups on a read replica; promotion sets them.
    assert dr.inputs["backupRetentionPeriod"] == 0
    assert dr.inputs["autoMinorVersionUpgrade"] is True
    moto_dr = instances(prod, "us-west-2")["berth-prod-dr-replica"]
    ec2 = prod.client("ec2", "us-west-2")
    recovery_vpc = prod.graph.outputs["recoveryVpcId"]
    vpc = ec2.describe_vpcs(VpcIds=[recovery_vpc])["Vpcs"][0]
    assert vpc["IsDefault"] is False and vpc["CidrBlock"] == "10.64.0.0/16"
    # Its own subnet group, in private subnets of that VPC, and its own security group there.
    assert moto_dr["DBSubnetGroup"]["DBSubnetGroupName"] == "berth-prod-recovery-db"
    assert moto_dr["DBSubnetGroup"]["VpcId"] == recovery_vpc
    subnets = ec2.describe_subnets(SubnetIds=[s["SubnetIdentifier"] for s in moto_dr["DBSubnetGroup"]["Subnets"]])
    assert {t["Value"] for s in subnets["Subnets"] for t in s["Tags"] if t["Key"] == "Tier"} == {"private"}
    (sg_id,) = [g["VpcSecurityGroupId"] for g in moto_dr["VpcSecurityGroups"]]
    sg = ec2.describe_security_groups(GroupIds=[sg_id])["SecurityGroups"][0]
    assert sg["VpcId"] == recovery_vpc
    rules = ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [sg_id]}])["SecurityGroupRules"]
    ingress = [r for r in rules if not r["IsEgress"]]
    assert [(r["FromPort"], r["ToPort"], r.get("CidrIpv4")) for r in ingress] == [(5432, 5432, "10.64.0.0/16")]


# ---- parameters and network ---------------------------------------------------------------------
@pytest.mark.parametrize(("stack", "max_conn", "slow_ms"), [("staging", "200", "250"), ("prod", "800", "500")])
def test_parameter_group_forces_tls_and_carries_the_configured_limits(
    request: pytest.FixtureRequest, stack: str, max_conn: str, slow_ms: str
) -> None:
    d: Deployed = request.getfixturevalue(stack)
    name = db_component(d).outputs["parameterGroupName"]
    params = {
        p["ParameterName"]: p
        for p in d.client("rds").describe_db_parameters(DBParameterGroupName=name)["Parameters"]
    }
    assert params["rds.force_ssl"]["ParameterValue"] == "1"
    assert params["max_connections"]["ParameterValue"] == max_conn
    assert params["log_min_duration_statement"]["ParameterValue"] == slow_ms
    assert params["idle_in_transaction_session_timeout"]["ParameterValue"] == "60000"
    assert params["shared_preload_libraries"]["ParameterValue"] == "pg_stat_statements"
    # A static parameter: applying it "immediate" would fail the update.
    assert params["shared_preload_libraries"]["ApplyMethod"] == "pending-reboot"
    primary = instances(d)[f"berth-{stack}-primary"]
    assert primary["DBParameterGroups"][0]["DBParameterGroupName"] == name


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_security_group_admits_5432_from_the_cluster_nodes_only(request: pytest.FixtureRequest, stack: str) -> None:
    d: Deployed = request.getfixturevalue(stack)
    sg_id = db_component(d).outputs["securityGroupId"]
    (cluster,) = d.graph.by_type("berth:cluster:Cluster")
    node_sg = cluster.outputs["nodeSecurityGroupId"]
    sg = d.client("ec2").describe_security_groups(GroupIds=[sg_id])["SecurityGroups"][0]
    assert sg["IpPermissions"], "the database must be reachable from the cluster"
    for perm in sg["IpPermissions"]:
        assert (perm["IpProtocol"], perm["FromPort"], perm["ToPort"]) == ("tcp", 5432, 5432)
        assert perm.get("IpRanges", []) == [] and perm.get("Ipv6Ranges", []) == []
        assert [p["GroupId"] for p in perm["UserIdGroupPairs"]] == [node_sg]
    assert sg["IpPermissionsEgress"] == []
    primary = instances(d)[f"berth-{stack}-primary"]
    assert [g["VpcSecurityGroupId"] for g in primary["VpcSecurityGroups"]] == [sg_id]
    assert primary["DBSubnetGroup"]["VpcId"] == d.graph.outputs["vpcId"]
    assert {s["SubnetIdentifier"] for s in primary["DBSubnetGroup"]["Subnets"]} == set(
        d.graph.outputs["privateSubnetIds"]
    )


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_the_master_password_is_rdss_own_secret_and_pulumi_never_holds_it(
    request: pytest.FixtureRequest, stack: str
) -> None:
    d: Deployed = request.getfixturevalue(stack)
    primary = d.graph.named(f"berth-{stack}-primary", INSTANCE)
    assert "password" not in primary.inputs and primary.inputs["manageMasterUserPassword"] is True
    # Encrypted with the database's own key, in the database's region.
    key_arn = db_component(d).outputs["kmsKeyArn"]
    assert primary.inputs["masterUserSecretKmsKeyId"] == key_arn
    live = instances(d)[f"berth-{stack}-primary"]["MasterUserSecret"]
    assert live["KmsKeyId"] == key_arn and db_component(d).outputs["masterUserSecretArn"] == live["SecretArn"]
    assert not db_resources(d, "random:index/randomPassword:RandomPassword"), "no password of Pulumi's making"
    # RDS's secret holds the master user and a password no resource of the graph carries.
    value = json.loads(d.client("secretsmanager").get_secret_value(SecretId=live["SecretArn"])["SecretString"])
    assert value["username"] == "berth_admin" and len(value["password"]) >= 32
    assert value["password"] not in json.dumps([[n.inputs, n.outputs] for n in d.graph.nodes], default=str)
    # Replicas declare none (RDS gives a replica none; the provider would try to modify one in).
    for node in d.graph.by_type(INSTANCE):
        if node.inputs.get("replicateSourceDb"):
            assert not {"manageMasterUserPassword", "masterUserSecretKmsKeyId", "password"} & set(node.inputs)
    assert "password" not in str(read_stack_config(stack)).lower()


# ---- restore sources (disaster recovery) ----------------------------------------------------
def _seed_source(cloud: EmbeddedCloud, ident: str, region: str = "us-east-1") -> dict[str, Any]:
    """A pre-existing database with recognisable data: its own name and master user."""
    rds = cloud.client("rds", region)
    db = rds.create_db_instance(
        DBInstanceIdentifier=ident,
        DBInstanceClass="db.t4g.medium",
        Engine="postgres",
        EngineVersion="16",
        AllocatedStorage=20,
        DBName="legacydata",
        MasterUsername="legacy_admin",
        MasterUserPassword="seeded-password-1",
    )["DBInstance"]
    return db


def test_primary_restores_from_a_seeded_snapshot(deploy: Any) -> None:
    def seed(cloud: EmbeddedCloud) -> None:
        _seed_source(cloud, "legacy-snap-source")
        cloud.client("rds", "us-east-1").create_db_snapshot(
            DBInstanceIdentifier="legacy-snap-source", DBSnapshotIdentifier="shipments-before-incident"
        )

    d = variant(
        deploy, "snaprestore", "staging",
        {"berth:database.restore": {"kind": "snapshot", "snapshotIdentifier": "shipments-before-incident"}},
        seed=seed,
    )
    dbs = instances(d)
    primary = dbs["berth-snaprestore-primary"]
    # Name and master user come from the snapshot, not from the component's defaults.
    assert primary["DBName"] == "legacydata"
    assert primary["MasterUsername"] == "legacy_admin"
    # ...but not the master password: RDS manages a new one (the provider's modify right after
    # the restore), in a secret encrypted with this stack's key, which the bootstrap Job reads.
    assert primary["MasterUserSecret"]["KmsKeyId"] == db_component(d).outputs["kmsKeyArn"]
    assert db_component(d).outputs["masterUserSecretArn"] == primary["MasterUserSecret"]["SecretArn"]
    # The stack's own settings still apply on top of the restore.
    assert primary["BackupRetentionPeriod"] == 7
    assert primary["DBParameterGroups"][0]["DBParameterGroupName"] == "berth-snaprestore-postgres16"
    assert dbs["berth-snaprestore-replica-1"]["ReadReplicaSourceDBInstanceIdentifier"] == "berth-snaprestore-primary"
    node = d.graph.named("berth-snaprestore-primary", INSTANCE)
    assert node.inputs["snapshotIdentifier"] == "shipments-before-incident"
    assert "username" not in node.inputs and "dbName" not in node.inputs
    # The restored storage keeps the snapshot's key: the next update must not replace it.
    assert {"kmsKeyId", "storageEncrypted"} <= set(node.ignore_changes)


def test_primary_restores_to_a_point_in_time_of_a_source_instance(deploy: Any) -> None:
    seeded: dict[str, Any] = {}

    def seed(cloud: EmbeddedCloud) -> None:
        seeded.update(_seed_source(cloud, "legacy-pitr-source"))

    d = variant(
        deploy, "pitrrestore", "staging",
        {"berth:database.restore": {"kind": "pitr", "sourceDbInstanceArn":
                                    "arn:aws:rds:us-east-1:123456789012:db:legacy-pitr-source"}},
        seed=seed,
    )
    primary = instances(d)["berth-pitrrestore-primary"]
    assert primary["MasterUsername"] == "legacy_admin"
    assert primary["DBName"] == "legacydata"
    assert primary["MasterUserSecret"]["KmsKeyId"] == db_component(d).outputs["kmsKeyArn"]
    spec = d.graph.named("berth-pitrrestore-primary", INSTANCE).inputs["restoreToPointInTime"]
    assert spec == {"sourceDbInstanceIdentifier": "legacy-pitr-source", "useLatestRestorableTime": True}
    assert seeded["DBInstanceIdentifier"] in instances(d, prefix="legacy-pitr"), "the source is untouched"


@pytest.mark.slow
def test_dr_stack_restores_replicated_backups_of_a_primary_in_another_region() -> None:
    # A moto server of its own: moto gives every instance the same DbiResourceId, so the
    # source must be the only primary around for the resource id to name it.
    with EmbeddedCloud.serve() as cloud:
        source = _seed_source(cloud, "legacy-xregion-source")
        restore = {"kind": "pitr", "sourceDbiResourceId": source["DbiResourceId"]}
        graph = run_isolated("pitrdr", endpoint_url=cloud.endpoint_url or "", config=read_stack_config("staging"),
                             overrides={"aws:region": "us-west-2", "berth:database.restore": restore})
        d = Deployed("pitrdr", graph, cloud)
        primary = instances(d, "us-west-2")["berth-pitrdr-primary"]
        assert primary["MasterUsername"] == "legacy_admin" and primary["DBName"] == "legacydata"
        assert primary["DBSubnetGroup"]["VpcId"] == graph.outputs["vpcId"]
        assert primary["BackupRetentionPeriod"] == 7
        assert "legacy-xregion-source" in instances(d, "us-east-1", prefix="legacy-")
    spec = graph.named("berth-pitrdr-primary", INSTANCE).inputs["restoreToPointInTime"]
    assert spec == {"sourceDbiResourceId": source["DbiResourceId"], "useLatestRestorableTime": True}


def test_dr_stack_adopts_and_promotes_the_cross_region_replica(deploy: Any) -> None:
    def seed(cloud: EmbeddedCloud) -> None:
        source = _seed_source(cloud, "legacy-promote-source", "us-east-1")
        dr = cloud.client("rds", "us-west-2")
        dr.create_db_instance_read_replica(
            DBInstanceIdentifier="legacy-dr-replica",
            SourceDBInstanceIdentifier=source["DBInstanceArn"],
            SourceRegion="us-east-1",
        )
        # What `berth dr rebuild` does before the stack comes up: RDS manages the master password
        # from now on (a secret in the DR region).
        dr.modify_db_instance(DBInstanceIdentifier="legacy-dr-replica", ManageMasterUserPassword=True,
                              ApplyImmediately=True)

    d = variant(
        deploy, "drpromote", "staging",
        {
            "aws:region": "us-west-2",
            "berth:database.restore": {"kind": "replica", "replicaIdentifier": "legacy-dr-replica"},
        },
        seed=seed,
    )
    promoted = instances(d, "us-west-2", prefix="legacy-dr-replica")["legacy-dr-replica"]
    # Promoted: a standalone instance, which (unlike a replica) AWS lets one stop. moto keeps
    # the stale ReadReplicaSourceDBInstanceIdentifier after a promotion, so ask that instead.
    d.client("rds", "us-west-2").stop_db_instance(DBInstanceIdentifier="legacy-dr-replica")
    assert promoted["MasterUsername"] == "legacy_admin", "the same instance, not a new empty one"
    assert promoted["BackupRetentionPeriod"] == 7
    replica = instances(d, "us-west-2")["berth-drpromote-replica-1"]
    assert replica["ReadReplicaSourceDBInstanceIdentifier"] == "legacy-dr-replica"
    node = d.graph.named("berth-drpromote-primary", INSTANCE)
    assert node.inputs["identifier"] == "legacy-dr-replica"
    assert "replicateSourceDb" not in node.inputs
    assert "replicateSourceDb" in node.ignore_changes and "kmsKeyId" in node.ignore_changes
    # The managed secret the rebuild made (the region's default key) is the one the stack uses.
    assert node.inputs["manageMasterUserPassword"] is True and "masterUserSecretKmsKeyId" not in node.inputs
    assert "masterUserSecretKmsKeyId" in node.ignore_changes and "password" not in node.inputs
    assert db_component(d).outputs["masterUserSecretArn"] == promoted["MasterUserSecret"]["SecretArn"]


def test_adopting_a_replica_without_a_managed_master_secret_is_refused_as_the_import_would_be(deploy: Any) -> None:
    def seed(cloud: EmbeddedCloud) -> None:
        source = _seed_source(cloud, "legacy-unmanaged-source", "us-east-1")
        cloud.client("rds", "us-west-2").create_db_instance_read_replica(
            DBInstanceIdentifier="legacy-unmanaged-replica", SourceDBInstanceIdentifier=source["DBInstanceArn"],
            SourceRegion="us-east-1")

    with pytest.raises(Exception, match=r"importing legacy-unmanaged-replica would fail.*manage-master-user-password"):
        variant(deploy, "drunmanaged", "staging",
                {"aws:region": "us-west-2",
                 "berth:database.restore": {"kind": "replica", "replicaIdentifier": "legacy-unmanaged-replica"}},
                seed=seed)


def test_point_in_time_from_another_region_asks_for_replicated_backups() -> None:
    src = RestoreSource(kind="pitr", source_db_instance_arn="arn:aws:rds:us-east-1:123456789012:db:berth-prod-primary")
    with pytest.raises(ValueError, match="auto-backup"):
        restore_to_point_in_time(src, "us-west-2")
    replicated = RestoreSource(
        kind="pitr",
        source_db_instance_arn="arn:aws:rds:us-west-2:123456789012:auto-backup:ab-abc123",
        restore_time="2026-11-20T10:00:00Z",
    )
    args = restore_to_point_in_time(replicated, "us-west-2")
    assert args.source_db_instance_automated_backups_arn == replicated.source_db_instance_arn
    assert args.restore_time == "2026-11-20T10:00:00Z" and args.use_latest_restorable_time is None


# ---- bad configuration -------------------------------------------------------------------------
def _prod_raw(**database: Any) -> dict[str, Any]:
    raw = raw_from_config_map(read_stack_config("prod"))
    raw["database"] = {**raw["database"], **database}
    return raw


@pytest.mark.parametrize(
    ("change", "key", "hint"),
    [
        ({"replicas": 9}, "berth:database.replicas", "less than or equal to 5"),
        ({"replicas": -1}, "berth:database.replicas", "greater than or equal to 0"),
        ({"instanceClass": "m6i.large"}, "berth:database.instanceClass", "db"),
        ({"replicaInstanceClass": "r6g.large"}, "berth:database.replicaInstanceClass", "db"),
        ({"engineVersion": "16.4"}, "berth:database.engineVersion", "major version only"),
        ({"engineVersion": "12"}, "berth:database.engineVersion", "14, 15, 16 or 17"),
    ],
)
def test_bad_database_settings_name_the_key(change: dict[str, Any], key: str, hint: str) -> None:
    with pytest.raises(ConfigError) as exc:
        parse_settings("prod", _prod_raw(**change))
    message = str(exc.value)
    assert key in message and hint in message
    assert str(next(iter(change.values()))) in message


def test_a_connection_budget_that_does_not_fit_shows_the_numbers() -> None:
    raw = _prod_raw(maxConnections=300)
    with pytest.raises(ConfigError) as exc:
        parse_settings("prod", raw)
    message = str(exc.value)
    # prod: 3 PgBouncer pods x (60 + 60 + 2 x 10 reserve + 2 for the migrations) = 426 > 300 - 40 = 260.
    assert "database.maxConnections (300)" in message
    assert "= 426 server connections" in message and "= 260" in message
    raw = _prod_raw()
    raw["app"] = {**raw["app"], "maxReplicas": 100}
    with pytest.raises(ConfigError, match=r"app.maxReplicas \(100\).*2000 client connections.*= 1200"):
        parse_settings("prod", raw)


def test_a_bad_database_config_fails_before_any_resource_is_registered(deploy: Any) -> None:
    with pytest.raises(ProgramError) as exc:
        variant(deploy, "badconfig", "staging",
                {"berth:database.replicas": 9, "berth:database.instanceClass": "t4g.medium"})
    message = str(exc.value)
    assert "berth:database.replicas" in message and "berth:database.instanceClass" in message
    graph = exc.value.graph
    assert graph is None or not graph.resources


def test_component_exposes_the_contract_attributes(prod: Deployed) -> None:
    outputs = db_component(prod).outputs
    for attr in ("primaryIdentifier", "primaryAddress", "primaryArn", "replicaIdentifiers", "replicaAddresses",
                 "crossRegionReplicaIdentifier", "masterUsername", "databaseName", "securityGroupId",
                 "kmsKeyArn", "parameterGroupName", "maxConnections"):
        assert attr in outputs, attr
    assert outputs["port"] == 5432 and outputs["maxConnections"] == 800
    assert outputs["primaryAddress"] == prod.graph.outputs["databasePrimaryEndpoint"]
    assert len(outputs["replicaAddresses"]) == 2


def test_component_refuses_settings_aws_would_reject() -> None:
    with pytest.raises(ValueError, match=r"iops \(6000\).*400 GiB.*allocatedStorageGib is 100"):
        DatabaseArgs(vpc_id="vpc-1", subnet_ids=["a", "b"], settings=DatabaseSettings(iops=6000,
                                                                                  allocated_storage_gib=100))
    with pytest.raises(ValueError, match="dr_region"):
        DatabaseArgs(vpc_id="vpc-1", subnet_ids=["a", "b"], settings=DatabaseSettings(cross_region_replica=True))
    with pytest.raises(ValueError, match="default VPC"):
        DatabaseArgs(vpc_id="vpc-1", subnet_ids=["a", "b"], settings=DatabaseSettings(cross_region_replica=True),
                     dr_region="us-west-2")
    with pytest.raises(ValueError, match="two availability zones"):
        DatabaseArgs(vpc_id="vpc-1", subnet_ids=["a"], settings=DatabaseSettings())


def test_the_first_up_imports_the_promoted_replica_tolerantly_and_the_next_converges_it() -> None:
    """Pulumi refuses an import whose inputs differ from the instance: the first up ignores what
    only differs then (parameter group, Multi-AZ, monitoring role, tags, snapshot settings); once
    adopted, only what the promoted replica keeps for good stays ignored."""
    from components.database import ADOPTED_FOR_GOOD, DIFFERS_AT_IMPORT, adopt_promoted_replica_opts

    first = adopt_promoted_replica_opts("berth-prod-dr-replica")
    assert first.import_ == "berth-prod-dr-replica"
    assert {"parameterGroupName", "multiAz", "monitoringRoleArn", "skipFinalSnapshot"} <= set(first.ignore_changes)
    later = adopt_promoted_replica_opts("berth-prod-dr-replica", imported=True)
    assert later.import_ is None
    assert set(later.ignore_changes) == set(ADOPTED_FOR_GOOD)
    assert not set(later.ignore_changes) & set(DIFFERS_AT_IMPORT)
    # (no password: RDS manages it; the managed secret's key stays the region's default one)
    assert {"kmsKeyId", "dbSubnetGroupName", "masterUserSecretKmsKeyId"} <= set(later.ignore_changes)
    assert "password" not in later.ignore_changes
