"""Policy room: engine versions that float within their major (RDS instances, ElastiCache groups).

AWS retires minor versions: a create that names a retired minor is refused, and an instance
left on one is upgraded in its maintenance window whether the stack agrees or not. A stack that
pins the minor then reads the upgrade as a change to undo: the next update tries to go back
down, which AWS refuses. So stacks name the major (PostgreSQL "16"; Redis/Valkey need
"MAJOR.MINOR", their patches float) and leave automatic minor upgrades on.
"""

from __future__ import annotations

import re
from typing import Any

from policy.core import Ctx, is_unknown, resource_rule, truthy

DB_INSTANCE = "aws:rds/instance:Instance"
REPLICATION_GROUP = "aws:elasticache/replicationGroup:ReplicationGroup"


def _pinned(type_: str, engine: Any, version: Any) -> bool:
    if not isinstance(version, str) or is_unknown(version) or not version:
        return False
    parts = version.split(".")
    if type_ == REPLICATION_GROUP:
        # Redis 6+ and Valkey take MAJOR.MINOR and float the patch; older Redis needs all three.
        return len(parts) >= 3 and parts[0].isdigit() and int(parts[0]) >= 6
    if not isinstance(engine, str) or "postgres" in engine:
        return bool(re.fullmatch(r"\d+\.\d+", version))  # PostgreSQL's major is one number
    return len(parts) >= 3  # MySQL/MariaDB: the major is "8.0"


@resource_rule(
    "engine-minor-versions-float",
    types=[DB_INSTANCE, REPLICATION_GROUP],
    description="Database and cache engines name their major version and keep automatic minor upgrades on, so a "
    "retired minor never blocks a create and AWS's forced upgrades never read as a downgrade.",
    severity="medium",
    remediation="Set engine_version to the major (PostgreSQL \"16\"; Redis/Valkey \"7.1\") and "
    "auto_minor_version_upgrade=True.",
)
def minor_versions_float(props: dict[str, Any], ctx: Ctx) -> list[str]:
    out = []
    type_ = REPLICATION_GROUP if "replicationGroupId" in props or "numCacheClusters" in props else DB_INSTANCE
    version = props.get("engineVersion")
    if _pinned(type_, props.get("engine"), version):
        out.append(f"engineVersion {version!r} pins a minor version AWS will retire and upgrade past")
    # Unset means on: the provider's default for both resources.
    auto = props.get("autoMinorVersionUpgrade")
    if auto is not None and truthy(auto) is False:
        out.append("autoMinorVersionUpgrade is false: a forced minor upgrade then reads as a drift to undo")
    return out
