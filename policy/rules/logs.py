"""Policy room: log groups the platform's services write are the stack's own.

RDS (exported logs), the amazon-cloudwatch-observability add-on (Container Insights) and a
Synthetics canary's Lambda each create the log group they write to when it is missing: no expiry,
no customer key, no tags, and left behind by `destroy` -- the slow-statement log carrying literal
values from a confidential database. So the stack must make each group first, with a retention and
a key, and make the writer depend on it.
"""

from __future__ import annotations

from typing import Any

from policy.core import Ctx, Finding, Resource, StackView, has_value, is_unknown, items, stack_rule

DB_INSTANCE = "aws:rds/instance:Instance"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
ADDON = "aws:eks/addon:Addon"
CANARY = "aws:synthetics/canary:Canary"

RDS_PREFIX = "/aws/rds/instance/"
CONTAINER_INSIGHTS_ADDON = "amazon-cloudwatch-observability"
CONTAINER_INSIGHTS_GROUPS = ("performance", "application", "host", "dataplane")


def _groups(stack: StackView) -> dict[tuple[str | None, str], Resource]:
    return {(g.region, g.prop("name")): g for g in stack.of_type(LOG_GROUP) if isinstance(g.prop("name"), str)}


def _unfit(group: Resource) -> list[str]:
    """What a made group still lacks: an expiry and a customer key."""
    missing = []
    if not has_value(group.prop("retentionInDays")) or group.prop("retentionInDays") == 0:
        missing.append("a retention")
    if not has_value(group.prop("kmsKeyId")):
        missing.append("a KMS key")
    return missing


def _need(stack: StackView, writer: Resource, name: str, groups: dict[tuple[str | None, str], Resource],
          what: str) -> list[Finding]:
    group = groups.get((writer.region, name))
    if group is None:
        return [(writer.urn, f"{what} {writer.name} writes to {name}, which the stack does not make: the "
                             "service would create it itself (no expiry, no key, no tags, left after destroy)")]
    out: list[Finding] = []
    if not writer.depends_on(group):
        out.append((writer.urn, f"{what} {writer.name} does not depend on its log group {name}: it may write "
                                "(and create the group) before the stack makes it"))
    lacking = _unfit(group)
    if lacking:
        out.append((group.urn, f"log group {name} has no {' and no '.join(lacking)}"))
    return out


@stack_rule(
    "stack-service-log-groups",
    types=[DB_INSTANCE, LOG_GROUP, ADDON, CANARY],
    description="Every log group a service writes (an RDS instance's exported logs, Container Insights, a canary's "
    "Lambda) is made by the stack first, with a retention and a KMS key.",
    severity="medium",
    remediation="Create aws.cloudwatch.LogGroup with the exact name the service writes (/aws/rds/instance/<id>/<log>, "
    "/aws/containerinsights/<cluster>/<kind>, /aws/lambda/cwsyn-<canary>-<id>), retention_in_days and kms_key_id, "
    "and make the writer depend on it.",
)
def service_log_groups(stack: StackView, ctx: Ctx) -> list[Finding]:
    groups = _groups(stack)
    out: list[Finding] = []
    for db in stack.of_type(DB_INSTANCE):
        ident = db.prop("identifier")
        exports = db.prop("enabledCloudwatchLogsExports")
        if is_unknown(ident) or is_unknown(exports) or not isinstance(ident, str):
            continue
        for log in items(exports):
            if isinstance(log, str):
                out += _need(stack, db, f"{RDS_PREFIX}{ident}/{log}", groups, "database")
    for addon in stack.of_type(ADDON):
        cluster = addon.prop("clusterName")
        if addon.prop("addonName") != CONTAINER_INSIGHTS_ADDON or not isinstance(cluster, str):
            continue
        for kind in CONTAINER_INSIGHTS_GROUPS:
            out += _need(stack, addon, f"/aws/containerinsights/{cluster}/{kind}", groups, "add-on")
    for canary in stack.of_type(CANARY):
        out += _canary_group(stack, canary)
    return out


def _canary_group(stack: StackView, canary: Resource) -> list[Finding]:
    # The Lambda's name carries an id AWS assigns, so the group can only be named from the canary's
    # engine ARN: it is the group built from the canary.
    made = [g for g in stack.of_type(LOG_GROUP) if g.region == canary.region and g.depends_on(canary, "name")]
    if not made:
        return [(canary.urn, f"canary {canary.name}'s Lambda writes /aws/lambda/cwsyn-{_name(canary)}-<id>, "
                             "which the stack does not make (name a log group from the canary's engineArn)")]
    return [(g.urn, f"log group of canary {canary.name} has no {' and no '.join(lacking)}")
            for g in made if (lacking := _unfit(g))]


def _name(canary: Resource) -> Any:
    return canary.prop("name")
