"""Bootstrap room: what each deploy role may do, derived from the resource types its stacks register.

Least privilege at the grain IAM and Pulumi meet: a Pulumi provider creates, reads, updates, tags
and deletes each resource through many calls of its service (the EKS cluster alone: eks:CreateCluster,
DescribeCluster, TagResource, UpdateClusterConfig, ...), and those call lists change with provider
versions. A per-action list would be stale at the next upgrade; AdministratorAccess lets a compromised
workflow do anything in the account. So each role gets the services -- and only the services -- that
the resource types of its stacks live in (this table), in the regions the stacks use (an
`aws:RequestedRegion` condition). The preview role gets only the read actions (Describe*, List*, Get*)
of the same services.

`stack_types.json` (beside this module) lists the custom resource types each platform stack registers,
recorded from its offline graph by `berth bootstrap types` after `berth preview STACK`; the tests
check it against the graphs of the current program and that every type is covered here, so a new
resource type cannot ship without its role being able to create it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

STACK_TYPES_FILE = Path(__file__).with_name("stack_types.json")

# pulumi-aws module (the token's `aws:<module>/...`) -> the IAM service prefixes its resources are made through.
BY_MODULE: dict[str, tuple[str, ...]] = {
    "acm": ("acm",),
    "backup": ("backup", "backup-storage"),  # a vault's storage is created through backup-storage:MountCapsule
    "cloudfront": ("cloudfront",),
    "cloudwatch": ("cloudwatch",),
    "ec2": ("ec2",),
    "ecr": ("ecr",),
    "eks": ("eks",),
    "elasticache": ("elasticache",),
    "iam": ("iam",),
    "kms": ("kms",),
    "rds": ("rds",),
    "route53": ("route53",),
    "s3": ("s3",),
    "sns": ("sns",),
    "synthetics": ("synthetics", "lambda"),  # a canary is a Lambda function CloudWatch Synthetics creates
    "vpc": ("ec2",),
    "wafv2": ("wafv2",),
}
# Types whose module spans several services: the service each one is really made through.
BY_TYPE: dict[str, tuple[str, ...]] = {
    "aws:cloudwatch/logGroup:LogGroup": ("logs",),
    "aws:cloudwatch/logResourcePolicy:LogResourcePolicy": ("logs",),
    "aws:cloudwatch/eventRule:EventRule": ("events",),
    "aws:cloudwatch/eventTarget:EventTarget": ("events",),
    # WAF's logging writes to CloudWatch Logs: the provider's call makes a log delivery.
    "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration": ("wafv2", "logs"),
}
# Non-AWS packages: what they need of AWS. Kubernetes objects reach the cluster with a token the
# provider gets through eks:DescribeCluster (endpoint, CA) and the role's EKS access entry.
BY_PACKAGE: dict[str, tuple[str, ...]] = {
    "kubernetes": ("eks:DescribeCluster",),
    "random": (),
    "pulumi": (),
}
READ_VERBS = ("Describe", "List", "Get")
# What a kind's jobs ask besides deploying its stacks: the nightly sweep finds expired review
# environments through the Resource Groups Tagging API (berth/operations/envs.py `expired`).
KIND_ACTIONS: dict[str, tuple[str, ...]] = {"review": ("tag:GetResources",)}
# What `berth up` asks before it deploys (berth/operations/quotas.py, deploy.py): the account's quotas
# and usage, the load balancers and distributions it counts, the service log groups it adopts.
PREFLIGHT_ACTIONS = (
    "servicequotas:GetServiceQuota",
    "servicequotas:GetAWSDefaultServiceQuota",
    "elasticloadbalancing:DescribeLoadBalancers",
    "cloudfront:ListDistributions",
    "logs:DescribeLogGroups",
)


def services_for(type_: str) -> tuple[str, ...]:
    """The IAM service prefixes (or single actions, for non-AWS packages) a resource type needs.

    Raises KeyError naming the type and this table when it has no row."""
    if type_ in BY_TYPE:
        return BY_TYPE[type_]
    pkg, _, rest = type_.partition(":")
    if pkg == "aws":
        module = rest.split("/", 1)[0]
        if module in BY_MODULE:
            return BY_MODULE[module]
    elif pkg in BY_PACKAGE:
        return BY_PACKAGE[pkg]
    raise KeyError(
        f"no IAM services are known for {type_}: add a row to BY_MODULE or BY_TYPE in bootstrap/permissions.py"
    )


def uncovered(types: Iterable[str]) -> list[str]:
    """The types the table has no row for."""
    out = []
    for t in types:
        try:
            services_for(t)
        except KeyError:
            out.append(t)
    return sorted(set(out))


def deploy_actions(types: Iterable[str]) -> list[str]:
    """The actions a role deploying these resource types is allowed: `service:*` per service used."""
    out: set[str] = set(PREFLIGHT_ACTIONS)
    for t in types:
        for s in services_for(t):
            out.add(s if ":" in s else f"{s}:*")
    # A single action its service's wildcard already grants is noise in the policy (and its size limit).
    return sorted(a for a in out if a.endswith(":*") or f"{a.split(':')[0]}:*" not in out)


def read_actions(types: Iterable[str]) -> list[str]:
    """The read-only counterpart (a preview reads every resource, changes none)."""
    out: set[str] = set()
    for action in deploy_actions(types):
        service, _, verb = action.partition(":")
        if verb == "*":
            out.update(f"{service}:{v}*" for v in READ_VERBS)
        elif verb.startswith(READ_VERBS) and action not in PREFLIGHT_ACTIONS:  # a preview deploys nothing
            out.add(action)
    return sorted(out)


def stack_types() -> dict[str, list[str]]:
    """The recorded custom resource types of each platform stack (stack_types.json)."""
    return json.loads(STACK_TYPES_FILE.read_text())


def types_of(stacks: Iterable[str]) -> list[str]:
    known = stack_types()
    out: set[str] = set()
    for s in stacks:
        out.update(known[s])
    return sorted(out)
