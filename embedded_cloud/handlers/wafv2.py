"""Embedded cloud room: WAFv2 web ACLs in moto (CLOUDFRONT scope lives in us-east-1)."""

from __future__ import annotations

from typing import Any

from embedded_cloud.handlers import Ctx, Out, Res, resource, tag_list

# Wire (camelCase) keys whose API spelling is not a plain capitalisation.
_SPELLING = {"cloudwatchMetricsEnabled": "CloudWatchMetricsEnabled"}


def _api(value: Any) -> Any:
    """pulumi-aws camelCase nested blocks -> the WAFv2 API's PascalCase shapes."""
    if isinstance(value, dict):
        return {_SPELLING.get(k, k[:1].upper() + k[1:]): _api(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_api(v) for v in value]
    return value


@resource("aws:wafv2/webAcl:WebAcl")
def web_acl(ctx: Ctx, r: Res) -> Out:
    scope = r.inputs["scope"]
    if scope == "CLOUDFRONT" and r.region != "us-east-1":
        raise ValueError(f"a CLOUDFRONT-scope web ACL must be created in us-east-1, not {r.region}")
    waf = ctx.client("wafv2", r.region)
    name = r.physical_name(max_len=128)
    kw: dict[str, Any] = {
        "Name": name,
        "Scope": scope,
        "DefaultAction": _api(r.inputs["defaultAction"]),
        "VisibilityConfig": _api(r.inputs["visibilityConfig"]),
        "Rules": _api(r.inputs.get("rules") or []),
    }
    if r.inputs.get("description"):
        kw["Description"] = r.inputs["description"]
    if r.tags():
        kw["Tags"] = tag_list(r.tags())
    summary = waf.create_web_acl(**kw)["Summary"]
    return summary["Id"], {"arn": summary["ARN"], "name": name, "lockToken": summary.get("LockToken"),
                           "capacity": 0}


@resource("aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration")
def web_acl_logging(ctx: Ctx, r: Res) -> Out:
    """moto checks the web ACL exists; WAF's own rule that a log group's name starts with
    `aws-waf-logs-` is checked here (PutLoggingConfiguration refuses any other destination name)."""
    i = r.inputs
    for dest in i["logDestinationConfigs"]:
        name = str(dest).split(":log-group:")[-1].split(":")[0] if ":log-group:" in str(dest) else str(dest).split(":")[-1]
        if not name.startswith("aws-waf-logs-"):
            raise ValueError(f"WAFInvalidParameterException: log destination {dest!r}: its name must start with "
                             f"aws-waf-logs-")
    config: dict[str, Any] = {"ResourceArn": i["resourceArn"], "LogDestinationConfigs": list(i["logDestinationConfigs"])}
    if i.get("redactedFields"):
        config["RedactedFields"] = [_api(f) for f in i["redactedFields"]]
    ctx.client("wafv2", r.region).put_logging_configuration(LoggingConfiguration=config)
    return i["resourceArn"], {}
