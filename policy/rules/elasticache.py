"""Policy room: ElastiCache guardrails (aws:elasticache/replicationGroup:ReplicationGroup)."""

from __future__ import annotations

from typing import Any

from policy.core import Ctx, has_value, is_unknown, items, number, resource_rule, truthy

REPLICATION_GROUP = "aws:elasticache/replicationGroup:ReplicationGroup"

MIN_SNAPSHOT_RETENTION = {"prod": 7, "staging": 1}
DEFAULT_MIN_SNAPSHOT_RETENTION = 1


@resource_rule(
    "elasticache-encryption-at-rest",
    types=[REPLICATION_GROUP],
    description="Cache data, snapshots and swap are encrypted at rest.",
    severity="high",
    remediation="Set at_rest_encryption_enabled=True and kms_key_id (replacement: restore from a snapshot).",
)
def at_rest(props: dict[str, Any], ctx: Ctx) -> list[str]:
    v = props.get("atRestEncryptionEnabled")
    # pulumi-aws v7 defaults it to true for new groups, but only an explicit value is auditable.
    if truthy(v) is False or v is None:
        return ["atRestEncryptionEnabled is not true"]
    return []


@resource_rule(
    "elasticache-encryption-in-transit",
    types=[REPLICATION_GROUP],
    description="Clients reach the cache only over TLS (transit encryption on, mode 'required').",
    severity="high",
    remediation="Set transit_encryption_enabled=True (and transit_encryption_mode='required' if you set a mode).",
)
def in_transit(props: dict[str, Any], ctx: Ctx) -> list[str]:
    v = props.get("transitEncryptionEnabled")
    if truthy(v) is False or v is None:
        return ["transitEncryptionEnabled is not true: cache traffic (and the AUTH token) travels in clear"]
    mode = props.get("transitEncryptionMode")
    if isinstance(mode, str) and mode == "preferred":
        return ["transitEncryptionMode is 'preferred': clients may still connect without TLS"]
    return []


@resource_rule(
    "elasticache-auth",
    types=[REPLICATION_GROUP],
    description="Clients must authenticate (an AUTH token or RBAC user groups).",
    severity="high",
    remediation="Pass auth_token from a pulumi_random.RandomPassword (or user_group_ids for RBAC).",
)
def auth(props: dict[str, Any], ctx: Ctx) -> list[str]:
    token = props.get("authToken")
    token_wo = props.get("authTokenWo")
    groups = props.get("userGroupIds")
    if has_value(token) or has_value(token_wo) or is_unknown(groups) or items(groups):
        return []
    return ["neither authToken nor userGroupIds is set: anyone who reaches the port can read and write"]


@resource_rule(
    "elasticache-failover-prod",
    types=[REPLICATION_GROUP],
    description="Production caches fail over automatically to a replica.",
    severity="high",
    remediation="Set automatic_failover_enabled=True with at least one replica (berth:cache.automaticFailover).",
)
def failover_prod(props: dict[str, Any], ctx: Ctx) -> list[str]:
    if not ctx.is_prod:
        return []
    v = props.get("automaticFailoverEnabled")
    if truthy(v) is False or v is None:
        return ["automaticFailoverEnabled is not true on a production cache"]
    return []


@resource_rule(
    "elasticache-multi-az-prod",
    types=[REPLICATION_GROUP],
    description="Production caches keep replicas in other availability zones (Multi-AZ).",
    severity="high",
    remediation="Set multi_az_enabled=True (berth:cache.multiAz).",
)
def multi_az_prod(props: dict[str, Any], ctx: Ctx) -> list[str]:
    if not ctx.is_prod:
        return []
    v = props.get("multiAzEnabled")
    if truthy(v) is False or v is None:
        return ["multiAzEnabled is not true on a production cache"]
    return []


@resource_rule(
    "elasticache-snapshot-retention",
    types=[REPLICATION_GROUP],
    description="Caches keep daily snapshots (prod >= 7 days, staging >= 1).",
    severity="medium",
    remediation="Set snapshot_retention_limit (berth:cache.snapshotRetentionDays) and a snapshot_window.",
)
def snapshot_retention(props: dict[str, Any], ctx: Ctx) -> list[str]:
    minimum = MIN_SNAPSHOT_RETENTION.get(ctx.environment or "", DEFAULT_MIN_SNAPSHOT_RETENTION)
    raw = props.get("snapshotRetentionLimit")
    if is_unknown(raw):
        return []
    days = number(raw) if raw is not None else 0.0
    if days is None or days < minimum:
        shown = raw if raw is not None else "unset"
        return [f"snapshotRetentionLimit is {shown}; {ctx.environment or 'this environment'} needs >= {minimum}"]
    return []
