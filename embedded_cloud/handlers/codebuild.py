"""Embedded cloud room: CodeBuild projects (moto) and webhooks (ours: moto has no webhook API).

The bootstrap's GitHub Actions runners are a CodeBuild project whose webhook fires on
WORKFLOW_JOB_QUEUED. What the service refuses is refused here: a VPC config whose subnets are not
in its VPC, a service role that does not exist, a webhook for a project that does not exist, and
WORKFLOW_JOB_QUEUED on a project whose source is not GitHub.
"""

from __future__ import annotations

from typing import Any

from embedded_cloud.handlers import Ctx, Out, Res, resource, tag_list, validated

GITHUB_SOURCES = ("GITHUB", "GITHUB_ENTERPRISE")
EVENTS = (
    "PUSH",
    "PULL_REQUEST_CREATED",
    "PULL_REQUEST_UPDATED",
    "PULL_REQUEST_REOPENED",
    "PULL_REQUEST_MERGED",
    "PULL_REQUEST_CLOSED",
    "WORKFLOW_JOB_QUEUED",
    "RELEASED",
    "PRERELEASED",
)


def _source(src: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"type": src["type"]}
    if src.get("location"):
        out["location"] = src["location"]
    if src.get("auth"):
        out["auth"] = {
            "type": src["auth"]["type"],
            **({"resource": src["auth"]["resource"]} if src["auth"].get("resource") else {}),
        }
    return out


@resource("aws:codebuild/project:Project")
def project(ctx: Ctx, r: Res) -> Out:
    cb = ctx.client("codebuild", r.region)
    name = r.physical_name(max_len=255)
    env = r.inputs["environment"]
    role = r.inputs["serviceRole"]
    try:
        ctx.client("iam", "us-east-1").get_role(RoleName=role.rsplit("/", 1)[-1])
    except Exception:
        raise ValueError(
            f"InvalidInputException: CodeBuild is not authorized to perform: sts:AssumeRole on {role} (no such role)"
        ) from None
    kw: dict[str, Any] = {
        "name": name,
        "source": _source(r.inputs["source"]),
        "artifacts": {"type": r.inputs["artifacts"]["type"]},
        "environment": {
            "type": env["type"],
            "image": env["image"],
            "computeType": env["computeType"],
            "privilegedMode": bool(env.get("privilegedMode")),
            "imagePullCredentialsType": env.get("imagePullCredentialsType") or "CODEBUILD",
        },
        "serviceRole": role,
        "timeoutInMinutes": int(r.inputs.get("buildTimeout") or 60),
    }
    vpc = r.inputs.get("vpcConfig")
    if vpc:
        subnets = ctx.client("ec2", r.region).describe_subnets(SubnetIds=list(vpc["subnets"]))["Subnets"]
        strays = [s["SubnetId"] for s in subnets if s["VpcId"] != vpc["vpcId"]]
        if strays:
            raise ValueError(f"InvalidInputException: subnets {strays} are not in {vpc['vpcId']}")
        kw["vpcConfig"] = {
            "vpcId": vpc["vpcId"],
            "subnets": list(vpc["subnets"]),
            "securityGroupIds": list(vpc.get("securityGroupIds") or []),
        }
    logs = (r.inputs.get("logsConfig") or {}).get("cloudwatchLogs")
    if logs:
        kw["logsConfig"] = {
            "cloudWatchLogs": {
                "status": logs.get("status") or "ENABLED",
                **({"groupName": logs["groupName"]} if logs.get("groupName") else {}),
            }
        }
    if r.tags():
        kw["tags"] = [{"key": t["Key"], "value": t["Value"]} for t in tag_list(r.tags())]
    arn = cb.create_project(**kw)["project"]["arn"]
    return name, {"arn": arn, "name": name, "badgeUrl": ""}


@resource("aws:codebuild/webhook:Webhook")
def webhook(ctx: Ctx, r: Res) -> Out:
    name = r.inputs["projectName"]
    groups = [
        [{"type": f["type"], "pattern": f["pattern"]} for f in g.get("filters") or []]
        for g in r.inputs.get("filterGroups") or []
    ]
    params: dict[str, Any] = {"projectName": name, "filterGroups": groups}
    if r.inputs.get("buildType"):
        params["buildType"] = r.inputs["buildType"]
    validated(ctx, "codebuild", "CreateWebhook", params, r.region)
    found = ctx.client("codebuild", r.region).batch_get_projects(names=[name])["projects"]
    if not found:
        raise ValueError(f"ResourceNotFoundException: project {name} does not exist")
    source = found[0]["source"]
    for f in (f for g in groups for f in g if f["type"] == "EVENT"):
        bad = [e for e in f["pattern"].split(",") if e.strip() not in EVENTS]
        if bad:
            raise ValueError(f"InvalidInputException: unknown webhook event(s) {bad}; allowed: {', '.join(EVENTS)}")
        if "WORKFLOW_JOB_QUEUED" in f["pattern"] and source["type"] not in GITHUB_SOURCES:
            raise ValueError(
                f"InvalidInputException: WORKFLOW_JOB_QUEUED needs a GitHub source, project {name} has {source['type']}"
            )
    if source["type"] in GITHUB_SOURCES and not r.inputs.get("manualCreation") and not source.get("auth"):
        raise ValueError(
            f"OAuthProviderException: project {name} has no credential to create the GitHub webhook "
            "(source.auth: a CodeConnections connection)"
        )
    repo = source.get("location", "").removeprefix("https://github.com/").removesuffix(".git")
    return name, {
        "payloadUrl": f"https://codebuild.{r.region}.amazonaws.com/webhooks",
        "url": f"https://api.github.com/repos/{repo}/hooks",
        "secret": "",
    }
