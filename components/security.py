"""Components room: the one shape every data tier's security group rule takes.

Data tiers (database, cache) admit their port only from named security groups (the
cluster's nodes), one `aws.vpc.SecurityGroupIngressRule` per source, never from a CIDR.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pulumi
import pulumi_aws as aws


def admit_from_groups(
    prefix: str,
    *,
    security_group_id: pulumi.Input[str],
    sources: Sequence[pulumi.Input[str]],
    port: int,
    what: str,
    named: Callable[[str], dict[str, str]],
    opts: pulumi.ResourceOptions,
    region_kw: dict[str, Any],
) -> list[aws.vpc.SecurityGroupIngressRule]:
    """One TCP ingress rule on `port` per source security group (`<prefix>-from-<i>`)."""
    return [
        aws.vpc.SecurityGroupIngressRule(
            f"{prefix}-from-{i}",
            security_group_id=security_group_id,
            referenced_security_group_id=source,
            ip_protocol="tcp",
            from_port=port,
            to_port=port,
            description=f"{what} from an allowed security group",
            tags=named(f"{prefix.rsplit('-', 1)[-1]}-from-{i}"),
            opts=opts,
            **region_kw,
        )
        for i, source in enumerate(sources)
    ]
