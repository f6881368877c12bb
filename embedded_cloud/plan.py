"""Embedded cloud room: what a second `pulumi up` would do -- the program's new inputs diffed against the
refreshed state the way the provider diffs them.

For each resource: a URN the state lacks is a create, a URN the program no longer registers a delete.
Otherwise each top-level property is compared: one the program sets against the state's value (JSON
strings compared as JSON, as the provider's policy-document suppressors do); one the program leaves
unset only when the provider does not fill it in itself (not Computed) and the state holds a value
(the drift of `storage_encrypted` on a replica that inherits its source's encryption). A changed
property forces a replacement when the provider's schema says so (ForceNew / RequiresReplace:
embedded_cloud/provider_rules.py), else it is an update in place. Kubernetes objects compare their
inputs (pulumi-kubernetes replaces only on fields this program never changes); random resources are
replaced by any input change, as pulumi_random does.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from embedded_cloud.graph import SECRET, Graph
from embedded_cloud.provider_rules import RULES

# What the Pulumi engine and the bridge add to every state, and no program sets.
_BOOKKEEPING = frozenset({"id", "urn", "arn", "tagsAll", "__meta"})


@dataclass(frozen=True)
class Change:
    prop: str
    old: Any
    new: Any
    replace: bool
    why: str = ""


@dataclass
class Step:
    urn: str
    type: str
    name: str
    op: str  # create | update | replace | delete | blocked (an update AWS refuses at apply)
    changes: list[Change] = field(default_factory=list)

    def line(self) -> str:
        props = ", ".join(f"{c.prop}{' (forces replacement)' if c.replace else ''}" for c in self.changes)
        return f"{self.op:8} {self.type} {self.name}" + (f": {props}" if props else "")


def _record_name(value: Any) -> Any:
    return value.rstrip(".").lower() if isinstance(value, str) else value


# The provider's StateFunc / DiffSuppressFunc: values it stores or compares normalised, so that the
# spellings differ without a diff (terraform-provider-aws internal/service/route53/record.go: `name`
# is stored lower-cased without the trailing dot).
NORMALISE: dict[tuple[str, str], Callable[[Any], Any]] = {
    ("aws:route53/record:Record", "name"): _record_name,
}


def _normal(type_: str, prop: str, value: Any) -> Any:
    fn = NORMALISE.get((type_, prop))
    return fn(value) if fn else value


def _unset(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {} or value is False


def _same(a: Any, b: Any) -> bool:
    if a == b:
        return True
    if isinstance(a, str) and isinstance(b, str):
        try:
            return bool(json.loads(a) == json.loads(b))
        except ValueError:
            return False
    if isinstance(a, int | float) and isinstance(b, int | float):
        return float(a) == float(b)
    return False


def _shown(value: Any, secret: bool) -> Any:
    return SECRET if secret else value


def _leaves(old: Any, new: Any, path: str, nested_subset: bool) -> list[tuple[str, Any, Any]]:
    """Where two values differ, as (path, old, new) at the deepest level that differs, so a long value
    shows the part that changed. With `nested_subset`, keys nested in an object the program does not
    set are the cloud's to fill in (a block's computed attributes) and never differ."""
    if _same(old, new):
        return []
    if isinstance(old, str) and isinstance(new, str):
        try:
            old, new = json.loads(old), json.loads(new)
        except ValueError:
            return [(path, old, new)]
    if isinstance(old, dict) and isinstance(new, dict):
        keys = sorted(set(new) if nested_subset else set(old) | set(new))
        out: list[tuple[str, Any, Any]] = []
        for k in keys:
            out += _leaves(old.get(k), new.get(k), f"{path}.{k}", nested_subset)
        return out
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        out = []
        for i, (a, b) in enumerate(zip(old, new, strict=True)):
            out += _leaves(a, b, f"{path}[{i}]", nested_subset)
        return out
    return [(path, old, new)]


def _aws_changes(type_: str, old: Mapping[str, Any], new: Mapping[str, Any],
                 secret_keys: Iterable[str]) -> list[Change]:
    rules = RULES.get(type_)
    secrets = set(secret_keys)
    changes: list[Change] = []
    for prop in sorted(set(new) - _BOOKKEEPING):
        if prop not in old and rules is not None and prop in rules.computed:
            continue
        replace = rules is not None and prop in rules.replace
        for path, a, b in _leaves(_normal(type_, prop, old.get(prop)), _normal(type_, prop, new[prop]), prop, True):
            changes.append(Change(path, _shown(a, prop in secrets), _shown(b, prop in secrets),
                                  replace, "the program sets a different value"))
    if rules is not None:
        for prop in sorted((rules.optional_not_computed | rules.replace) - rules.computed - set(new) - _BOOKKEEPING):
            if prop in old and not _unset(old[prop]):
                changes.append(Change(prop, _shown(old[prop], prop in secrets), None, prop in rules.replace,
                                      "the cloud reports a value the program leaves unset, and the provider "
                                      "does not fill this attribute in itself (not Computed)"))
    return changes


# Kubernetes fields whose change makes pulumi-kubernetes replace the object rather than patch it
# (pulumi/pulumi-kubernetes provider/pkg/provider/diff.go, `forceNew`, v4): any object's name or
# namespace; a ConfigMap's or Secret's data (immutable by default in v4); a Job's template; ...
K8S_REPLACE: dict[str, tuple[str, ...]] = {
    "*": ("metadata.name", "metadata.namespace"),
    "kubernetes:core/v1:ConfigMap": ("data", "binaryData"),
    "kubernetes:core/v1:Secret": ("type", "stringData", "data"),
    "kubernetes:core/v1:Service": ("spec.clusterIP", "spec.type"),
    "kubernetes:core/v1:PersistentVolumeClaim": ("spec",),
    "kubernetes:batch/v1:Job": ("spec.selector", "spec.template"),
    "kubernetes:apps/v1:Deployment": ("spec.selector",),
    "kubernetes:apps/v1:StatefulSet": ("spec.podManagementPolicy", "spec.revisionHistoryLimit", "spec.selector",
                                       "spec.serviceName", "spec.volumeClaimTemplates"),
    "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding": ("roleRef",),
    "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding": ("roleRef",),
    "kubernetes:storage.k8s.io/v1:StorageClass": ("parameters", "provisioner"),
}


def _k8s_replaces(type_: str, path: str) -> bool:
    return any(path == p or path.startswith(p + ".") or path.startswith(p + "[")
               for p in (*K8S_REPLACE["*"], *K8S_REPLACE.get(type_, ())))


def _input_changes(type_: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Change]:
    random = type_.startswith("random:")
    return [Change(path, a, b, random or _k8s_replaces(type_, path), "the program sets a different value")
            for p in sorted(set(old) | set(new)) for path, a, b in _leaves(old.get(p), new.get(p), p, False)]


def changes(type_: str, old_outputs: Mapping[str, Any], old_inputs: Mapping[str, Any],
            new_inputs: Mapping[str, Any], secret_keys: Iterable[str] = ()) -> list[Change]:
    """What the provider would plan for one resource the stack already has: AWS resources diff the new
    inputs against the refreshed state (as the bridge does); Kubernetes and random ones their inputs."""
    if type_.startswith("aws:"):
        return _aws_changes(type_, old_outputs, new_inputs, secret_keys)
    return _input_changes(type_, old_inputs, new_inputs)


# What AWS cannot move into another VPC in place, though the provider plans it as an update: EKS takes
# only subnets of the cluster's VPC (UpdateClusterConfig), a DB or cache subnet group only subnets of
# its VPC (ModifyDBSubnetGroup / ModifyCacheSubnetGroup: "subnets must be in the same VPC"), an
# instance or cache only security groups of its VPC. When the program replaces a VPC, the real
# preview shows each of these as an update, and the `up` fails at it after the new VPC exists: the
# plan marks them `blocked`.
VPC_BOUND = frozenset({
    "aws:eks/cluster:Cluster",
    "aws:rds/instance:Instance",
    "aws:rds/subnetGroup:SubnetGroup",
    "aws:elasticache/subnetGroup:SubnetGroup",
    "aws:elasticache/replicationGroup:ReplicationGroup",
})
VPC = "aws:ec2/vpc:Vpc"


def _vpc_moves(first: Graph, second: Graph, steps: list[Step]) -> None:
    replaced = {s.urn for s in steps if s.type == VPC and s.op == "replace"}
    if not replaced:
        return
    by_urn = {s.urn: s for s in steps}
    for node in second.by_type(*VPC_BOUND):
        # Its own VPC only: a cross-region replica waits for its source, not for the source's VPC.
        mine = {u for u in replaced & second.waits_for(node) if (v := second.get(u)) and v.region == node.region}
        step = by_urn.get(node.urn)
        if first.get(node.urn) is None or not mine or (step is not None and step.op == "replace"):
            continue
        if step is None:
            step = Step(node.urn, node.type, node.name, "blocked")
            steps.append(step)
        step.op = "blocked"
        step.changes.append(Change("vpc", "(the deployed VPC)", "(a new VPC)", False,
                                   "the provider plans an update AWS refuses: it cannot move into another VPC "
                                   "in place, so the `up` fails here (replace it deliberately, or keep the VPC)"))


def plan(first: Graph, refreshed: Mapping[str, tuple[str, dict[str, Any]]],
         first_inputs: Mapping[str, dict[str, Any]], second: Graph,
         planned: Mapping[str, dict[str, Any]]) -> list[Step]:
    """The steps of the second `up`: `first` and `first_inputs` are the deployed graph and the inputs it
    was deployed with, `refreshed` its state after a refresh; `second` and `planned` the graph and the
    inputs of the program run again. Only changes are listed."""
    steps: list[Step] = []
    before = {n.urn: n for n in first.nodes if n.custom}
    for node in second.nodes:
        if not node.custom:
            continue
        if node.urn not in before:
            steps.append(Step(node.urn, node.type, node.name, "create"))
            continue
        found = changes(node.type, refreshed.get(node.urn, ("", {}))[1], first_inputs.get(node.urn, {}),
                        planned.get(node.urn, {}), node.secret_keys)
        if found:
            op = "replace" if any(c.replace for c in found) else "update"
            steps.append(Step(node.urn, node.type, node.name, op, found))
    _vpc_moves(first, second, steps)
    now = {n.urn for n in second.nodes}
    steps += [Step(u, n.type, n.name, "delete") for u, n in before.items() if u not in now]
    return steps
