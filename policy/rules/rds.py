"""Policy room: RDS guardrails (aws:rds/instance:Instance, aws:rds/parameterGroup:ParameterGroup).

A "primary" is an instance without `replicateSourceDb`. Read replicas inherit encryption,
retention and deletion semantics from their source in the same region, so rules about
those judge primaries, and replicas only where they set the property themselves.
"""

from __future__ import annotations

from typing import Any

from policy.core import (
    Ctx,
    arn_region,
    get,
    has_value,
    is_aws_managed_key,
    is_unknown,
    items,
    number,
    resource_rule,
    truthy,
)

INSTANCE = "aws:rds/instance:Instance"
PARAMETER_GROUP = "aws:rds/parameterGroup:ParameterGroup"

# Days of automated backups each environment keeps at least (policy config may raise them).
MIN_BACKUP_RETENTION = {"prod": 14, "staging": 7}
DEFAULT_MIN_BACKUP_RETENTION = 7


def is_replica(props: dict[str, Any]) -> bool:
    src = props.get("replicateSourceDb")
    return is_unknown(src) or has_value(src)


def is_cross_region_replica(props: dict[str, Any]) -> bool:
    src_region = arn_region(props.get("replicateSourceDb"))
    own = props.get("region")
    return bool(src_region and isinstance(own, str) and own and src_region != own)


@resource_rule(
    "rds-storage-encrypted",
    types=[INSTANCE],
    description="RDS storage is encrypted at rest.",
    severity="critical",
    remediation="Set storage_encrypted=True on the instance (an existing unencrypted instance must be "
    "restored from an encrypted snapshot copy).",
)
def storage_encrypted(props: dict[str, Any], ctx: Ctx) -> list[str]:
    enc = truthy(props.get("storageEncrypted"))
    if enc is None:
        return []
    if props.get("storageEncrypted") is None and is_replica(props) and not is_cross_region_replica(props):
        return []  # a same-region replica inherits its source's encryption
    if not enc:
        return ["storageEncrypted is not true: the database's storage, snapshots and backups are unencrypted"]
    return []


@resource_rule(
    "rds-customer-kms-key",
    types=[INSTANCE],
    description="RDS storage is encrypted with a customer-managed KMS key, not the AWS-managed aws/rds key.",
    severity="high",
    remediation="Create an aws.kms.Key (rotation on) and pass its ARN as kms_key_id.",
)
def customer_kms_key(props: dict[str, Any], ctx: Ctx) -> list[str]:
    key = props.get("kmsKeyId")
    if is_unknown(key):
        return []
    if not has_value(key):
        if is_replica(props) and not is_cross_region_replica(props):
            return []  # inherits the source's key
        return ["kmsKeyId is not set: storage would use the AWS-managed aws/rds key"]
    if is_aws_managed_key(key):
        return [f"kmsKeyId {key} is an AWS-managed key, not a customer-managed one"]
    return []


@resource_rule(
    "rds-not-public",
    types=[INSTANCE],
    description="RDS instances are not reachable from the internet.",
    severity="critical",
    remediation="Set publicly_accessible=False and place the instance in private subnets.",
)
def not_public(props: dict[str, Any], ctx: Ctx) -> list[str]:
    if truthy(props.get("publiclyAccessible")):
        return ["publiclyAccessible is true: the instance gets a public IP address"]
    return []


@resource_rule(
    "rds-backup-retention",
    types=[INSTANCE],
    description="Primaries keep automated backups at least as long as the environment's minimum "
    "(prod 14 days, staging 7).",
    severity="high",
    remediation="Raise backup_retention_period (berth:database.backupRetentionDays) to the minimum or more.",
)
def backup_retention(props: dict[str, Any], ctx: Ctx) -> list[str]:
    if is_replica(props):
        return []
    minimum = int(
        ctx.config.get("minBackupRetentionDays")
        or MIN_BACKUP_RETENTION.get(ctx.environment or "", DEFAULT_MIN_BACKUP_RETENTION)
    )
    raw = props.get("backupRetentionPeriod")
    if is_unknown(raw):
        return []
    days = number(raw) if raw is not None else 0.0  # the AWS API default without it is 1 day at most
    if days is None or days < minimum:
        shown = raw if raw is not None else "unset"
        return [f"backupRetentionPeriod is {shown}; {ctx.environment or 'this environment'} needs >= {minimum} days"]
    return []


@resource_rule(
    "rds-multi-az-prod",
    types=[INSTANCE],
    description="Production primaries are Multi-AZ (a standby in another AZ takes over automatically).",
    severity="high",
    remediation="Set multi_az=True on the prod primary (berth:database.multiAz).",
)
def multi_az_prod(props: dict[str, Any], ctx: Ctx) -> list[str]:
    if not ctx.is_prod or is_replica(props):
        return []
    if truthy(props.get("multiAz")) is False or props.get("multiAz") is None:
        return ["multiAz is not true on a production primary: an AZ failure takes the database down"]
    return []


@resource_rule(
    "rds-deletion-protection-prod",
    types=[INSTANCE],
    description="Production primaries have deletion protection.",
    severity="high",
    remediation="Set deletion_protection=True on the prod primary (berth:database.deletionProtection).",
)
def deletion_protection_prod(props: dict[str, Any], ctx: Ctx) -> list[str]:
    if not ctx.is_prod or is_replica(props):
        return []
    if truthy(props.get("deletionProtection")) is False or props.get("deletionProtection") is None:
        return ["deletionProtection is not true on a production primary"]
    return []


@resource_rule(
    "rds-final-snapshot-prod",
    types=[INSTANCE],
    description="Deleting a production primary leaves a final snapshot.",
    severity="high",
    remediation="Set skip_final_snapshot=False and a final_snapshot_identifier on the prod primary.",
)
def final_snapshot_prod(props: dict[str, Any], ctx: Ctx) -> list[str]:
    if not ctx.is_prod or is_replica(props):
        return []
    if truthy(props.get("skipFinalSnapshot")):
        return ["skipFinalSnapshot is true on a production primary: deleting it loses the data"]
    return []


@resource_rule(
    "rds-performance-insights-encrypted",
    types=[INSTANCE],
    description="When Performance Insights is on, its data (query texts) is encrypted with a customer key.",
    severity="medium",
    remediation="Pass performance_insights_kms_key_id (the database's KMS key ARN).",
)
def performance_insights_encrypted(props: dict[str, Any], ctx: Ctx) -> list[str]:
    if truthy(props.get("performanceInsightsEnabled")) is not True:
        return []
    key = props.get("performanceInsightsKmsKeyId")
    if is_unknown(key):
        return []
    if not has_value(key):
        return ["performanceInsightsEnabled without performanceInsightsKmsKeyId: query texts use the AWS key"]
    if is_aws_managed_key(key):
        return [f"performanceInsightsKmsKeyId {key} is an AWS-managed key"]
    return []


def _parameters(props: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for p in items(props.get("parameters")):
        name = get(p, "name")
        if isinstance(name, str):
            out[name] = get(p, "value")
    return out


def _postgres_major(family: Any) -> int | None:
    if not isinstance(family, str) or not family.startswith("postgres"):
        return None
    try:
        return int(family.removeprefix("postgres").split(".")[0])
    except ValueError:
        return None


@resource_rule(
    "rds-force-ssl",
    types=[PARAMETER_GROUP, INSTANCE],
    description="PostgreSQL forces TLS: parameter groups set rds.force_ssl = 1 (instances on the default group "
    "need PostgreSQL 15+, where RDS defaults it to 1).",
    severity="high",
    remediation="Add the parameter rds.force_ssl = 1 to the parameter group (and give every instance one).",
)
def force_ssl(props: dict[str, Any], ctx: Ctx) -> list[str]:
    if "engine" in props or "instanceClass" in props:
        return _default_group_ssl(props)
    family = props.get("family")
    if is_unknown(family) or not (isinstance(family, str) and family.startswith("postgres")):
        return []
    params = _parameters(props)
    if "rds.force_ssl" in params:
        value = params["rds.force_ssl"]
        if is_unknown(value) or str(value).strip() == "1":
            return []
        return [f"rds.force_ssl is {value!r}: clients may connect without TLS"]
    major = _postgres_major(family)
    # PostgreSQL 15+ on RDS defaults rds.force_ssl to 1; older families default to 0.
    if major is not None and major >= 15:
        return []
    return [f"rds.force_ssl is not set and {family} defaults it to 0: clients may connect without TLS"]


def _default_group_ssl(props: dict[str, Any]) -> list[str]:
    """An instance without a parameter group runs on the engine's default one."""
    engine, version, group = props.get("engine"), props.get("engineVersion"), props.get("parameterGroupName")
    if is_replica(props) or is_unknown(group) or has_value(group) or engine != "postgres":
        return []
    if is_unknown(version) or not isinstance(version, str):
        return []
    major = _postgres_major(f"postgres{version}")
    if major is not None and major < 15:
        return [f"no parameter group: the default for PostgreSQL {version} leaves rds.force_ssl at 0"]
    return []


@resource_rule(
    "rds-own-subnet-group",
    types=[INSTANCE],
    description="Every primary and every cross-region replica names its own DB subnet group (private subnets of "
    "a VPC of ours); without one RDS puts it in the region's default VPC, which many organisations delete and "
    "no platform of ours can reach.",
    severity="high",
    remediation="Create an aws.rds.SubnetGroup from the stack's private subnets (in the replica's region for a "
    "cross-region replica) and pass its name as db_subnet_group_name.",
)
def own_subnet_group(props: dict[str, Any], ctx: Ctx) -> list[str]:
    if is_replica(props) and not is_cross_region_replica(props):
        return []  # a same-region replica inherits its source's subnet group
    group = props.get("dbSubnetGroupName")
    if is_unknown(group) or has_value(group):
        return []
    what = "cross-region replica" if is_cross_region_replica(props) else "instance"
    return [f"this {what} names no dbSubnetGroupName: it would land in the region's default VPC (or fail where "
            f"there is none)"]
