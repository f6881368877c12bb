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
