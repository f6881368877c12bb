"""Embedded cloud room: IAM roles and policies in moto (global: no region).

AWS-managed policies (AmazonEKSClusterPolicy, ...) exist in every real account. moto can load all
~1,600 of them when its IAM backend starts (MOTO_IAM_LOAD_MANAGED_POLICIES), which cost about a
second of every offline run (a 4.7 MB JSON document parsed, an object per policy). `teach_moto()`
loads instead each AWS-managed policy the first time a call names its ARN, from the same data:
every operation taking a `policy_arn` finds it as it would, and only `ListPolicies(Scope=AWS)`
lists just the ones used so far (nothing here lists them).

Lazy moto imports here: see embedded_cloud/__init__.py.
"""

from __future__ import annotations

import functools
import inspect
import json
import re
from typing import Any

from embedded_cloud.handlers import Ctx, Out, Res, resource, tag_list

_AWS_POLICY_ARN = re.compile(r"^arn:(aws[\w-]*):iam::aws:policy(/.*/|/)([\w+=,.@-]+)$")


@functools.cache
def _managed_policy_offsets() -> dict[str, int]:
    """Where each policy's object starts in moto's data (its top-level keys), found once per process."""
    from moto.iam.aws_managed_policies import aws_managed_policies_data as data

    return {m.group(1): m.end() - 1 for m in re.finditer(r'\n "([^"]+)":\{', data)}


def teach_moto() -> None:
    """Load an AWS-managed policy into moto's IAM backend when a call first names it (idempotent)."""
    from moto.iam.aws_managed_policies import aws_managed_policies_data as data
    from moto.iam.models import AWSManagedPolicy, IAMBackend

    if getattr(IAMBackend, "_berth_lazy_policies", False):
        return
    decoder = json.JSONDecoder()

    def ensure(backend: Any, arn: Any) -> None:
        m = _AWS_POLICY_ARN.match(arn) if isinstance(arn, str) else None
        if m is None or arn in backend.managed_policies:
            return
        at = _managed_policy_offsets().get(m.group(3))
        if at is None:
            return  # not an AWS-managed policy: moto refuses it as AWS would
        body, _ = decoder.raw_decode(data, at)
        policy = AWSManagedPolicy.from_data(m.group(3), backend.account_id, backend.region_name, body)
        if policy.arn == arn:
            backend.managed_policies[arn] = policy

    def wrap(method: Any) -> Any:
        @functools.wraps(method)
        def call(self: Any, *args: Any, **kwargs: Any) -> Any:
            bound = inspect.signature(method).bind(self, *args, **kwargs)
            ensure(self, bound.arguments.get("policy_arn"))
            return method(self, *args, **kwargs)

        return call

    for name, method in list(vars(IAMBackend).items()):
        if callable(method) and "policy_arn" in inspect.signature(method).parameters:
            setattr(IAMBackend, name, wrap(method))
    IAMBackend._berth_lazy_policies = True  # type: ignore[attr-defined]


teach_moto()


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


@resource("aws:iam/openIdConnectProvider:OpenIdConnectProvider")
def oidc_provider(ctx: Ctx, r: Res) -> Out:
    """An IAM OIDC identity provider. moto refuses a second provider for the same URL, as IAM does
    (EntityAlreadyExists): one per issuer per account, which is why the bootstrap is per account."""
    iam = ctx.client("iam", "us-east-1")
    url = r.inputs["url"]
    if not str(url).startswith("https://"):
        raise ValueError(f"ValidationError: the provider URL must begin with https:// (got {url!r})")
    kw: dict[str, Any] = {"Url": url, "ClientIDList": list(r.inputs.get("clientIdLists") or [])}
    # Since 2024 IAM secures GitHub's (and other well-known) issuers by its own trusted CAs: the provider
    # computes the thumbprint when none is given.
    thumbprints = list(r.inputs.get("thumbprintLists") or ["0" * 40])
    kw["ThumbprintList"] = thumbprints
    if r.tags():
        kw["Tags"] = tag_list(r.tags())
    arn = iam.create_open_id_connect_provider(**kw)["OpenIDConnectProviderArn"]
    return arn, {"arn": arn, "thumbprintLists": thumbprints}
