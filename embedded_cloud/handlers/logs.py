"""Embedded cloud room: CloudWatch Logs groups in moto."""

from __future__ import annotations

from typing import Any

from embedded_cloud.handlers import Ctx, Out, Res, invoke, resource


def ensure_service_group(ctx: Ctx, region: str, name: str) -> None:
    """What a service that writes logs does when its group is missing (RDS exporting a log, the
    Container Insights agents, a Lambda): it creates the group itself -- no retention, no key, no tags.
    A stack that made the group first is left alone; one that makes it afterwards is refused
    (ResourceAlreadyExistsException), as on AWS."""
    logs = ctx.client("logs", region)
    if not any(g["logGroupName"] == name for g in logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"]):
        logs.create_log_group(logGroupName=name)


@invoke("aws:cloudwatch/getLogGroups:getLogGroups")
def get_log_groups(ctx: Ctx, args: dict[str, Any], region: str) -> dict[str, Any]:
    prefix = args.get("logGroupNamePrefix") or ""
    where = args.get("region") or region
    kw = {"logGroupNamePrefix": prefix} if prefix else {}
    found = ctx.client("logs", where).describe_log_groups(**kw)["logGroups"]
    return {"arns": [g["arn"].removesuffix(":*") for g in found], "id": where,
            "logGroupNamePrefix": prefix, "logGroupNames": [g["logGroupName"] for g in found], "region": where}


@resource("aws:cloudwatch/logGroup:LogGroup")
def log_group(ctx: Ctx, r: Res) -> Out:
    logs = ctx.client("logs", r.region)
    name = r.physical_name(max_len=512)
    arn = ctx.arn("logs", r.region, f"log-group:{name}")
    if r.import_id:
        # Adoption: the group must exist (as `pulumi import` reads it); nothing is created.
        found = logs.describe_log_groups(logGroupNamePrefix=r.import_id)["logGroups"]
        if not any(g["logGroupName"] == r.import_id for g in found):
            raise ValueError(f"cannot import log group {r.import_id}: it does not exist")
        return r.import_id, {"name": r.import_id, "arn": ctx.arn("logs", r.region, f"log-group:{r.import_id}")}
    kw = {"logGroupName": name}
    if r.inputs.get("kmsKeyId"):
        kw["kmsKeyId"] = r.inputs["kmsKeyId"]
    if r.tags():
        kw["tags"] = r.tags()
    logs.create_log_group(**kw)
    if r.inputs.get("retentionInDays"):
        logs.put_retention_policy(logGroupName=name, retentionInDays=int(r.inputs["retentionInDays"]))
    return name, {"name": name, "arn": arn}


@resource("aws:cloudwatch/logResourcePolicy:LogResourcePolicy")
def log_resource_policy(ctx: Ctx, r: Res) -> Out:
    name = r.inputs["policyName"]
    ctx.client("logs", r.region).put_resource_policy(policyName=name, policyDocument=r.inputs["policyDocument"])
    return name, {}
