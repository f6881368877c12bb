"""Policy room: scaling that can act. HPAs need a metrics API and requests; node groups that may
grow need a node autoscaler that owns their desired size.

- `stack-hpa-metrics`: an HPA scaling on CPU or memory utilization computes usage / request,
  so every container of its target must request that resource (the HPA controller reports
  "missing request for cpu" and does nothing otherwise), and the resource metrics API must
  exist: EKS does not install metrics-server, so a cluster the stack creates carries it (the
  `metrics-server` EKS add-on, or a metrics-server Deployment / metrics.k8s.io APIService).
- `stack-node-autoscaling`: an EKS node group whose max exceeds its min is only worth that max
  if something moves it: a Cluster Autoscaler that discovers this cluster's groups (or
  Karpenter) with AWS credentials through a pod identity association, and the node group
  ignores `scalingConfig.desiredSize` so an update never resets what the autoscaler chose.

Stacks deployed onto an existing cluster (no `aws:eks/cluster:Cluster` of their own) leave the
metrics API and node scaling to that cluster's owners: not judged.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from policy.core import Ctx, Finding, Resource, StackView, get, is_unknown, items, number, stack_rule
from policy.rules.kubernetes import DEPLOYMENT, HPAS, hpa_targets, pod_spec

CLUSTER = "aws:eks/cluster:Cluster"
ADDON = "aws:eks/addon:Addon"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
POD_IDENTITY = "aws:eks/podIdentityAssociation:PodIdentityAssociation"
API_SERVICE = "kubernetes:apiregistration.k8s.io/v1:APIService"
METRICS_API = "v1beta1.metrics.k8s.io"
DESIRED_SIZE_PATHS = {"scalingconfig", "scalingconfig.desiredsize", "scalingconfig.*"}


def _images(dep: Resource) -> list[str]:
    return [c.get("image") for c in items(get(pod_spec(dep.props), "containers"))
            if isinstance(c, Mapping) and isinstance(c.get("image"), str)]


def _name_of(r: Resource) -> Any:
    return r.prop("metadata", "name")


def metrics_sources(stack: StackView) -> list[Resource]:
    """What serves metrics.k8s.io: the EKS add-on, a metrics-server Deployment, or the APIService."""
    out = [a for a in stack.of_type(ADDON) if a.prop("addonName") in ("metrics-server",) or
           is_unknown(a.prop("addonName"))]
    out += [d for d in stack.of_type(DEPLOYMENT) if any("metrics-server" in i for i in _images(d))]
    out += [s for s in stack.of_type(API_SERVICE) if _name_of(s) in (METRICS_API,) or is_unknown(_name_of(s))]
    return out


def _utilization_metrics(hpa: Resource) -> list[tuple[str, str | None]]:
    """(resource, container or None) of each Utilization target: those divide by the request."""
    out = []
    for m in items(hpa.prop("spec", "metrics")):
        kind = get(m, "type")
        key = {"Resource": "resource", "ContainerResource": "containerResource"}.get(kind) if isinstance(
            kind, str) else None
        if key is None:
            continue
        spec = get(m, key)
        if get(spec, "target", "type") != "Utilization" or not isinstance(get(spec, "name"), str):
            continue
        out.append((get(spec, "name"), get(spec, "container") if key == "containerResource" else None))
    return out


def _missing_requests(dep: Resource, resource: str, container: str | None) -> list[str]:
    spec = pod_spec(dep.props)
    if is_unknown(spec):
        return []
    missing = []
    for c in items(get(spec, "containers")):
        if not isinstance(c, Mapping) or (container is not None and c.get("name") != container):
            continue
        req = get(c, "resources", "requests", resource)
        if req in (None, "") and not is_unknown(get(c, "resources")):
            missing.append(str(c.get("name")))
    return missing


@stack_rule(
    "stack-hpa-metrics",
    types=[*HPAS, DEPLOYMENT, ADDON, CLUSTER, API_SERVICE],
    description="Every HPA can act: the cluster serves the resource metrics API (metrics-server) and every "
    "container of the scaled Deployment requests the resources it scales on by utilization.",
    severity="high",
    remediation="Install metrics-server (the `metrics-server` EKS add-on, ordered after the node group) and set "
    "resources.requests.cpu/memory on every container of the HPA's target.",
)
def hpa_metrics(stack: StackView, ctx: Ctx) -> list[Finding]:
    out: list[Finding] = []
    hpas = stack.of_type(*HPAS)
    deployments = stack.of_type(DEPLOYMENT)
    for hpa in hpas:
        for dep in deployments:
            if not hpa_targets(hpa, dep):
                continue
            gaps = [f"{resource} utilization but container(s) {', '.join(missing)} request no {resource}"
                    for resource, container in _utilization_metrics(hpa)
                    if (missing := _missing_requests(dep, resource, container))]
            if gaps:
                out.append((hpa.urn, f"HPA {hpa.name} scales {dep.name} on " + "; on ".join(gaps)))
    clusters = stack.of_type(CLUSTER)
    if hpas and clusters and not metrics_sources(stack):
        names = ", ".join(sorted(h.name for h in hpas))
        out.append((clusters[0].urn, f"cluster {clusters[0].name} serves no resource metrics API (no metrics-server "
                                     f"add-on, Deployment or APIService): HPAs {names} stay at their minimum"))
    return out


# ---- node autoscaling --------------------------------------------------------------------------
def _args(dep: Resource) -> list[str]:
    out: list[str] = []
    for c in items(get(pod_spec(dep.props), "containers")):
        for key in ("command", "args"):
            out += [a for a in items(get(c, key)) if isinstance(a, str)]
    return out


def autoscales(dep: Resource, cluster_name: Any) -> bool | None:
    """Whether a Deployment is a node autoscaler for the cluster (None: cannot tell yet)."""
    images = _images(dep)
    if any("karpenter" in i for i in images):
        return True
    if not any("cluster-autoscaler" in i for i in images):
        return False
    args = _args(dep)
    if is_unknown(get(pod_spec(dep.props), "containers")) or is_unknown(cluster_name):
        return None
    if not isinstance(cluster_name, str):
        return None
    for a in args:
        if a.startswith("--node-group-auto-discovery=") and f"k8s.io/cluster-autoscaler/{cluster_name}" in a:
            return True
        if a.startswith("--nodes="):
            return True
    # An argument list still being computed (a preview) names nothing yet.
    return None if not args else False


def _has_identity(stack: StackView, dep: Resource) -> bool | None:
    ns = dep.prop("metadata", "namespace") or "default"
    sa = get(pod_spec(dep.props), "serviceAccountName")
    if is_unknown(ns) or is_unknown(sa):
        return None
    verdicts = []
    for a in stack.of_type(POD_IDENTITY):
        a_ns, a_sa = a.prop("namespace"), a.prop("serviceAccount")
        if is_unknown(a_ns) or is_unknown(a_sa):
            verdicts.append(None)
        elif a_ns == ns and a_sa == sa:
            return True
    return None if None in verdicts else False


def ignores_desired_size(ng: Resource) -> bool:
    return any(p.replace("_", "").lower() in DESIRED_SIZE_PATHS for p in ng.ignore_changes)


@stack_rule(
    "stack-node-autoscaling",
    types=[NODE_GROUP, DEPLOYMENT, POD_IDENTITY],
    description="Every EKS node group that may grow (maxSize > minSize) is moved by a node autoscaler with AWS "
    "credentials (Cluster Autoscaler discovering the cluster, or Karpenter, with a pod identity association) and "
    "ignores scalingConfig.desiredSize so an update never undoes a scale-out.",
    severity="high",
    remediation="Deploy the Cluster Autoscaler (components/autoscaler.py) with its pod identity association and set "
    "ignore_changes=['scalingConfig.desiredSize'] on the node group; or make maxSize equal minSize.",
)
def node_autoscaling(stack: StackView, ctx: Ctx) -> list[Finding]:
    out: list[Finding] = []
    deployments = stack.of_type(DEPLOYMENT)
    for ng in stack.of_type(NODE_GROUP):
        lo, hi = number(ng.prop("scalingConfig", "minSize")), number(ng.prop("scalingConfig", "maxSize"))
        if lo is None or hi is None or hi <= lo:
            continue
        cluster = ng.prop("clusterName")
        problems = []
        scalers = [(d, autoscales(d, cluster)) for d in deployments]
        found = [d for d, v in scalers if v]
        if not found and not any(v is None for _, v in scalers):
            problems.append("no node autoscaler (Cluster Autoscaler discovering this cluster, or Karpenter) is "
                            "deployed")
        elif found and all(_has_identity(stack, d) is False for d in found):
            problems.append(f"its autoscaler {found[0].name} has no pod identity association (no AWS credentials "
                            "to resize the group)")
        if not ignores_desired_size(ng):
            problems.append("it does not ignore scalingConfig.desiredSize (every update resets the autoscaler's "
                            "choice)")
        if problems:
            out.append((ng.urn, f"node group {ng.name} may grow from {int(lo)} to {int(hi)} nodes but "
                                + "; ".join(problems)))
    return out
