"""Components room: which availability zones a stack may use, chosen by zone ID.

AZ *names* (us-east-1a) are shuffled per account; AZ *IDs* (use1-az3) name the same physical
zone in every account. EKS refuses control-plane subnets in a few zone IDs
(UnsupportedAvailabilityZoneException on CreateCluster), so the network chooses its zones by
ID: the region's zones in name order, less the IDs below. In an account whose first three names
map to supported IDs (moto's default mapping, and most accounts) that is the first three names,
as before, so existing subnets keep their zones.
"""

from __future__ import annotations

from collections.abc import Sequence

# Zone IDs where EKS does not accept control-plane subnets. Source: Amazon EKS User Guide,
# "View Amazon EKS networking requirements for VPC and subnets" (VPC and subnet requirements),
# https://docs.aws.amazon.com/eks/latest/userguide/network-reqs.html -- as read on 2026-12-08.
# The one table: the network avoids these, the embedded cloud's EKS refuses them.
EKS_UNSUPPORTED_ZONE_IDS: frozenset[str] = frozenset({"use1-az3", "usw1-az2", "cac1-az3"})
EKS_ZONES_SOURCE = "https://docs.aws.amazon.com/eks/latest/userguide/network-reqs.html (2026-12-08)"


def choose_zones(names: Sequence[str], zone_ids: Sequence[str], count: int, region: str) -> list[str]:
    """The first `count` zone names (in name order) whose zone ID EKS accepts.

    Deterministic: the same account and region always give the same zones, so a second `up`
    plans no subnet change. Raises ValueError naming what was excluded when too few remain.
    """
    if len(names) != len(zone_ids):
        raise ValueError(f"{region}: {len(names)} zone names but {len(zone_ids)} zone IDs")
    pairs = sorted(zip(names, zone_ids, strict=True))
    usable = [name for name, zid in pairs if zid not in EKS_UNSUPPORTED_ZONE_IDS]
    if len(usable) < count:
        skipped = [f"{name} ({zid})" for name, zid in pairs if zid in EKS_UNSUPPORTED_ZONE_IDS]
        raise ValueError(
            f"{region} has {len(usable)} availability zones EKS accepts, {count} requested"
            + (f" ({', '.join(skipped)} excluded: EKS refuses control-plane subnets there, {EKS_ZONES_SOURCE})"
               if skipped else "")
        )
    return usable[:count]
