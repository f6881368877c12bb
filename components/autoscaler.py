"""Components room: the Cluster Autoscaler, which moves the managed node group within its bounds.

Why the Cluster Autoscaler (and not Karpenter or EKS Auto Mode): see components/README.md.
In short, it scales the managed node group the cluster already has (launch template, AMI
updates, drains on upgrade all stay EKS's), its only lever is the Auto Scaling group's
desired capacity, which EC2 keeps between the group's min and max (`cluster.nodeMin` /
`cluster.nodeMax`), and it needs no CRDs, queues or instance profiles of its own.

What this creates, from the upstream AWS example manifest
(kubernetes/autoscaler cluster-autoscaler/cloudprovider/aws/examples/cluster-autoscaler-autodiscover.yaml)
as plain pulumi-kubernetes objects (a Helm release does not render under the embedded
cloud's mocks, and these are what `pulumi up` applies anyway):

- an IAM role for EKS Pod Identity, whose policy may describe any Auto Scaling group but
  change the size of (SetDesiredCapacity, TerminateInstanceInAutoScalingGroup) only the
  groups EKS tagged `eks:cluster-name` = this cluster and `eks:nodegroup-name` = this node
  group, and describe only this node group;
- the pod identity association, the ServiceAccount and the RBAC of the example;
- a hardened Deployment (two leader-elected replicas: a drain never leaves the cluster without
  one), a PodDisruptionBudget, and an HPA pinned at that count (the policy pack's
  k8s-deployment-has-hpa; it also puts back a manual scale-out).

Credentials: Cluster Autoscaler reads Pod Identity's container credentials since it vendors
aws-sdk-go 1.48.7 (kubernetes/autoscaler#6379; 1.29 and later), so no IRSA/OIDC provider.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.base import Component
from components.capacity import AUTOSCALER_CPU_REQUEST, AUTOSCALER_MEMORY_REQUEST, AUTOSCALER_REPLICAS
from components.identity import workload_identity
from components.placement import Placement
from components.settings import ClusterSettings, is_digest
from components.workload import checkov_skips, hardened_container, restricted_pod

NAME = "cluster-autoscaler"
NAMESPACE = "kube-system"
PORT = 8085
# The distroless image's "nobody"; high and fixed (checkov CKV_K8S_40).
UID = 65534
# EKS puts these tags on the Auto Scaling group of every managed node group.
DISCOVERY_TAGS = ("k8s.io/cluster-autoscaler/enabled", "k8s.io/cluster-autoscaler/{cluster}")
# Actions with no resource-level permissions in IAM (Describe*): they need "*".
DESCRIBE_ACTIONS = [
    "autoscaling:DescribeAutoScalingGroups",
    "autoscaling:DescribeAutoScalingInstances",
    "autoscaling:DescribeLaunchConfigurations",
    "autoscaling:DescribeScalingActivities",
    "autoscaling:DescribeTags",
    "ec2:DescribeImages",
    "ec2:DescribeInstanceTypes",
    "ec2:DescribeLaunchTemplateVersions",
    "ec2:GetInstanceTypesFromInstanceRequirements",
]
SCALING_ACTIONS = ["autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"]


@dataclass
class ClusterAutoscalerArgs:
    # Wiring: the cluster's Kubernetes provider, its name and its node group's, where it runs.
    provider: k8s.Provider
    cluster_name: pulumi.Input[str]
    node_group_name: pulumi.Input[str]
    where: Placement
    # The cluster's section: `autoscaler_image` (its minor is the cluster's) and `node_max`
    # (`--max-nodes-total`: belt and braces over the Auto Scaling group's own max).
    settings: ClusterSettings
    # The environment pins images by digest (production).
    require_digest: bool = False
    # Resources the Deployment waits for (the node group: CA has nothing to scale before it).
    depends_on: Sequence[pulumi.Resource] = ()
    tags: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        image = self.settings.autoscaler_image
        if self.require_digest and not is_digest(image):
            raise ValueError(f"autoscaler image {image!r} must be pinned by digest (repo:tag@sha256:...)")


def scaling_policy(partition: str, region: str, account: str, cluster: str, node_group: str) -> str:
    """The autoscaler's IAM policy: read everything it must, resize only this node group's ASG."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Sid": "Describe", "Effect": "Allow", "Action": DESCRIBE_ACTIONS, "Resource": "*"},
                {
                    "Sid": "DescribeThisNodeGroup",
                    "Effect": "Allow",
                    "Action": ["eks:DescribeNodegroup"],
                    "Resource": f"arn:{partition}:eks:{region}:{account}:nodegroup/{cluster}/{node_group}/*",
                },
                {
                    "Sid": "ResizeThisNodeGroup",
                    "Effect": "Allow",
                    "Action": SCALING_ACTIONS,
                    "Resource": "*",
                    "Condition": {
                        "StringEquals": {
                            "aws:ResourceTag/eks:cluster-name": cluster,
                            "aws:ResourceTag/eks:nodegroup-name": node_group,
                        }
                    },
                },
            ],
        }
    )


def command(cluster: str, region: str, max_nodes: int) -> list[str]:
    """The autoscaler's command line."""
    tags = ",".join(t.format(cluster=cluster) for t in DISCOVERY_TAGS)
    return [
        "./cluster-autoscaler",
        "--cloud-provider=aws",
        f"--node-group-auto-discovery=asg:tag={tags}",
        f"--max-nodes-total={max_nodes}",
        # Fill the node that wastes least; balance similar groups if more are added (one per AZ).
        "--expander=least-waste",
        "--balance-similar-node-groups=true",
        # The app's and PgBouncer's pods only keep scratch data in emptyDir: not a reason to keep a node.
        "--skip-nodes-with-local-storage=false",
        f"--address=:{PORT}",
        "--leader-elect=true",
        "--v=2",
    ]


_LABELS = {"app.kubernetes.io/name": NAME, "app.kubernetes.io/part-of": "shipments-platform"}
_COMMON = {**_LABELS, "app.kubernetes.io/managed-by": "pulumi"}



class ClusterAutoscaler(Component):
    """Cluster Autoscaler for one EKS managed node group: role, identity, RBAC, Deployment, PDB, HPA."""

    role_arn: pulumi.Output[str]
    service_account_name: str
    namespace: str
    deployment: k8s.apps.v1.Deployment

    def __init__(self, name: str, args: ClusterAutoscalerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, opts, tags=args.tags)
        self._args = args
        self.use_kubernetes(args.provider, namespace=NAMESPACE, labels=_COMMON)
        self.namespace = NAMESPACE
        self.service_account_name = NAME
        association = self._identity()
        bindings = self._rbac()
        self.deployment = self._deployment([association, *bindings, *args.depends_on])
        self._disruption_and_scale()
        self.register_outputs({"roleArn": self.role_arn, "namespace": NAMESPACE, "serviceAccount": NAME})

    # ---- steps, in dependency order --------------------------------------------------------
    def _identity(self) -> aws.eks.PodIdentityAssociation:
        """An IAM role for EKS Pod Identity that may resize this node group only, bound to the
        service account. Returns the association the Deployment waits for."""
        args, w = self._args, self._args.where
        identity = workload_identity(
            self,
            cluster_name=args.cluster_name,
            namespace=NAMESPACE,
            service_account=NAME,
            description=f"{self.prefix}: Cluster Autoscaler (EKS Pod Identity)",
            policy=pulumi.Output.all(args.cluster_name, args.node_group_name).apply(
                lambda v: scaling_policy(w.partition, w.region, w.account, v[0], v[1])
            ),
            # It watches pods and nodes through the Kubernetes API: the token stays mounted.
            automount_token=None,
            # Its first call describes the Auto Scaling groups: bind the role only once it may.
            association_waits_for_policy=True,
            region_kw={"region": w.region},
        )
        self.role_arn = identity.role.arn
        # The Pod Identity webhook injects credentials when a pod is created, and only if an
        # association exists then: the Deployment waits for it (a pod started earlier runs
        # without AWS credentials until it is restarted).
        return identity.association

    def _rbac(self) -> list[pulumi.Resource]:
        """The upstream example's ClusterRole and Role, bound to the service account."""
        name, meta = self.prefix, self.meta
        read = ["watch", "list", "get"]
        cluster_role = k8s.rbac.v1.ClusterRole(
            f"{name}-clusterrole",
            metadata=meta(NAME, namespaced=False),
            rules=[
                {"api_groups": [""], "resources": ["events", "endpoints"], "verbs": ["create", "patch"]},
                {"api_groups": [""], "resources": ["pods/eviction"], "verbs": ["create"]},
                {"api_groups": [""], "resources": ["pods/status"], "verbs": ["update"]},
                {"api_groups": [""], "resources": ["endpoints"], "resource_names": [NAME], "verbs": ["get", "update"]},
                {"api_groups": [""], "resources": ["nodes"], "verbs": [*read, "update"]},
                {"api_groups": [""], "resources": ["namespaces", "pods", "services", "replicationcontrollers",
                                                   "persistentvolumeclaims", "persistentvolumes"], "verbs": read},
                {"api_groups": ["extensions"], "resources": ["replicasets", "daemonsets"], "verbs": read},
                {"api_groups": ["policy"], "resources": ["poddisruptionbudgets"], "verbs": ["watch", "list"]},
                {"api_groups": ["apps"], "resources": ["statefulsets", "replicasets", "daemonsets"], "verbs": read},
                {"api_groups": ["storage.k8s.io"],
                 "resources": ["storageclasses", "csinodes", "csidrivers", "csistoragecapacities"], "verbs": read},
                {"api_groups": ["batch", "extensions"], "resources": ["jobs"], "verbs": [*read, "patch"]},
                {"api_groups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["create"]},
                {"api_groups": ["coordination.k8s.io"], "resources": ["leases"], "resource_names": [NAME],
                 "verbs": ["get", "update"]},
            ],
            opts=self.k8s(),
        )
        role_k8s = k8s.rbac.v1.Role(
            f"{name}-role-k8s",
            metadata=meta(NAME),
            rules=[
                {"api_groups": [""], "resources": ["configmaps"], "verbs": ["create", "list", "watch"]},
                {"api_groups": [""], "resources": ["configmaps"],
                 "resource_names": ["cluster-autoscaler-status", "cluster-autoscaler-priority-expander"],
                 "verbs": ["delete", "get", "update", "watch"]},
            ],
            opts=self.k8s(),
        )
        subject = [{"kind": "ServiceAccount", "name": NAME, "namespace": NAMESPACE}]
        return [
            k8s.rbac.v1.ClusterRoleBinding(
                f"{name}-clusterrolebinding", metadata=meta(NAME, namespaced=False),
                role_ref={"api_group": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": NAME},
                subjects=subject, opts=self.k8s(depends_on=[cluster_role]),
            ),
            k8s.rbac.v1.RoleBinding(
                f"{name}-rolebinding", metadata=meta(NAME),
                role_ref={"api_group": "rbac.authorization.k8s.io", "kind": "Role", "name": NAME},
                subjects=subject, opts=self.k8s(depends_on=[role_k8s]),
            ),
        ]

    def _deployment(self, depends_on: list[pulumi.Resource]) -> k8s.apps.v1.Deployment:
        """Two leader-elected replicas, hardened, spread over nodes and zones."""
        args = self._args
        image, region, max_nodes = args.settings.autoscaler_image, args.where.region, args.settings.node_max
        skips = [("CKV_K8S_38", "the autoscaler watches pods and nodes and scales through the Kubernetes API: "
                                "it needs its service account token")]
        if not is_digest(image):
            skips.append(("CKV_K8S_43", "tags pin images outside prod; the policy pack requires digests in prod"))
        probe = {"http_get": {"path": "/health-check", "port": "http"}}
        return k8s.apps.v1.Deployment(
            f"{self.prefix}-deployment",
            metadata=self.meta(NAME, annotations=checkov_skips(*skips)),
            spec={
                "replicas": AUTOSCALER_REPLICAS,
                "revision_history_limit": 5,
                "selector": {"match_labels": _LABELS},
                "strategy": {"type": "RollingUpdate", "rolling_update": {"max_unavailable": 0, "max_surge": 1}},
                "template": {
                    "metadata": {"labels": _LABELS,
                                 "annotations": {"prometheus.io/scrape": "true", "prometheus.io/port": str(PORT)}},
                    "spec": {
                        "priority_class_name": "system-cluster-critical",
                        "service_account_name": NAME,
                        "automount_service_account_token": True,
                        "security_context": restricted_pod(UID),
                        "topology_spread_constraints": [
                            {"max_skew": 1, "topology_key": key, "when_unsatisfiable": "ScheduleAnyway",
                             "label_selector": {"match_labels": _LABELS}}
                            for key in ("kubernetes.io/hostname", "topology.kubernetes.io/zone")
                        ],
                        "containers": [{
                            "name": NAME,
                            "image": image,
                            "image_pull_policy": "Always",
                            "command": pulumi.Output.from_input(args.cluster_name).apply(
                                lambda c: command(c, region, max_nodes)),
                            "env": [{"name": "AWS_REGION", "value": region}],
                            "ports": [{"name": "http", "container_port": PORT, "protocol": "TCP"}],
                            # A standby replica (not the leader) answers 200 too: both are ready.
                            "liveness_probe": {**probe, "initial_delay_seconds": 10, "period_seconds": 10,
                                               "failure_threshold": 6},
                            "readiness_probe": {**probe, "period_seconds": 10},
                            "resources": {
                                "requests": {"cpu": AUTOSCALER_CPU_REQUEST, "memory": AUTOSCALER_MEMORY_REQUEST},
                                "limits": {"cpu": "500m", "memory": "600Mi"},
                            },
                            "security_context": hardened_container(UID),
                        }],
                    },
                },
            },
            opts=self.k8s(depends_on=depends_on),
        )

    def _disruption_and_scale(self) -> None:
        """A PodDisruptionBudget, and an HPA pinned at the replica count: leader election makes a
        second active copy pointless, and the HPA puts back a manual scale-out (the policy pack
        wants one per Deployment)."""
        name = self.prefix
        k8s.policy.v1.PodDisruptionBudget(
            f"{name}-pdb", metadata=self.meta(NAME),
            spec={"max_unavailable": 1, "selector": {"match_labels": _LABELS}}, opts=self.k8s(),
        )
        k8s.autoscaling.v2.HorizontalPodAutoscaler(
            f"{name}-hpa",
            metadata=self.meta(NAME),
            spec={
                "scale_target_ref": {"api_version": "apps/v1", "kind": "Deployment", "name": NAME},
                "min_replicas": AUTOSCALER_REPLICAS,
                "max_replicas": AUTOSCALER_REPLICAS,
                "metrics": [{"type": "Resource", "resource": {
                    "name": "cpu", "target": {"type": "Utilization", "average_utilization": 80}}}],
            },
            opts=self.k8s(depends_on=[self.deployment]),
        )
