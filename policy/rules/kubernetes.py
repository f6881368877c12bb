"""Policy room: Kubernetes workload guardrails (pulumi-kubernetes v4 wire shapes).

Workloads are Deployments, StatefulSets, DaemonSets, Jobs, CronJobs and bare Pods; their
pod spec sits at spec.template.spec (spec.jobTemplate.spec.template.spec for CronJobs,
spec for Pods). Every container, init containers included, is judged.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from policy.core import (
    Ctx,
    Finding,
    Resource,
    StackView,
    get,
    image_by_digest,
    is_unknown,
    items,
    number,
    resource_rule,
    stack_rule,
    truthy,
)

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
STATEFULSET = "kubernetes:apps/v1:StatefulSet"
DAEMONSET = "kubernetes:apps/v1:DaemonSet"
JOB = "kubernetes:batch/v1:Job"
CRONJOB = "kubernetes:batch/v1:CronJob"
POD = "kubernetes:core/v1:Pod"
PDB = "kubernetes:policy/v1:PodDisruptionBudget"
HPAS = (
    "kubernetes:autoscaling/v2:HorizontalPodAutoscaler",
    "kubernetes:autoscaling/v1:HorizontalPodAutoscaler",
)

LONG_RUNNING = (DEPLOYMENT, STATEFULSET, DAEMONSET)
WORKLOADS = (*LONG_RUNNING, JOB, CRONJOB, POD)


def pod_spec(props: dict[str, Any]) -> Any:
    """The pod spec of any workload, found by its shape (CronJob, then templated, then a bare Pod)."""
    spec = get(props, "spec")
    if is_unknown(spec) or not isinstance(spec, Mapping):
        return spec
    if "jobTemplate" in spec:
        return get(spec, "jobTemplate", "spec", "template", "spec")
    if "template" in spec:
        return get(spec, "template", "spec")
    return spec


def containers(spec: Any, init: bool = True) -> list[tuple[str, Any]]:
    """(label, container) pairs; labels read like `container app` / `initContainer migrate`."""
    out = []
    keys = ("containers", "initContainers") if init else ("containers",)
    for key in keys:
        for c in items(get(spec, key)):
            if is_unknown(c) or not isinstance(c, Mapping):
                continue
            name = get(c, "name")
            out.append((f"{key[:-1]} {name}", c))
    return out


@resource_rule(
    "k8s-probes",
    types=LONG_RUNNING,
    description="Every long-running container has a readiness and a liveness probe.",
    severity="medium",
    remediation="Add readinessProbe (traffic only when ready, e.g. /api/health/ready) and livenessProbe "
    "(restart when wedged, e.g. /api/health) to each container.",
)
def probes(props: dict[str, Any], ctx: Ctx) -> list[str]:
    spec = pod_spec(props)
    out = []
    for label, c in containers(spec, init=False):
        missing = [p for p in ("readinessProbe", "livenessProbe") if get(c, p) is None]
        if missing:
            out.append(f"{label} has no {' or '.join(missing)}")
    return out


RESOURCE_KEYS = (("requests", "cpu"), ("requests", "memory"), ("limits", "cpu"), ("limits", "memory"))


@resource_rule(
    "k8s-resources",
    types=WORKLOADS,
    description="Every container declares CPU and memory requests and limits.",
    severity="medium",
    remediation="Set resources.requests.{cpu,memory} (scheduling, HPA utilisation) and "
    "resources.limits.{cpu,memory} (noisy neighbours, OOM before the node does).",
)
def resources(props: dict[str, Any], ctx: Ctx) -> list[str]:
    spec = pod_spec(props)
    out = []
    for label, c in containers(spec):
        res = get(c, "resources")
        if is_unknown(res):
            continue
        missing = [f"{a}.{b}" for a, b in RESOURCE_KEYS if get(res, a, b) in (None, "")]
        if missing:
            out.append(f"{label} sets no resources {', '.join(missing)}")
    return out


@resource_rule(
    "k8s-run-as-non-root",
    types=WORKLOADS,
    description="Containers run as a non-root user (runAsNonRoot, never runAsUser 0).",
    severity="high",
    remediation="Set securityContext.runAsNonRoot=True (pod or container) and a non-zero runAsUser.",
)
def run_as_non_root(props: dict[str, Any], ctx: Ctx) -> list[str]:
    spec = pod_spec(props)
    if is_unknown(spec):
        return []
    pod_ctx = get(spec, "securityContext")
    pod_non_root = truthy(get(pod_ctx, "runAsNonRoot"))
    pod_user = number(get(pod_ctx, "runAsUser"))
    out = []
    for label, c in containers(spec):
        sc = get(c, "securityContext")
        non_root = get(sc, "runAsNonRoot")
        user = number(get(sc, "runAsUser"))
        user = user if user is not None else pod_user
        if is_unknown(non_root) or is_unknown(sc):
            continue
        effective = truthy(non_root) if non_root is not None else pod_non_root
        if user == 0:
            out.append(f"{label} runs as runAsUser 0 (root)")
        elif not effective:
            out.append(f"{label} does not set runAsNonRoot (pod or container securityContext)")
    return out


@resource_rule(
    "k8s-read-only-root-fs",
    types=WORKLOADS,
    description="Containers mount their root filesystem read-only.",
    severity="medium",
    remediation="Set securityContext.readOnlyRootFilesystem=True; mount emptyDir volumes where the process writes "
    "(/tmp, caches).",
)
def read_only_root_fs(props: dict[str, Any], ctx: Ctx) -> list[str]:
    spec = pod_spec(props)
    out = []
    for label, c in containers(spec):
        v = get(c, "securityContext", "readOnlyRootFilesystem")
        if is_unknown(v):
            continue
        if truthy(v) is not True:
            out.append(f"{label} does not set readOnlyRootFilesystem")
    return out


@resource_rule(
    "k8s-no-privilege-escalation",
    types=WORKLOADS,
    description="Containers cannot gain privileges (allowPrivilegeEscalation false, not privileged).",
    severity="high",
    remediation="Set securityContext.allowPrivilegeEscalation=False, privileged=False and drop ALL capabilities.",
)
def no_privilege_escalation(props: dict[str, Any], ctx: Ctx) -> list[str]:
    spec = pod_spec(props)
    out = []
    for label, c in containers(spec):
        sc = get(c, "securityContext")
        if is_unknown(sc):
            continue
        ape, priv = get(sc, "allowPrivilegeEscalation"), get(sc, "privileged")
        if is_unknown(ape) or is_unknown(priv):
            continue
        if truthy(priv) is True:
            out.append(f"{label} is privileged")
        elif ape is None or truthy(ape) is not False:
            out.append(f"{label} does not set allowPrivilegeEscalation=false")
    return out


@resource_rule(
    "k8s-image-digest-prod",
    types=WORKLOADS,
    description="In production every container image is pinned by content digest (@sha256:...).",
    severity="high",
    remediation="Reference images as repo/name@sha256:<digest> (promote the digest staging runs with "
    "`berth promote staging prod`).",
)
def image_digest_prod(props: dict[str, Any], ctx: Ctx) -> list[str]:
    if not ctx.is_prod:
        return []
    spec = pod_spec(props)
    out = []
    for label, c in containers(spec):
        image = get(c, "image")
        if is_unknown(image) or not isinstance(image, str):
            continue
        if not image_by_digest(image):
            out.append(f"{label} image {image!r} is not pinned by digest")
    return out


# ---- stack rules: companions of every Deployment ---------------------------------------------
def _namespace(r: Resource) -> Any:
    return r.prop("metadata", "namespace")


def _same_namespace(a: Resource, b: Resource) -> bool:
    na, nb = _namespace(a), _namespace(b)
    if is_unknown(na) or is_unknown(nb):
        return True
    return (na or "default") == (nb or "default")


def _pod_labels(dep: Resource) -> Any:
    return dep.prop("spec", "template", "metadata", "labels")


def pdb_covers(pdb: Resource, dep: Resource) -> bool | None:
    if not _same_namespace(pdb, dep):
        return False
    selector = pdb.prop("spec", "selector", "matchLabels")
    labels = _pod_labels(dep)
    if is_unknown(selector) or is_unknown(labels):
        return None
    if not isinstance(selector, Mapping) or not selector or not isinstance(labels, Mapping):
        return False
    return all(is_unknown(v) or labels.get(k) == v or is_unknown(labels.get(k)) for k, v in selector.items())


def hpa_targets(hpa: Resource, dep: Resource) -> bool | None:
    ref = hpa.prop("spec", "scaleTargetRef")
    if is_unknown(ref):
        return None
    if not isinstance(ref, Mapping) or not _same_namespace(hpa, dep):
        return False
    kind = ref.get("kind")
    if not is_unknown(kind) and kind not in ("Deployment", None):
        return False
    name, dep_name = ref.get("name"), dep.prop("metadata", "name")
    if hpa.depends_on(dep, "spec"):
        return True
    if is_unknown(name) or is_unknown(dep_name):
        return None
    return isinstance(name, str) and name == dep_name


@stack_rule(
    "k8s-deployment-has-pdb",
    types=[DEPLOYMENT, PDB],
    description="Every Deployment has a PodDisruptionBudget selecting its pods (node drains keep it serving).",
    severity="medium",
    remediation="Create a policy/v1 PodDisruptionBudget (maxUnavailable 1 or minAvailable) whose "
    "selector.matchLabels match the Deployment's pod labels.",
)
def deployment_has_pdb(stack: StackView, ctx: Ctx) -> list[Finding]:
    out: list[Finding] = []
    pdbs = stack.of_type(PDB)
    for dep in stack.of_type(DEPLOYMENT):
        verdicts = [pdb_covers(p, dep) for p in pdbs]
        if not any(v is None or v for v in verdicts):
            out.append((dep.urn, f"Deployment {dep.name} has no PodDisruptionBudget selecting its pods"))
    return out


@stack_rule(
    "k8s-deployment-has-hpa",
    types=[DEPLOYMENT, *HPAS],
    description="Every Deployment is scaled by a HorizontalPodAutoscaler.",
    severity="medium",
    remediation="Create an autoscaling/v2 HorizontalPodAutoscaler with scaleTargetRef kind Deployment and its name, "
    "min/max replicas and a CPU or memory target.",
)
def deployment_has_hpa(stack: StackView, ctx: Ctx) -> list[Finding]:
    out: list[Finding] = []
    hpas = stack.of_type(*HPAS)
    for dep in stack.of_type(DEPLOYMENT):
        verdicts = [hpa_targets(h, dep) for h in hpas]
        if not any(v is None or v for v in verdicts):
            out.append((dep.urn, f"Deployment {dep.name} has no HorizontalPodAutoscaler"))
    return out
