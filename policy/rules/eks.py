"""Policy room: EKS guardrails (aws:eks/cluster:Cluster)."""

from __future__ import annotations

from typing import Any

from policy.core import Ctx, any_unknown, get, has_value, is_unknown, items, resource_rule, truthy

CLUSTER = "aws:eks/cluster:Cluster"

# The control-plane logs terraform-aws-modules/eks enables by default.
REQUIRED_LOG_TYPES = ("api", "audit", "authenticator")
WORLD = ("0.0.0.0/0", "::/0")


@resource_rule(
    "eks-secrets-encryption",
    types=[CLUSTER],
    description="Kubernetes Secrets are envelope-encrypted with a customer KMS key.",
    severity="high",
    remediation="Set encryption_config with resources=['secrets'] and provider.key_arn (a rotating KMS key).",
)
def secrets_encryption(props: dict[str, Any], ctx: Ctx) -> list[str]:
    conf = props.get("encryptionConfig")
    if is_unknown(conf):
        return []
    resources = get(conf, "resources")
    key = get(conf, "provider", "keyArn")
    if any_unknown(resources):
        return []
    if "secrets" not in items(resources):
        return ["encryptionConfig does not cover 'secrets': Secrets sit in etcd under the AWS key only"]
    if not has_value(key):
        return ["encryptionConfig.provider.keyArn is not set"]
    return []


@resource_rule(
    "eks-audit-logs",
    types=[CLUSTER],
    description="The control plane ships api, audit and authenticator logs to CloudWatch.",
    severity="medium",
    remediation="Set enabled_cluster_log_types to include 'api', 'audit' and 'authenticator' "
    "(and create the /aws/eks/<name>/cluster log group with a retention first).",
)
def audit_logs(props: dict[str, Any], ctx: Ctx) -> list[str]:
    types = props.get("enabledClusterLogTypes")
    if any_unknown(types):
        return []
    enabled = {t for t in items(types) if isinstance(t, str)}
    missing = [t for t in REQUIRED_LOG_TYPES if t not in enabled]
    if missing:
        return [f"enabledClusterLogTypes lacks {', '.join(missing)}"]
    return []


@resource_rule(
    "eks-public-endpoint-restricted",
    types=[CLUSTER],
    description="The API endpoint is private, or public only to listed operator ranges (never 0.0.0.0/0).",
    severity="high",
    remediation="Set vpc_config.endpoint_private_access=True and either endpoint_public_access=False or "
    "public_access_cidrs to the operators' ranges (berth:cluster.publicAccessCidrs).",
)
def public_endpoint(props: dict[str, Any], ctx: Ctx) -> list[str]:
    vpc = props.get("vpcConfig")
    if is_unknown(vpc):
        return []
    public = get(vpc, "endpointPublicAccess")
    if is_unknown(public):
        return []
    # AWS defaults: public endpoint on, open to 0.0.0.0/0.
    if public is not None and truthy(public) is False:
        return []
    cidrs = get(vpc, "publicAccessCidrs")
    if any_unknown(cidrs):
        return []
    cidrs = items(cidrs)
    if not cidrs:
        return ["the public API endpoint is open to 0.0.0.0/0 (publicAccessCidrs unset)"]
    open_ = [c for c in cidrs if c in WORLD]
    if open_:
        return [f"the public API endpoint is open to {', '.join(open_)}"]
    return []
