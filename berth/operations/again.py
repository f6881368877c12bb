"""Operations room: the offline second `up` (`berth preview STACK --again [--set KEY=VALUE]`).

Deploys the stack into a fresh embedded cloud, refreshes every resource from that cloud as
`pulumi refresh` reads AWS (embedded_cloud/refresh.py), runs the program again -- unchanged, or
with the config edited by `--set` -- against the refreshed state, and diffs the two the way the
provider would (embedded_cloud/plan.py): each change an update in place or a replacement, with the
property and the reason. An unchanged program must plan nothing: anything it plans is a perpetual
diff that every real `up` would apply again.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from berth.operations.errors import OpsError
from berth.operations.stackfile import StackFile
from embedded_cloud import EmbeddedCloud, Graph, ProgramError, run_isolated
from embedded_cloud.plan import Step, plan
from embedded_cloud.refresh import refresh
from embedded_cloud.runner import apply_overrides, read_kept, write_kept
from stacks.config import ConfigError, settings_from_config_map

# What a replacement destroys that no `up` can bring back: the data, or everything built on it.
STATEFUL = frozenset({
    "aws:rds/instance:Instance",
    "aws:elasticache/replicationGroup:ReplicationGroup",
    "aws:s3/bucket:Bucket",
    "aws:s3/bucketV2:BucketV2",
    "aws:backup/vault:Vault",
    "aws:kms/key:Key",
    "aws:eks/cluster:Cluster",
})


@dataclass
class Again:
    """The second `up` of one stack, planned offline."""

    stack: str
    sets: dict[str, Any]
    steps: list[Step] = field(default_factory=list)
    resources: int = 0
    refused: list[Step] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.steps)

    def to_dict(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "set": self.sets,
            "resources": self.resources,
            "changes": [
                {"urn": s.urn, "type": s.type, "name": s.name, "op": s.op,
                 "stateful": s.type in STATEFUL,
                 "refused": s in self.refused,
                 "properties": [{"property": c.prop, "old": c.old, "new": c.new, "replace": c.replace,
                                 "why": c.why} for c in s.changes]}
                for s in self.steps
            ],
        }


def intended_replacements(config: Mapping[str, Any]) -> set[str]:
    """`berth:intendedReplacements`: the resource names (or URNs) whose replacement this change means."""
    value = config.get("berth:intendedReplacements") or []
    return {str(v) for v in value} if isinstance(value, list) else set()


def refused_replacements(steps: list[Step], config: Mapping[str, Any]) -> list[Step]:
    """In prod, every replacement of a stateful resource the config does not name as intended."""
    if config.get("berth:environment") != "prod":
        return []
    intended = intended_replacements(config)
    return [s for s in steps if s.op == "replace" and s.type in STATEFUL
            and s.name not in intended and s.urn not in intended]


def _validated(stack: StackFile, sets: Mapping[str, Any]) -> dict[str, Any]:
    config = apply_overrides(stack.config, sets)
    try:
        settings_from_config_map(stack.name, config)
    except ConfigError as exc:
        raise OpsError(f"--set makes the config of '{stack.name}' invalid (nothing was run):\n{exc}") from None
    return config


def again(stack: StackFile, sets: Mapping[str, Any] | None = None, timeout: float = 300) -> Again:
    """Deploy STACK offline, refresh it, and plan the program again (with `sets` applied to its config)."""
    sets = dict(sets or {})
    stack.settings  # noqa: B018 -- the deployed config must itself be valid, before anything runs
    second_config = _validated(stack, sets)
    with EmbeddedCloud.serve() as cloud, tempfile.TemporaryDirectory(prefix="berth-again-") as tmp:
        first_kept, refreshed_kept, second_kept = (Path(tmp) / n for n in ("first", "refreshed", "second"))
        url = cloud.endpoint_url or ""
        try:
            first = run_isolated(stack.name, endpoint_url=url, config=stack.config, repo=stack.path.parent,
                                 timeout=timeout, keep=first_kept)
        except ProgramError as exc:
            raise OpsError(f"the first deploy of '{stack.name}' failed offline:\n{exc}") from None
        state, inputs = read_kept(first_kept)
        after = refresh(state, _by_urn(first, "region"), EmbeddedCloud(endpoint_url=url), _by_urn(first, "type"))
        write_kept(refreshed_kept, after, inputs)
        try:
            second = run_isolated(stack.name, endpoint_url=url, config=second_config, repo=stack.path.parent,
                                  timeout=timeout, keep=second_kept, prior=refreshed_kept)
        except ProgramError as exc:
            raise OpsError(f"the second run of '{stack.name}' failed offline:\n{exc}") from None
        _, planned = read_kept(second_kept)
    steps = plan(first, after, inputs, second, planned)
    return Again(stack.name, sets, steps, len(second.resources), refused_replacements(steps, second_config))


def _by_urn(graph: Graph, attr: str) -> dict[str, str]:
    return {n.urn: str(getattr(n, attr) or "") for n in graph.nodes}
