"""Embedded cloud room: IAM roles and policies in moto (global: no region)."""

from __future__ import annotations

import json
from typing import Any

from embedded_cloud.handlers import Ctx, Out, Res, resource, tag_list


def _doc(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


@resource("aws:iam/role:Role")
def role(ctx: Ctx, r: Res) -> Out:
    iam = ctx.client("iam", "us-east-1")
    name = r.physical_name(max_len=64)
    kw: dict[str, Any] = {
        "RoleName": name,
        "AssumeRolePolicyDocument": _doc(r.inputs["assumeRolePolicy"]),
        "Path": r.inputs.get("path") or "/",
        "MaxSessionDuration": int(r.inputs.get("maxSessionDuration") or 3600),
    }
    if r.inputs.get("description"):
        kw["Description"] = r.inputs["description"]
    if r.tags():
        kw["Tags"] = tag_list(r.tags())
    role = iam.create_role(**kw)["Role"]
    for arn in r.inputs.get("managedPolicyArns") or []:
        iam.attach_role_policy(RoleName=name, PolicyArn=arn)
    return name, {"arn": role["Arn"], "name": name, "uniqueId": role["RoleId"]}


@resource("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
def role_policy_attachment(ctx: Ctx, r: Res) -> Out:
    iam = ctx.client("iam", "us-east-1")
    iam.attach_role_policy(RoleName=r.inputs["role"], PolicyArn=r.inputs["policyArn"])
    return f"{r.inputs['role']}-{r.name}", {}


@resource("aws:iam/rolePolicy:RolePolicy")
def role_policy(ctx: Ctx, r: Res) -> Out:
    iam = ctx.client("iam", "us-east-1")
    name = r.physical_name(max_len=128)
    iam.put_role_policy(RoleName=r.inputs["role"], PolicyName=name, PolicyDocument=_doc(r.inputs["policy"]))
    return f"{r.inputs['role']}:{name}", {"name": name}


@resource("aws:iam/policy:Policy")
def policy(ctx: Ctx, r: Res) -> Out:
    iam = ctx.client("iam", "us-east-1")
    name = r.physical_name(max_len=128)
    kw: dict[str, Any] = {"PolicyName": name, "PolicyDocument": _doc(r.inputs["policy"]),
                          "Path": r.inputs.get("path") or "/"}
    if r.inputs.get("description"):
        kw["Description"] = r.inputs["description"]
    if r.tags():
        kw["Tags"] = tag_list(r.tags())
    p = iam.create_policy(**kw)["Policy"]
    return p["Arn"], {"arn": p["Arn"], "name": name, "policyId": p["PolicyId"]}
