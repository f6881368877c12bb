"""Embedded cloud room: RDS instances, parameter groups and subnet groups in moto.

An `aws.rds.Instance` becomes the RDS call the provider would make: a plain create, a
read replica (same region by identifier, cross-region by the source ARN, called in the
replica's region as AWS requires), a restore from a DB snapshot, or a point-in-time
restore; properties those calls cannot take are then applied with modify, as the
provider does. An instance whose identifier already exists and that replicates nothing
is adopted (the import of a DR stack) and promoted if it is a replica.

Lazy pulumi/moto imports here: see embedded_cloud/__init__.py.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

import boto3

from embedded_cloud.handlers import Ctx, Out, Res, resource, short_hash, tag_list, validated
from embedded_cloud.handlers.logs import ensure_service_group


def teach_moto() -> None:
    """RDS's managed master secret holds the instance's master user and a random password; moto's
    holds "admin" and one fixed password. Teach it RDS's content (idempotent; runs where moto runs)."""

    from moto.rds import models

    if getattr(models.MasterUserSecret._generate_secret_string, "_berth", False):
        return

    def generate(self: Any) -> str:
        user = getattr(self.resource, "master_username", None) or "admin"
        return json.dumps({"username": user, "password": secrets.token_urlsafe(30)})

    generate._berth = True  # type: ignore[attr-defined]
    models.MasterUserSecret._generate_secret_string = generate  # type: ignore[method-assign]


teach_moto()

# Pulumi input (camelCase wire name) -> RDS API parameter.
_INSTANCE_PARAMS = {
    "identifier": "DBInstanceIdentifier",
    "instanceClass": "DBInstanceClass",
    "allocatedStorage": "AllocatedStorage",
    "engine": "Engine",
    "engineVersion": "EngineVersion",
    "dbName": "DBName",
    "username": "MasterUsername",
    "password": "MasterUserPassword",
    "manageMasterUserPassword": "ManageMasterUserPassword",
    "masterUserSecretKmsKeyId": "MasterUserSecretKmsKeyId",
    "dbSubnetGroupName": "DBSubnetGroupName",
    "parameterGroupName": "DBParameterGroupName",
    "vpcSecurityGroupIds": "VpcSecurityGroupIds",
    "multiAz": "MultiAZ",
    "storageType": "StorageType",
    "storageEncrypted": "StorageEncrypted",
    "kmsKeyId": "KmsKeyId",
    "maxAllocatedStorage": "MaxAllocatedStorage",
    "iops": "Iops",
    "storageThroughput": "StorageThroughput",
    "backupRetentionPeriod": "BackupRetentionPeriod",
    "backupWindow": "PreferredBackupWindow",
    "maintenanceWindow": "PreferredMaintenanceWindow",
    "copyTagsToSnapshot": "CopyTagsToSnapshot",
    "deletionProtection": "DeletionProtection",
    "iamDatabaseAuthenticationEnabled": "EnableIAMDatabaseAuthentication",
    "performanceInsightsEnabled": "EnablePerformanceInsights",
    "performanceInsightsKmsKeyId": "PerformanceInsightsKMSKeyId",
    "performanceInsightsRetentionPeriod": "PerformanceInsightsRetentionPeriod",
    "monitoringInterval": "MonitoringInterval",
    "monitoringRoleArn": "MonitoringRoleArn",
    "enabledCloudwatchLogsExports": "EnableCloudwatchLogsExports",
    "publiclyAccessible": "PubliclyAccessible",
    "port": "Port",
    "autoMinorVersionUpgrade": "AutoMinorVersionUpgrade",
    "caCertIdentifier": "CACertificateIdentifier",
    "availabilityZone": "AvailabilityZone",
}


# What terraform-provider-aws applies with ModifyDBInstance right after a restore call rather than in it
# (resourceInstanceCreate): the managed master password among others.
_MODIFIED_AFTER_RESTORE = {"ManageMasterUserPassword", "MasterUserSecretKmsKeyId"}


def _accepted(rds: Any, operation: str) -> set[str]:
    return set(rds._service_model.operation_model(operation).input_shape.members)


def _params(rds: Any, operation: str, inputs: dict[str, Any], skip: set[str] = frozenset()) -> dict[str, Any]:  # type: ignore[assignment]
    """The inputs this RDS operation accepts, under its parameter names (None/empty dropped)."""
    accepted = _accepted(rds, operation)
    out: dict[str, Any] = {}
    for key, wire in _INSTANCE_PARAMS.items():
        value = inputs.get(key)
        if value is None or value == [] or wire not in accepted or wire in skip:
            continue
        out[wire] = value
    return out


def _describe(rds: Any, identifier: str) -> dict[str, Any] | None:
    try:
        return rds.describe_db_instances(DBInstanceIdentifier=identifier)["DBInstances"][0]
    except rds.exceptions.DBInstanceNotFoundFault:
        return None


def _modify_rest(rds: Any, identifier: str, inputs: dict[str, Any], already: dict[str, Any]) -> dict[str, Any]:
    """Apply what the create/restore call could not take, as the provider does right after it."""
    rest = _params(rds, "ModifyDBInstance", inputs, skip=set(already) | {"DBInstanceIdentifier"})
    # A restored/adopted instance keeps the engine version of its source.
    rest.pop("EngineVersion", None)
    if not rest:
        return _describe(rds, identifier) or {}
    return rds.modify_db_instance(DBInstanceIdentifier=identifier, ApplyImmediately=True, **rest)["DBInstance"]


def _regions(ctx: Ctx, first: str) -> list[str]:

    others = sorted(boto3.session.Session().get_available_regions("rds"))
    return [first, ctx.default_region, *[r for r in others if r not in (first, ctx.default_region)]]


def _pitr_source(ctx: Ctx, region: str, spec: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(region, instance) of the source a point-in-time restore names, wherever it lives."""
    if spec.get("sourceDbInstanceIdentifier"):
        db = _describe(ctx.client("rds", region), str(spec["sourceDbInstanceIdentifier"]))
        if db is None:
            raise ValueError(f"no source instance {spec['sourceDbInstanceIdentifier']} in {region}")
        return region, db
    arn = spec.get("sourceDbInstanceAutomatedBackupsArn")
    resource_id = spec.get("sourceDbiResourceId")
    if arn:
        backups = ctx.client("rds", region).describe_db_instance_automated_backups()
        for backup in backups.get("DBInstanceAutomatedBackups", []):
            if backup.get("DBInstanceAutomatedBackupsArn") == arn:
                resource_id = backup.get("DbiResourceId")
        if resource_id is None:
            raise ValueError(f"no automated backups {arn} in {region}")
    if not resource_id:
        raise ValueError("restoreToPointInTime names no source instance")
    # Replicated automated backups outlive their region's outage; moto keeps no such copy,
    # so the source instance itself stands for them, in whichever region it lives.
    found = [
        (candidate, db)
        for candidate in _regions(ctx, region)
        for db in ctx.client("rds", candidate).describe_db_instances()["DBInstances"]
        if db.get("DbiResourceId") == resource_id
    ]
    # Backups are the primary's; and moto hands every instance one and the same resource id,
    # so only an unambiguous primary is a usable answer.
    primaries = [(c, db) for c, db in found if not db.get("ReadReplicaSourceDBInstanceIdentifier")]
    if len(primaries) == 1:
        return primaries[0]
    if not found:
        raise ValueError(f"no instance (or automated backups) with DbiResourceId {resource_id}")
    names = ", ".join(f"{db['DBInstanceIdentifier']} ({c})" for c, db in primaries or found)
    raise ValueError(f"DbiResourceId {resource_id} names several instances here ({names}); moto gives every "
                     "instance the same resource id: name the source by identifier, or use a fresh cloud")


def _restore_to_point_in_time(ctx: Ctx, r: Res, inputs: dict[str, Any], tags: list[dict[str, str]]) -> dict[str, Any]:
    rds = ctx.client("rds", r.region)
    ident = inputs["identifier"]
    spec = inputs["restoreToPointInTime"]
    src_region, src = _pitr_source(ctx, r.region, spec)
    if src_region != r.region:
        # Cross-region (restore from replicated automated backups): moto cannot restore across
        # regions, so the same data arrives the way moto can move it: a cross-region replica of
        # the source, promoted at once. The instance that results is what AWS would create.
        # The network is set after the promotion (moto looks a replica's subnet group up in the
        # source's region).
        kw = _params(rds, "CreateDBInstanceReadReplica", inputs)
        kw.pop("DBSubnetGroupName", None)
        kw.pop("VpcSecurityGroupIds", None)
        rds.create_db_instance_read_replica(SourceDBInstanceIdentifier=src["DBInstanceArn"], SourceRegion=src_region,
                                            Tags=tags, **kw)
        rds.promote_read_replica(DBInstanceIdentifier=ident)
        return _modify_rest(rds, ident, inputs, {**kw, "KmsKeyId": 1, "StorageEncrypted": 1, "MasterUsername": 1,
                                                 "DBName": 1})
    kw = _params(rds, "RestoreDBInstanceToPointInTime", inputs, skip=_MODIFIED_AFTER_RESTORE)
    kw.pop("DBInstanceIdentifier", None)
    when: dict[str, Any] = {}
    if spec.get("restoreTime"):
        when["RestoreTime"] = spec["restoreTime"]
    else:
        when["UseLatestRestorableTime"] = bool(spec.get("useLatestRestorableTime", True))
    rds.restore_db_instance_to_point_in_time(
        SourceDBInstanceIdentifier=src["DBInstanceIdentifier"], TargetDBInstanceIdentifier=ident, Tags=tags,
        **when, **kw,
    )
    return _modify_rest(rds, ident, inputs, {**kw, "DBInstanceIdentifier": 1, "KmsKeyId": 1,
                                             "StorageEncrypted": 1, "MasterUsername": 1})


@resource("aws:rds/instance:Instance")
def instance(ctx: Ctx, r: Res) -> Out:
    rds = ctx.client("rds", r.region)
    inputs = dict(r.inputs)
    ident = r.physical_name("identifier", max_len=63).lower()
    inputs["identifier"] = ident
    tags = tag_list(r.tags())
    source = inputs.get("replicateSourceDb")
    existing = _describe(rds, ident)

    if existing is not None and not source:
        # Adoption (import) of an existing instance; a replica is promoted to standalone.
        if existing.get("ReadReplicaSourceDBInstanceIdentifier"):
            kw: dict[str, Any] = {}
            if inputs.get("backupRetentionPeriod"):
                kw["BackupRetentionPeriod"] = inputs["backupRetentionPeriod"]
            rds.promote_read_replica(DBInstanceIdentifier=ident, **kw)
            existing = _describe(rds, ident) or existing
        if inputs.get("manageMasterUserPassword") and not existing.get("MasterUserSecret"):
            # The import compares the declared managed password with the instance: it fails.
            raise ValueError(
                f"importing {ident} would fail: it has no RDS-managed master secret but the stack declares one "
                "(berth dr rebuild turns it on when it promotes the replica: modify-db-instance "
                "--manage-master-user-password)"
            )
        db = _modify_rest(rds, ident, inputs, {"KmsKeyId": 1, "StorageEncrypted": 1, "DBSubnetGroupName": 1,
                                               "PerformanceInsightsKMSKeyId": 1, "ManageMasterUserPassword": 1,
                                               "MasterUserSecretKmsKeyId": 1})
    elif source:
        kw = _params(rds, "CreateDBInstanceReadReplica", inputs)
        network: dict[str, Any] = {}
        if str(source).startswith("arn:"):
            # Cross-region: asked of the replica's region, naming the source by ARN.
            kw["SourceRegion"] = str(source).split(":")[3]
            # AWS takes the replica's own subnet group and security groups in this call; moto
            # looks the subnet group up in the source's region, so they follow as a modify.
            network = {k: kw.pop(k) for k in ("DBSubnetGroupName", "VpcSecurityGroupIds") if k in kw}
        db = rds.create_db_instance_read_replica(SourceDBInstanceIdentifier=source, Tags=tags, **kw)["DBInstance"]
        db = _modify_rest(rds, ident, inputs, {**kw, "MasterUserPassword": 1, "MasterUsername": 1, "DBName": 1,
                                               "StorageEncrypted": 1, "EngineVersion": 1,
                                               "ManageMasterUserPassword": 1, "MasterUserSecretKmsKeyId": 1})
        if network:
            db = rds.modify_db_instance(DBInstanceIdentifier=ident, ApplyImmediately=True, **network)["DBInstance"]
    elif inputs.get("snapshotIdentifier"):
        kw = _params(rds, "RestoreDBInstanceFromDBSnapshot", inputs, skip=_MODIFIED_AFTER_RESTORE)
        db = rds.restore_db_instance_from_db_snapshot(
            DBSnapshotIdentifier=inputs["snapshotIdentifier"], Tags=tags, **kw
        )["DBInstance"]
        db = _modify_rest(rds, ident, inputs, {**kw, "KmsKeyId": 1, "StorageEncrypted": 1, "MasterUsername": 1})
    elif inputs.get("restoreToPointInTime"):
        db = _restore_to_point_in_time(ctx, r, inputs, tags)
    else:
        kw = _params(rds, "CreateDBInstance", inputs)
        db = rds.create_db_instance(Tags=tags, **kw)["DBInstance"]
    # RDS writes each exported log to /aws/rds/instance/<id>/<log>, creating the group if missing.
    for log in inputs.get("enabledCloudwatchLogsExports") or []:
        ensure_service_group(ctx, r.region, f"/aws/rds/instance/{ident}/{log}")
    return ident, _outputs(ctx, r.region, db)


def _outputs(ctx: Ctx, region: str, db: dict[str, Any]) -> dict[str, Any]:
    endpoint = db.get("Endpoint") or {}
    address = endpoint.get("Address") or f"{db['DBInstanceIdentifier']}.abcdefghijkl.{region}.rds.amazonaws.com"
    port = endpoint.get("Port") or 5432
    return {
        "identifier": db["DBInstanceIdentifier"],
        "arn": db.get("DBInstanceArn") or ctx.arn("rds", region, f"db:{db['DBInstanceIdentifier']}"),
        "address": address,
        "endpoint": f"{address}:{port}",
        "port": port,
        "hostedZoneId": endpoint.get("HostedZoneId") or "Z2R2ITUGPM61AM",
        "resourceId": db.get("DbiResourceId"),
        "availabilityZone": db.get("AvailabilityZone"),
        "status": db.get("DBInstanceStatus"),
        "engine": db.get("Engine"),
        "engineVersionActual": db.get("EngineVersion"),
        "username": db.get("MasterUsername"),
        "dbName": db.get("DBName"),
        "kmsKeyId": db.get("KmsKeyId"),
        "storageEncrypted": db.get("StorageEncrypted"),
        "multiAz": db.get("MultiAZ"),
        "replicas": db.get("ReadReplicaDBInstanceIdentifiers") or [],
        "masterUserSecrets": [
            {"secretArn": secret.get("SecretArn"), "kmsKeyId": secret.get("KmsKeyId"),
             "secretStatus": secret.get("SecretStatus")}
        ] if (secret := db.get("MasterUserSecret")) else [],
    }


@resource("aws:rds/parameterGroup:ParameterGroup")
def parameter_group(ctx: Ctx, r: Res) -> Out:
    rds = ctx.client("rds", r.region)
    name = r.physical_name(max_len=255).lower()
    g = rds.create_db_parameter_group(
        DBParameterGroupName=name,
        DBParameterGroupFamily=r.inputs["family"],
        Description=r.inputs.get("description") or "Managed by Pulumi",
        Tags=tag_list(r.tags()),
    )["DBParameterGroup"]
    params = [
        {"ParameterName": p["name"], "ParameterValue": str(p["value"]),
         "ApplyMethod": p.get("applyMethod") or "immediate"}
        for p in r.inputs.get("parameters") or []
    ]
    # The API takes at most 20 parameters per call.
    for i in range(0, len(params), 20):
        rds.modify_db_parameter_group(DBParameterGroupName=name, Parameters=params[i : i + 20])
    return name, {"name": name, "arn": g.get("DBParameterGroupArn") or ctx.arn("rds", r.region, f"pg:{name}")}


@resource("aws:rds/subnetGroup:SubnetGroup")
def subnet_group(ctx: Ctx, r: Res) -> Out:
    rds = ctx.client("rds", r.region)
    name = r.physical_name(max_len=255).lower()
    g = rds.create_db_subnet_group(
        DBSubnetGroupName=name,
        DBSubnetGroupDescription=r.inputs.get("description") or "Managed by Pulumi",
        SubnetIds=list(r.inputs["subnetIds"]),
        Tags=tag_list(r.tags()),
    )["DBSubnetGroup"]
    return name, {
        "name": name,
        "arn": g.get("DBSubnetGroupArn") or ctx.arn("rds", r.region, f"subgrp:{name}"),
        "vpcId": g.get("VpcId"),
        "supportedNetworkTypes": g.get("SupportedNetworkTypes") or ["IPV4"],
    }


@resource("aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication")
def automated_backups_replication(ctx: Ctx, r: Res) -> Out:
    """moto 5.2 lacks StartDBInstanceAutomatedBackupsReplication: the source must exist in its own
    region, the retention fit 1-35 days and an encrypted source name a key in this region, as RDS
    requires; the id is the replicated backups' ARN RDS returns."""
    i = r.inputs
    source = str(i["sourceDbInstanceArn"])
    parts = source.split(":")
    if len(parts) < 7 or parts[2] != "rds" or parts[5] != "db":
        raise ValueError(f"InvalidParameterValue: {source!r} is not a DB instance ARN")
    src_region, identifier = parts[3], parts[6]
    if src_region == r.region:
        raise ValueError("InvalidParameterCombination: backups replicate to another region than the source's")
    db = _describe(ctx.client("rds", src_region), identifier)
    if db is None:
        raise ValueError(f"DBInstanceNotFound: {identifier} in {src_region}")
    retention = int(i.get("retentionPeriod") or 7)
    if not 1 <= retention <= 35:
        raise ValueError(f"InvalidParameterValue: retentionPeriod {retention} must be 1-35 days")
    if db.get("StorageEncrypted") and not i.get("kmsKeyId"):
        raise ValueError("InvalidParameterCombination: an encrypted source needs a KMS key in the destination region")
    validated(ctx, "rds", "StartDBInstanceAutomatedBackupsReplication", {
        "SourceDBInstanceArn": source, "BackupRetentionPeriod": retention,
        **({"KmsKeyId": i["kmsKeyId"]} if i.get("kmsKeyId") else {})}, r.region)
    resource_id = db.get("DbiResourceId") or short_hash(source, n=26).upper()
    return ctx.arn("rds", r.region, f"auto-backup:ab-{short_hash(resource_id, n=26)}"), {}
