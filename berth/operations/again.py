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
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from berth.operations.errors import OpsError
from berth.operations.stackfile import REPO, StackFile
from embedded_cloud import EmbeddedCloud, Graph, ProgramError, run_isolated
from embedded_cloud.plan import Step, plan
from embedded_cloud.refresh import refresh
from embedded_cloud.runner import apply_overrides, read_kept, write_kept
from stacks.config import ConfigError, Settings, settings_from_config_map

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
# Replaced in prod only as a planned operation, never as a side effect: what a database or cache is
# placed in or configured by (a new subnet group re-places it, a parameter group of another family is
# a major-version upgrade with its own runbook), beside the stateful resources themselves.
REFUSED_IN_PROD = STATEFUL | {
    "aws:rds/subnetGroup:SubnetGroup",
    "aws:rds/parameterGroup:ParameterGroup",
    "aws:elasticache/subnetGroup:SubnetGroup",
    "aws:elasticache/parameterGroup:ParameterGroup",
}


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

    @property
    def blocked(self) -> list[Step]:
        """Updates the provider would plan and AWS refuse at apply: the `up` would fail."""
        return [s for s in self.steps if s.op == "blocked"]

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


def refused_replacements(steps: list[Step], settings: Settings) -> list[Step]:
    """In prod, every replacement of a stateful resource that `berth:intendedReplacements` does not name."""
    if settings.environment != "prod":
        return []
    intended = set(settings.intended_replacements)
    return [s for s in steps if s.op in ("replace", "blocked") and s.type in REFUSED_IN_PROD
            and s.name not in intended and s.urn not in intended]


def _validated(stack: StackFile, sets: Mapping[str, Any]) -> tuple[dict[str, Any], Settings]:
    config = apply_overrides(stack.config, sets)
    try:
        return config, settings_from_config_map(stack.name, config)
    except ConfigError as exc:
        raise OpsError(f"--set makes the config of '{stack.name}' invalid (nothing was run):\n{exc}") from None


@dataclass
class Deployed:
    """A stack deployed into a served embedded cloud and refreshed: plans of its next `up` run against it."""

    stack: StackFile
    endpoint_url: str
    first: Graph
    refreshed: dict[str, tuple[str, dict[str, Any]]]
    inputs: dict[str, dict[str, Any]]
    workdir: Path
    timeout: float
    _plans: int = 0

    def plan(self, sets: Mapping[str, Any] | None = None) -> Again:
        """The next `up` with `sets` applied to the config (none: the program unchanged)."""
        sets = dict(sets or {})
        config, settings = _validated(self.stack, sets)
        self._plans += 1
        prior, planned_at = self.workdir / "refreshed", self.workdir / f"plan-{self._plans}"
        if not prior.exists():
            write_kept(prior, self.refreshed, self.inputs)
        try:
            second = run_isolated(self.stack.name, endpoint_url=self.endpoint_url, config=config,
                                  repo=REPO, timeout=self.timeout, keep=planned_at, prior=prior)
        except ProgramError as exc:
            raise OpsError(f"the second run of '{self.stack.name}' failed offline:\n{exc}") from None
        _, planned = read_kept(planned_at)
        steps = plan(self.first, self.refreshed, self.inputs, second, planned)
        return Again(self.stack.name, sets, steps, len(second.resources), refused_replacements(steps, settings))


@contextmanager
def deployed(stack: StackFile, timeout: float = 300) -> Iterator[Deployed]:
    """Deploy STACK into a fresh served embedded cloud and refresh it, as a real stack stands before its
    next `up`; the cloud lives as long as the context."""
    stack.settings  # noqa: B018 -- the deployed config must itself be valid, before anything runs
    with EmbeddedCloud.serve() as cloud, tempfile.TemporaryDirectory(prefix="berth-again-") as tmp:
        url, kept = cloud.endpoint_url or "", Path(tmp) / "first"
        try:
            first = run_isolated(stack.name, endpoint_url=url, config=stack.config, repo=REPO,
                                 timeout=timeout, keep=kept)
        except ProgramError as exc:
            raise OpsError(f"the first deploy of '{stack.name}' failed offline:\n{exc}") from None
        state, inputs = read_kept(kept)
        after = refresh(state, _by_urn(first, "region"), EmbeddedCloud(endpoint_url=url), _by_urn(first, "type"))
        yield Deployed(stack, url, first, after, inputs, Path(tmp), timeout)


def again(stack: StackFile, sets: Mapping[str, Any] | None = None, timeout: float = 300) -> Again:
    """Deploy STACK offline, refresh it, and plan the program again (with `sets` applied to its config)."""
    _validated(stack, dict(sets or {}))  # a bad --set fails before anything runs
    with deployed(stack, timeout) as d:
        return d.plan(sets)


def _by_urn(graph: Graph, attr: str) -> dict[str, str]:
    return {n.urn: str(getattr(n, attr) or "") for n in graph.nodes}
