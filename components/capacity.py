"""Components room: what a node offers and what the cluster's own pods take from it.

Pure data and arithmetic, no Pulumi import: `stacks/config.py` checks a stack's capacity with
it before any resource is registered, and the Cluster Autoscaler (components/autoscaler.py) takes
its replicas and requests from the same constants; metrics-server's are counted as the add-on sets
them.

Allocatable per node, as the EKS-optimized AL2023 AMI (nodeadm) configures the kubelet:

- max pods (VPC CNI, no prefix delegation): ENIs x (IPv4 addresses per ENI - 1) + 2, capped
  at 110 below 30 vCPUs (the EKS max-pods calculator; `eni-max-pods.txt` of amazon-eks-ami);
- kube-reserved CPU: 6 % of the first core, 1 % of the second, 0.5 % of cores 3-4, 0.25 % above;
- kube-reserved memory: 11 MiB x max pods + 255 MiB; hard eviction at 100 MiB available;
- the instance's nominal memory less 7.5 % the hypervisor and kernel keep (what the kubelet
  reports as capacity is below the nominal figure: Karpenter's `vmMemoryOverheadPercent`
  default, 0.075, estimates it the same way).

Instance figures (vCPUs, GiB, ENIs, IPv4 per ENI) are EC2's own (DescribeInstanceTypes, as moto
ships them: components/catalog.py), so any real instance type can be sized.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from components.catalog import InstanceType, ec2_instance_types

VM_MEMORY_OVERHEAD = 0.075
EVICTION_HARD_MIB = 100


@dataclass(frozen=True)
class Resources:
    """CPU in millicores, memory in MiB, pods: what a pod requests or a node offers."""

    cpu_m: int = 0
    memory_mib: int = 0
    pods: int = 0

    def __add__(self, other: Resources) -> Resources:
        return Resources(self.cpu_m + other.cpu_m, self.memory_mib + other.memory_mib, self.pods + other.pods)

    def __sub__(self, other: Resources) -> Resources:
        return Resources(self.cpu_m - other.cpu_m, self.memory_mib - other.memory_mib, self.pods - other.pods)

    def times(self, n: int) -> Resources:
        return Resources(self.cpu_m * n, self.memory_mib * n, self.pods * n)

    def fits_in(self, other: Resources) -> bool:
        return self.cpu_m <= other.cpu_m and self.memory_mib <= other.memory_mib and self.pods <= other.pods


def cpu_millicores(quantity: str) -> int:
    """A Kubernetes CPU quantity ("250m", "1", "0.5") in millicores."""
    q = str(quantity).strip()
    return int(q[:-1]) if q.endswith("m") else round(float(q) * 1000)


_MEM = re.compile(r"^(\d+(?:\.\d+)?)(Ki|Mi|Gi|K|M|G)?$")
_MEM_MIB = {None: 1 / 2**20, "Ki": 1 / 1024, "Mi": 1, "Gi": 1024, "K": 1000 / 2**20, "M": 10**6 / 2**20,
            "G": 10**9 / 2**20}


def memory_mib(quantity: str) -> int:
    """A Kubernetes memory quantity ("256Mi", "1Gi") in MiB, rounded up."""
    m = _MEM.match(str(quantity).strip())
    if not m:
        raise ValueError(f"not a memory quantity: {quantity!r}")
    value = float(m.group(1)) * _MEM_MIB[m.group(2)]
    return int(value) if value == int(value) else int(value) + 1


def pod(cpu: str, memory: str) -> Resources:
    """One pod's requests."""
    return Resources(cpu_millicores(cpu), memory_mib(memory), 1)


def max_pods(t: InstanceType) -> int:
    return min(t.enis * (t.ipv4_per_eni - 1) + 2, 110 if t.vcpus < 30 else 250)


def kube_reserved_cpu_m(vcpus: int) -> int:
    tiers = ((1, 60.0), (1, 10.0), (2, 5.0))
    left, reserved = vcpus, 0.0
    for cores, per_core in tiers:
        used = min(left, cores)
        reserved += used * per_core
        left -= used
    return round(reserved + left * 2.5)


def allocatable(instance_type: str) -> Resources:
    """What the kubelet of one node offers to pods (KeyError for a type EC2 does not sell)."""
    t = ec2_instance_types()[instance_type]
    pods = max_pods(t)
    memory = int(t.memory_gib * 1024 * (1 - VM_MEMORY_OVERHEAD)) - (11 * pods + 255) - EVICTION_HARD_MIB
    return Resources(t.vcpus * 1000 - kube_reserved_cpu_m(t.vcpus), memory, pods)


# ---- what the cluster itself runs ---------------------------------------------------------------
@dataclass(frozen=True)
class SystemPod:
    name: str
    requests: Resources
    # DaemonSet pods run once per node; the others `replicas` times in the cluster.
    per_node: bool
    replicas: int = 1
    source: str = ""


# The cluster autoscaler and metrics server: their own requests (components/autoscaler.py,
# components/cluster.py use these same figures).
AUTOSCALER_REPLICAS = 2
AUTOSCALER_CPU_REQUEST = "100m"
AUTOSCALER_MEMORY_REQUEST = "300Mi"
METRICS_SERVER_REPLICAS = 2

# Requests of the add-ons' pods as their charts and manifests ship them (a container without a
# request counts 0 for the scheduler, which is what matters here). Refresh from
# `kubectl describe node` on a real cluster when an add-on moves.
SYSTEM_PODS: tuple[SystemPod, ...] = (
    SystemPod("kube-proxy", Resources(100, 0, 1), True, source="EKS kube-proxy add-on: cpu 100m"),
    SystemPod("aws-node", Resources(25, 0, 1), True, source="amazon-vpc-cni-k8s chart: cpu 25m"),
    SystemPod("eks-pod-identity-agent", Resources(0, 0, 1), True,
              source="eks-pod-identity-agent chart: resources {}"),
    SystemPod("ebs-csi-node", Resources(30, 120, 1), True,
              source="aws-ebs-csi-driver chart: 3 containers x 10m/40Mi"),
    SystemPod("coredns", Resources(100, 70, 1), False, 2, "EKS coredns add-on: 2 x 100m/70Mi"),
    SystemPod("ebs-csi-controller", Resources(60, 240, 1), False, 2,
              "aws-ebs-csi-driver chart: 6 containers x 10m/40Mi, 2 replicas"),
    SystemPod("metrics-server", Resources(100, 200, 1), False, METRICS_SERVER_REPLICAS,
              "EKS community add-on metrics-server: 2 replicas, chart requests 100m/200Mi"),
    SystemPod("cluster-autoscaler", pod(AUTOSCALER_CPU_REQUEST, AUTOSCALER_MEMORY_REQUEST), False,
              AUTOSCALER_REPLICAS, "components/autoscaler.py"),
)
# Container Insights (the amazon-cloudwatch-observability add-on): the Cluster installs it on every
# cluster it creates (components/cluster.py, `_container_insights`). Change one, change the other.
CONTAINER_INSIGHTS_PODS: tuple[SystemPod, ...] = (
    SystemPod("cloudwatch-agent", Resources(250, 128, 1), True,
              source="amazon-cloudwatch-observability chart: agent 250m/128Mi"),
    SystemPod("fluent-bit", Resources(50, 25, 1), True,
              source="amazon-cloudwatch-observability chart: fluent-bit 50m/25Mi"),
    SystemPod("cloudwatch-agent-operator", Resources(100, 64, 1), False, 1,
              "amazon-cloudwatch-observability chart: manager 100m/64Mi"),
)


# ---- placing pods on nodes ------------------------------------------------------------------
@dataclass(frozen=True)
class Workload:
    """`count` pods of one shape (a Deployment at full scale, plus its rollout's extra pod)."""

    name: str
    count: int
    requests: Resources


@dataclass
class Placement:
    nodes_needed: int | None  # None: does not fit in the nodes given
    unplaced: list[str] = field(default_factory=list)


def place(workloads: Sequence[Workload], node_free: Resources, nodes: int) -> Placement:
    """First-fit decreasing of every pod onto `nodes` nodes offering `node_free` each.

    Stricter than comparing totals: a pod needs one node with room for all of it. Zone
    spread and anti-affinity are not modelled (they only ever need more room)."""
    pods = sorted(((w.name, w.requests) for w in workloads for _ in range(w.count)),
                  key=lambda p: (p[1].cpu_m, p[1].memory_mib), reverse=True)
    free: list[Resources] = []
    unplaced: list[str] = []
    for name, req in pods:
        for i, room in enumerate(free):
            if req.fits_in(room):
                free[i] = room - req
                break
        else:
            if len(free) < nodes and req.fits_in(node_free):
                free.append(node_free - req)
            else:
                unplaced.append(name)
    return Placement(None if unplaced else len(free), unplaced)


def per_node(pods: Iterable[SystemPod]) -> Resources:
    return sum((p.requests for p in pods if p.per_node), Resources())
