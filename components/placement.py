"""Components room: where a component's resources go -- account, partition, region.

Every component builds in the provider's region unless told otherwise; one that may live in
another region (the recovery VPC, a cross-region standby) takes `region: str | None` and passes
it as pulumi-aws v7's per-resource `region=` argument, never through a second provider. The
argument is given only when a region is named, so a component in the provider's region declares
exactly what it always did.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws


def region_kw(region: str | None) -> dict[str, str]:
    """The per-resource region argument: `{"region": region}`, or nothing for the provider's region."""
    return {"region": region} if region else {}


@dataclass(frozen=True)
class Placement:
    account: str
    partition: str
    # The region the component builds in (the provider's when none was named).
    region: str
    # `region_kw(the named region)`: splat into every regional resource.
    kw: dict[str, str]


def locate(parent: pulumi.Resource, region: str | None = None) -> Placement:
    """The account, partition and region `parent` builds in (data-source lookups, parented to it)."""
    opts = pulumi.InvokeOptions(parent=parent)
    identity = aws.get_caller_identity(opts=opts)
    partition = aws.get_partition(opts=opts).partition
    return Placement(
        account=identity.account_id,
        partition=partition,
        region=region or aws.get_region(opts=opts).region,
        kw=region_kw(region),
    )
