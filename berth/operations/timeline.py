"""Operations room: how long a first `pulumi up` of a stack takes, and what it waits on.

The engine creates a resource once everything it depends on exists, in parallel otherwise, so
a first deploy is a schedule over the graph: each resource starts when the last of its
dependencies (explicit and through its inputs) is done, and takes the typical creation time of
its type. `schedule()` computes that schedule from an offline graph, `gantt()` draws it as a
Mermaid gantt (`build/STACK/timeline.mmd`), with two paths marked:

- the critical path (`crit`): the longest chain, which sets when the whole `up` ends;
- the path to serving (`active`): the longest chain into the app's Deployment, which sets
  when the Shipments API first answers.

The typical times below are what AWS documents and what these resources usually take on a
fresh account, empty databases included; the providers' default create timeouts are the
upper bounds. They are estimates: the point is the order of magnitude and the shape of
the wait, not the minute.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from embedded_cloud.graph import Graph, Node

# type token -> (typical seconds, source). Types not listed: AWS API objects (~3 s),
# Kubernetes objects (~2 s), providers, components and random values (0 s).
TYPICAL: dict[str, tuple[int, str]] = {
    "aws:rds/instance:Instance": (
        900, "AWS RDS user guide: a new instance takes several minutes to become available (Multi-AZ ~15 min "
        "empty); terraform-provider-aws waits up to 40 min (create timeout)"),
    "aws:rds/instance:Instance#replica": (
        720, "AWS RDS user guide, read replicas: created from a snapshot of the source (~10-15 min empty)"),
    "aws:rds/instance:Instance#cross-region": (
        1200, "AWS RDS user guide, cross-region replicas: snapshot copied across regions first (~20 min empty)"),
    "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication": (
        300, "AWS RDS user guide, cross-region automated backups: replication starts once the first copy exists"),
    "aws:eks/cluster:Cluster": (
        600, "Amazon EKS user guide: cluster provisioning takes ~10 min; provider create timeout 30 min"),
    "aws:eks/nodeGroup:NodeGroup": (
        240, "Amazon EKS managed node groups: instances launch and join (~3-5 min); provider timeout 60 min"),
    "aws:eks/addon:Addon": (90, "Amazon EKS add-ons: ~1-2 min until ACTIVE; provider timeout 20 min"),
    "aws:eks/podIdentityAssociation:PodIdentityAssociation": (5, "a single API call: the provider returns as soon as it is created"),
    "aws:elasticache/replicationGroup:ReplicationGroup": (
        780, "ElastiCache user guide: a replication group is available after ~10-15 min; provider timeout 60 min"),
    "aws:cloudfront/distribution:Distribution": (
        300, "CloudFront developer guide: a distribution deploys to all edge locations in ~5 min "
        "(the provider waits for Deployed)"),
    "aws:ec2/natGateway:NatGateway": (120, "Amazon VPC user guide: a NAT gateway is available after ~1-2 min"),
    "aws:ec2/vpcEndpoint:VpcEndpoint": (60, "Amazon VPC: a gateway endpoint is available within a minute"),
    "aws:acm/certificateValidation:CertificateValidation": (
        180, "ACM user guide: DNS validation completes within minutes of the CNAME resolving"),
    "aws:synthetics/canary:Canary": (60, "CloudWatch Synthetics: the canary reaches READY/RUNNING in ~1 min"),
    "aws:backup/vaultLockConfiguration:VaultLockConfiguration": (5, "a single API call: the provider returns as soon as it is created"),
    "kubernetes:apps/v1:Deployment": (
        90, "pulumi-kubernetes awaits the rollout: image pull and readiness of every replica (~1-2 min)"),
    "kubernetes:batch/v1:Job": (60, "pulumi-kubernetes awaits completion: image pull and the migrations"),
    "kubernetes:core/v1:Service#LoadBalancer": (
        180, "pulumi-kubernetes awaits the load balancer's hostname: an NLB is provisioned in ~2-3 min"),
}
AWS_DEFAULT = 3
K8S_DEFAULT = 2
MIN_DRAWN_SECONDS = 30


def typical_seconds(node: Node) -> int:
    """The typical creation time of one resource."""
    t = node.type
    if not node.custom or t.startswith("pulumi:") or t.startswith("random:") or t.startswith("berth:"):
        return 0
    if t == "aws:rds/instance:Instance":
        src = node.inputs.get("replicateSourceDb")
        if isinstance(src, str) and src:
            return TYPICAL[f"{t}#cross-region" if src.startswith("arn:") else f"{t}#replica"][0]
    if t == "kubernetes:core/v1:Service" and (node.inputs.get("spec") or {}).get("type") == "LoadBalancer":
        return TYPICAL[f"{t}#LoadBalancer"][0]
    if t in TYPICAL:
        return TYPICAL[t][0]
    return AWS_DEFAULT if t.startswith("aws:") else K8S_DEFAULT if t.startswith("kubernetes:") else 0


@dataclass
class Slot:
    node: Node
    start: int
    end: int
    after: str | None  # the dependency that finished last (what this one waited for)


@dataclass
class Timeline:
    stack: str
    slots: dict[str, Slot]
    critical: list[str] = field(default_factory=list)
    serving: list[str] = field(default_factory=list)

    @property
    def total_seconds(self) -> int:
        return max((s.end for s in self.slots.values()), default=0)

    @property
    def serving_seconds(self) -> int | None:
        return self.slots[self.serving[-1]].end if self.serving else None

    def names(self, path: Iterable[str]) -> list[str]:
        return [self.slots[u].node.name for u in path]


def _deps(graph: Graph, node: Node, by_urn: dict[str, Node], providers: dict[str, str]) -> set[str]:
    """The custom resources a node waits for: its dependencies, the inputs it was computed from and
    its provider (a Kubernetes object waits for the cluster, its nodes and add-ons through it);
    components are expanded to their custom descendants."""
    out: set[str] = set()
    provider = [providers[node.provider]] if node.provider in providers else []
    for urn in [*node.dependencies, *(u for us in node.property_dependencies.values() for u in us), *provider]:
        dep = by_urn.get(urn)
        if dep is None:
            continue
        if dep.custom:
            out.add(urn)
        else:
            out |= {n.urn for n in graph.nodes if n.custom and urn in _ancestor_urns(n, by_urn)}
    out.discard(node.urn)
    return out


def _ancestor_urns(node: Node, by_urn: dict[str, Node]) -> set[str]:
    seen: set[str] = set()
    cur = node.parent
    while cur and cur not in seen:
        seen.add(cur)
        parent = by_urn.get(cur)
        cur = parent.parent if parent else None
    return seen


def _path_to(slots: dict[str, Slot], urn: str) -> list[str]:
    path = [urn]
    while (after := slots[path[-1]].after) is not None:
        path.append(after)
    return list(reversed(path))


def schedule(graph: Graph) -> Timeline:
    """Earliest start and end of every custom resource of a first deploy."""
    by_urn = {n.urn: n for n in graph.nodes}
    custom = [n for n in graph.nodes if n.custom]
    providers = {n.name: n.urn for n in custom if n.type.startswith("pulumi:providers:")}
    deps = {n.urn: _deps(graph, n, by_urn, providers) for n in custom}
    slots: dict[str, Slot] = {}
    pending = dict(deps)
    while pending:
        ready = [u for u, ds in pending.items() if all(d in slots for d in ds)]
        if not ready:  # a cycle cannot be deployed either; report it rather than loop
            raise ValueError(f"dependency cycle among {sorted(pending)[:5]}")
        for u in ready:
            ds = pending.pop(u)
            last = max(ds, key=lambda d: (slots[d].end, d), default=None)
            start = slots[last].end if last else 0
            slots[u] = Slot(by_urn[u], start, start + typical_seconds(by_urn[u]), last)
    t = Timeline(graph.stack, slots)
    if slots:
        t.critical = _path_to(slots, max(slots, key=lambda u: (slots[u].end, u)))
    apps = [u for u, s in slots.items() if s.node.type == "kubernetes:apps/v1:Deployment"
            and (c := graph.component_of(s.node)) is not None and c.type == "berth:app:App"]
    if apps:
        t.serving = _path_to(slots, max(apps, key=lambda u: slots[u].end))
    return t


def _clock(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds} s"
    return f"{seconds // 60} min {seconds % 60:02d} s" if seconds % 60 else f"{seconds // 60} min"


def _safe(text: str) -> str:
    return text.replace(":", " ").replace(";", " ").replace("#", " ")


def gantt(graph: Graph, timeline: Timeline | None = None) -> str:
    """A Mermaid gantt of the first deploy: sections per component, both paths marked."""
    t = timeline or schedule(graph)
    crit, serving = set(t.critical), set(t.serving)
    shown = [s for u, s in t.slots.items() if s.end > s.start and (s.end - s.start >= MIN_DRAWN_SECONDS
                                                                   or u in crit or u in serving)]
    sections: dict[str, list[Slot]] = {}
    for s in sorted(shown, key=lambda s: (s.start, s.node.name)):
        comp = graph.component_of(s.node)
        sections.setdefault(comp.name if comp else "stack", []).append(s)
    serving_txt = f"; serving after {_clock(t.serving_seconds)}" if t.serving_seconds is not None else ""
    lines = [
        "%% First `pulumi up` of this stack: each resource starts when its dependencies are done and takes",
        "%% its type's typical creation time (stacks/timeline.py TYPICAL, with sources). crit = critical path",
        "%% (sets the end of the up); active = the path to the app serving. Resources under "
        f"{MIN_DRAWN_SECONDS} s off both paths are left out.",
        "gantt",
        f"    title First up of {t.stack}: {_clock(t.total_seconds)}{serving_txt}",
        # Milliseconds since the start of the up (Mermaid reads X as milliseconds too, so be explicit).
        "    dateFormat x",
        "    axisFormat %H:%M",
    ]
    ids: dict[str, str] = {}
    for section, slots in sections.items():
        lines.append(f"    section {_safe(section)}")
        for s in slots:
            ids[s.node.urn] = f"r{len(ids) + 1}"
            tags = [tag for tag, on in (("crit", s.node.urn in crit), ("active", s.node.urn in serving)) if on]
            lines.append(f"    {_safe(s.node.name)} :{', '.join([*tags, ids[s.node.urn]])}, {s.start * 1000}, "
                         f"{s.end - s.start}s")
    return "\n".join(lines) + "\n"


def summary(graph: Graph, timeline: Timeline | None = None) -> str:
    """One paragraph for the terminal: the total, when the app serves, and the critical path."""
    t = timeline or schedule(graph)
    steps = [f"{t.slots[u].node.name} ({_clock(t.slots[u].end - t.slots[u].start)})" for u in t.critical
             if t.slots[u].end > t.slots[u].start]
    serving = f"; the app serves after {_clock(t.serving_seconds)}" if t.serving_seconds is not None else ""
    return f"first up ≈ {_clock(t.total_seconds)}{serving}. Critical path: " + " → ".join(steps)
