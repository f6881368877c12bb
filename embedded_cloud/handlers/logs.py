"""Embedded cloud room: CloudWatch Logs groups in moto."""

from __future__ import annotations

from embedded_cloud.handlers import Ctx, Out, Res, resource


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
