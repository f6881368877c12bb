"""Components room: the EKS cluster the Shipments API and PgBouncer run on.

Raw `aws.eks` resources (not the multi-language pulumi-eks component): a control plane in
the private subnets with a private endpoint (public access only from listed CIDRs),
Kubernetes secrets envelope-encrypted with a customer KMS key, control-plane logs in an
encrypted log group, authentication by EKS access entries (API mode), one managed node
group behind a hardened launch template (IMDSv2 only, encrypted gp3 root volume, a node
security group the data tiers admit), the core add-ons, metrics-server (the EKS community
add-on) for the HPAs, the Cluster Autoscaler moving the node group between its bounds
(components/autoscaler.py), and a `pulumi_kubernetes.Provider` whose kubeconfig is built from
the cluster's outputs (`aws eks get-token`).

With `existing_kubeconfig`, no cluster is created: the provider comes from that kubeconfig
and the component only creates the workload namespace.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components import kms
from components.autoscaler import ClusterAutoscaler, ClusterAutoscalerArgs

# The workload namespace every app-side component deploys into.
NAMESPACE = "shipments"
LOG_TYPES = ["api", "audit", "authenticator"]
# Add-ons the nodes need to become Ready (networking, service proxy, pod credentials) are
# installed before the node group; the rest need nodes to schedule onto.
ADDONS_BEFORE_NODES = ("vpc-cni", "kube-proxy", "eks-pod-identity-agent")
ADDONS_AFTER_NODES = ("coredns", "aws-ebs-csi-driver")
# The resource metrics API (metrics.k8s.io) the HPAs read; EKS does not install it by itself.
METRICS_SERVER = "metrics-server"
_GRAVITON = re.compile(r"^[a-z]+\d+g[a-z]*\.")


@dataclass
class ClusterArgs:
    vpc_id: pulumi.Input[str] | None = None
    subnet_ids: list[pulumi.Input[str]] = field(default_factory=list)
    version: str = "1.33"
    # Operators' ranges allowed to reach the public API endpoint; empty = private endpoint only.
    public_access_cidrs: list[str] = field(default_factory=list)
    instance_types: list[str] = field(default_factory=lambda: ["m6i.large"])
    capacity_type: str = "ON_DEMAND"
    node_min: int = 2
    node_max: int = 4
    node_desired: int = 2
    node_disk_gib: int = 50
    log_retention_days: int = 90
    # IAM roles granted cluster-admin through access entries.
    admin_role_arns: list[str] = field(default_factory=list)
    deletion_protection: bool = True
    # The Cluster Autoscaler's image (its minor is the cluster's), digest-pinned where required.
    autoscaler_image: str = "registry.k8s.io/autoscaling/cluster-autoscaler:v1.33.1"
    require_digest: bool = False
    tags: dict[str, str] = field(default_factory=dict)
    region: str | None = None
    # Use an existing cluster: its kubeconfig (a secret), name and node security group.
    existing_kubeconfig: pulumi.Input[str] | None = None
    existing_cluster_name: str | None = None
    existing_node_security_group_id: str | None = None
    namespace: str = NAMESPACE

    def __post_init__(self) -> None:
        if self.existing_kubeconfig is not None:
            if not (self.existing_cluster_name and self.existing_node_security_group_id):
                raise ValueError("an existing cluster needs existing_cluster_name and existing_node_security_group_id")
            return
        if self.vpc_id is None or len(self.subnet_ids) < 2:
            raise ValueError("a new cluster needs vpc_id and at least two subnet_ids (in different AZs)")
        if not self.node_min <= self.node_desired <= self.node_max:
            raise ValueError(f"need node_min <= node_desired <= node_max, got {self.node_min}/{self.node_desired}/"
                             f"{self.node_max}")
        if "0.0.0.0/0" in self.public_access_cidrs:
            raise ValueError("public_access_cidrs must not contain 0.0.0.0/0")
        if self.require_digest and "@sha256:" not in self.autoscaler_image:
            raise ValueError(f"autoscaler_image {self.autoscaler_image!r} must be pinned by digest in this environment")
        arches = {ami_type(t) for t in self.instance_types}
        if len(arches) != 1:
            raise ValueError(f"instance_types mix CPU architectures: {self.instance_types}")


def ami_type(instance_type: str) -> str:
    """The EKS-optimized AL2023 AMI family for an instance type (Graviton types are arm64)."""
    return "AL2023_ARM_64_STANDARD" if _GRAVITON.match(instance_type) else "AL2023_x86_64_STANDARD"


def kubeconfig(cluster_name: str, endpoint: str, ca_data: str, region: str) -> str:
    """A kubeconfig that authenticates with short-lived tokens from `aws eks get-token`."""
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": cluster_name, "cluster": {"server": endpoint, "certificate-authority-data": ca_data}}],
            "contexts": [{"name": cluster_name, "context": {"cluster": cluster_name, "user": cluster_name}}],
            "current-context": cluster_name,
            "users": [
                {
                    "name": cluster_name,
                    "user": {
                        "exec": {
                            "apiVersion": "client.authentication.k8s.io/v1beta1",
                            "command": "aws",
                            "args": ["eks", "get-token", "--cluster-name", cluster_name, "--region", region,
                                     "--output", "json"],
                            "interactiveMode": "Never",
                        }
                    },
                }
            ],
        }
    )


def _assume(service: str, actions: list[str] | None = None) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"Service": service}, "Action": actions or ["sts:AssumeRole"]}
            ],
        }
    )


class Cluster(pulumi.ComponentResource):
    """An EKS cluster (or an existing one), its Kubernetes provider and workload namespace."""

    cluster_name: pulumi.Output[str]
    endpoint: pulumi.Output[str] | None
    version: str
    node_security_group_id: pulumi.Output[str]
    cluster_security_group_id: pulumi.Output[str] | None
    oidc_provider_arn: pulumi.Output[str] | None
    kms_key_arn: pulumi.Output[str] | None
    node_group_name: pulumi.Output[str] | None
    kubeconfig: pulumi.Output[str]
    provider: k8s.Provider
    namespace: pulumi.Output[str]

    def __init__(self, name: str, args: ClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("berth:cluster:Cluster", name, None, opts)
        self.version = args.version
        # Pod identity replaces IRSA here, so no OIDC provider is created.
        self.oidc_provider_arn = None
        if args.existing_kubeconfig is not None:
            self._adopt(name, args)
        else:
            self._create(name, args)

        self.namespace_resource = k8s.core.v1.Namespace(
            f"{name}-{args.namespace}",
            metadata={
                "name": args.namespace,
                "labels": {
                    # Pod Security Admission: only pods meeting the "restricted" profile are admitted.
                    "pod-security.kubernetes.io/enforce": "restricted",
                    "pod-security.kubernetes.io/enforce-version": "latest",
                    "pod-security.kubernetes.io/audit": "restricted",
                    "pod-security.kubernetes.io/warn": "restricted",
                    "app.kubernetes.io/part-of": "shipments",
                    "app.kubernetes.io/managed-by": "pulumi",
                },
            },
            opts=pulumi.ResourceOptions(parent=self, provider=self.provider),
        )
        # The name is fixed; deriving it from the resource makes consumers wait for the namespace.
        self.namespace = self.namespace_resource.metadata.apply(lambda _: args.namespace)

        self.register_outputs(
            {
                "clusterName": self.cluster_name,
                "endpoint": self.endpoint,
                "nodeSecurityGroupId": self.node_security_group_id,
                "clusterSecurityGroupId": self.cluster_security_group_id,
                "namespace": self.namespace,
            }
        )

    # ---- an existing cluster ----------------------------------------------------------
    def _adopt(self, name: str, args: ClusterArgs) -> None:
        assert args.existing_cluster_name and args.existing_node_security_group_id
        self.cluster_name = pulumi.Output.from_input(args.existing_cluster_name)
        self.endpoint = None
        self.cluster_security_group_id = None
        self.kms_key_arn = None
        self.node_group_name = None
        self.node_security_group_id = pulumi.Output.from_input(args.existing_node_security_group_id)
        self.kubeconfig = pulumi.Output.secret(args.existing_kubeconfig)
        self.provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=self.kubeconfig,
            cluster_identifier=args.existing_cluster_name,
            enable_server_side_apply=True,
            opts=pulumi.ResourceOptions(parent=self),
        )

    # ---- a new cluster ----------------------------------------------------------------
    def _create(self, name: str, args: ClusterArgs) -> None:
        child = pulumi.ResourceOptions(parent=self)
        region_kw = {"region": args.region} if args.region else {}
        invoke_opts = pulumi.InvokeOptions(parent=self)
        identity = aws.get_caller_identity(opts=invoke_opts)
        partition = aws.get_partition(opts=invoke_opts).partition
        region = args.region or aws.get_region(opts=invoke_opts).region
        account = identity.account_id
        cluster_name = name
        log_group_name = f"/aws/eks/{cluster_name}/cluster"

        def named(suffix: str) -> dict[str, str]:
            return {**args.tags, "Name": f"{name}-{suffix}"}

        def managed(policy: str) -> str:
            return f"arn:{partition}:iam::aws:policy/{policy}"

        # One key for Kubernetes secrets (envelope encryption) and the control-plane log group.
        key = aws.kms.Key(
            f"{name}-eks-key",
            description=f"{name} EKS secrets and control-plane logs",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=kms.key_policy(
                kms.account_admin(partition, account),
                kms.logs_for_group(partition, region, account, log_group_name),
            ),
            tags=named("eks-key"),
            opts=child,
            **region_kw,
        )
        aws.kms.Alias(f"{name}-eks-key-alias", name=f"alias/{name}-eks", target_key_id=key.key_id,
                      opts=child, **region_kw)
        self.kms_key_arn = key.arn

        # EKS writes to this exact name; creating it first sets retention and encryption.
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-eks-logs",
            name=log_group_name,
            retention_in_days=args.log_retention_days,
            kms_key_id=key.arn,
            tags=named("eks-logs"),
            opts=child,
            **region_kw,
        )

        cluster_role = aws.iam.Role(
            f"{name}-eks-cluster-role",
            assume_role_policy=_assume("eks.amazonaws.com", ["sts:AssumeRole", "sts:TagSession"]),
            tags=named("eks-cluster-role"),
            opts=child,
        )
        cluster_attachments = [
            aws.iam.RolePolicyAttachment(f"{name}-eks-cluster-{short}", role=cluster_role.name,
                                         policy_arn=managed(policy), opts=child)
            for short, policy in (("policy", "AmazonEKSClusterPolicy"),
                                  ("vpc-controller", "AmazonEKSVPCResourceController"))
        ]
        cluster_attachments.append(
            aws.iam.RolePolicy(
                f"{name}-eks-cluster-kms",
                role=cluster_role.id,
                policy=key.arn.apply(
                    lambda arn: json.dumps(
                        {
                            "Version": "2012-10-17",
                            "Statement": [
                                {
                                    "Effect": "Allow",
                                    "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ListGrants", "kms:DescribeKey"],
                                    "Resource": arn,
                                }
                            ],
                        }
                    )
                ),
                opts=child,
            )
        )

        # Security groups: the control plane's ENIs and the nodes' ENIs (which pods share
        # under the VPC CNI). The node group is the one the data tiers admit.
        control_plane_sg = aws.ec2.SecurityGroup(
            f"{name}-eks-control-plane-sg",
            vpc_id=args.vpc_id,
            description=f"{name} EKS control plane ENIs",
            tags=named("eks-control-plane"),
            opts=child,
            **region_kw,
        )
        node_sg = aws.ec2.SecurityGroup(
            f"{name}-eks-node-sg",
            vpc_id=args.vpc_id,
            description=f"{name} EKS nodes and pods",
            # The AWS Load Balancer Controller adds its rules to the one SG carrying this tag.
            tags={**named("eks-node"), f"kubernetes.io/cluster/{cluster_name}": "owned"},
            opts=child,
            **region_kw,
        )
        rule_opts = child

        def ingress(rule: str, sg: aws.ec2.SecurityGroup, **kw: Any) -> None:
            aws.vpc.SecurityGroupIngressRule(f"{name}-{rule}", security_group_id=sg.id, tags=named(rule),
                                             opts=rule_opts, **kw, **region_kw)

        def egress(rule: str, sg: aws.ec2.SecurityGroup, **kw: Any) -> None:
            aws.vpc.SecurityGroupEgressRule(f"{name}-{rule}", security_group_id=sg.id, tags=named(rule),
                                            opts=rule_opts, **kw, **region_kw)

        ingress("cp-from-nodes-https", control_plane_sg, referenced_security_group_id=node_sg.id,
                ip_protocol="tcp", from_port=443, to_port=443, description="Nodes and pods to the API server")
        egress("cp-to-nodes", control_plane_sg, referenced_security_group_id=node_sg.id,
               ip_protocol="tcp", from_port=443, to_port=65535,
               description="API server to kubelets and admission webhooks")
        ingress("nodes-from-self", node_sg, referenced_security_group_id=node_sg.id, ip_protocol="-1",
                description="Node to node and pod to pod (DNS, service traffic)")
        ingress("nodes-from-cp-kubelet", node_sg, referenced_security_group_id=control_plane_sg.id,
                ip_protocol="tcp", from_port=10250, to_port=10250, description="API server to kubelet")
        ingress("nodes-from-cp-webhooks", node_sg, referenced_security_group_id=control_plane_sg.id,
                ip_protocol="tcp", from_port=443, to_port=443, description="API server to webhooks on 443")
        ingress("nodes-from-cp-ephemeral", node_sg, referenced_security_group_id=control_plane_sg.id,
                ip_protocol="tcp", from_port=1025, to_port=65535,
                description="API server to extension API servers and webhooks")
        egress("nodes-egress", node_sg, cidr_ipv4="0.0.0.0/0", ip_protocol="-1",
               description="Image pulls, AWS APIs (through NAT) and the data tiers")

        public = bool(args.public_access_cidrs)
        cluster = aws.eks.Cluster(
            f"{name}-eks",
            name=cluster_name,
            version=args.version,
            role_arn=cluster_role.arn,
            vpc_config={
                "subnet_ids": args.subnet_ids,
                "security_group_ids": [control_plane_sg.id],
                "endpoint_private_access": True,
                "endpoint_public_access": public,
                # Explicit even when private-only: EKS would otherwise default to 0.0.0.0/0.
                "public_access_cidrs": args.public_access_cidrs if public else None,
            },
            encryption_config={"provider": {"key_arn": key.arn}, "resources": ["secrets"]},
            enabled_cluster_log_types=LOG_TYPES,
            access_config={
                "authentication_mode": "API",
                # The identity running `pulumi up` needs access to create the workloads.
                "bootstrap_cluster_creator_admin_permissions": True,
            },
            # Add-ons are managed below as aws.eks.Addon, not the unmanaged bootstrap copies.
            bootstrap_self_managed_addons=False,
            deletion_protection=args.deletion_protection,
            tags=named("eks"),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[log_group, *cluster_attachments]),
            **region_kw,
        )
        self.cluster_name = cluster.name
        self.endpoint = cluster.endpoint
        self.cluster_security_group_id = cluster.vpc_config.cluster_security_group_id
        self.node_security_group_id = node_sg.id

        for principal in args.admin_role_arns:
            short = principal.rsplit("/", 1)[-1]
            entry = aws.eks.AccessEntry(f"{name}-access-{short}", cluster_name=cluster.name,
                                        principal_arn=principal, type="STANDARD", tags=named(f"access-{short}"),
                                        opts=child, **region_kw)
            aws.eks.AccessPolicyAssociation(
                f"{name}-access-{short}-admin",
                cluster_name=cluster.name,
                principal_arn=principal,
                policy_arn=f"arn:{partition}:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy",
                access_scope={"type": "cluster"},
                opts=pulumi.ResourceOptions(parent=self, depends_on=[entry]),
                **region_kw,
            )

        node_role = aws.iam.Role(
            f"{name}-eks-node-role",
            assume_role_policy=_assume("ec2.amazonaws.com"),
            tags=named("eks-node-role"),
            opts=child,
        )
        node_attachments = [
            aws.iam.RolePolicyAttachment(f"{name}-eks-node-{short}", role=node_role.name,
                                         policy_arn=managed(policy), opts=child)
            for short, policy in (
                ("worker", "AmazonEKSWorkerNodePolicy"),
                ("cni", "AmazonEKS_CNI_Policy"),
                ("ecr", "AmazonEC2ContainerRegistryPullOnly"),
                ("ssm", "AmazonSSMManagedInstanceCore"),
            )
        ]

        launch_template = aws.ec2.LaunchTemplate(
            f"{name}-eks-node-lt",
            name_prefix=f"{name}-eks-node-",
            description=f"{name} EKS managed nodes",
            update_default_version=True,
            vpc_security_group_ids=[node_sg.id],
            # IMDSv2 only, and one hop: pods cannot reach the node role's credentials (they use pod identity).
            metadata_options={
                "http_endpoint": "enabled",
                "http_tokens": "required",
                "http_put_response_hop_limit": 1,
                "instance_metadata_tags": "disabled",
            },
            block_device_mappings=[
                {
                    "device_name": "/dev/xvda",
                    "ebs": {
                        "volume_size": args.node_disk_gib,
                        "volume_type": "gp3",
                        "encrypted": "true",
                        "delete_on_termination": "true",
                    },
                }
            ],
            monitoring={"enabled": True},
            tag_specifications=[
                {"resource_type": "instance", "tags": named("eks-node")},
                {"resource_type": "volume", "tags": named("eks-node")},
            ],
            tags=named("eks-node-lt"),
            opts=child,
            **region_kw,
        )

        def addon(addon_name: str, depends: list[pulumi.Resource], **kw: Any) -> aws.eks.Addon:
            return aws.eks.Addon(
                f"{name}-addon-{addon_name}",
                cluster_name=cluster.name,
                addon_name=addon_name,
                resolve_conflicts_on_create="OVERWRITE",
                resolve_conflicts_on_update="PRESERVE",
                tags=named(f"addon-{addon_name}"),
                opts=pulumi.ResourceOptions(parent=self, depends_on=depends),
                **kw,
                **region_kw,
            )

        before = [
            # The VPC CNI enforces the NetworkPolicies the workloads declare.
            addon("vpc-cni", [cluster], configuration_values=json.dumps({"enableNetworkPolicy": "true"})),
            addon("kube-proxy", [cluster]),
            addon("eks-pod-identity-agent", [cluster]),
        ]

        node_group = aws.eks.NodeGroup(
            f"{name}-nodes",
            cluster_name=cluster.name,
            node_group_name_prefix=f"{name}-nodes-",
            node_role_arn=node_role.arn,
            subnet_ids=args.subnet_ids,
            version=args.version,
            ami_type=ami_type(args.instance_types[0]),
            instance_types=args.instance_types,
            capacity_type=args.capacity_type,
            scaling_config={"min_size": args.node_min, "max_size": args.node_max, "desired_size": args.node_desired},
            update_config={"max_unavailable_percentage": 33},
            launch_template={"id": launch_template.id, "version": launch_template.latest_version.apply(str)},
            labels={"berth/node-pool": "general"},
            tags=named("nodes"),
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[*node_attachments, *before],
                # The Cluster Autoscaler owns the desired size once the group exists: without
                # this every `up` would put it back to node_desired and undo a scale-out. The
                # bounds stay ours (min/max below are what the autoscaler moves within). On a
                # real update, raising node_min above the current desired size is refused by
                # EKS (desired must lie within min..max): raise node_desired with it.
                ignore_changes=["scalingConfig.desiredSize"],
            ),
            **region_kw,
        )
        self.node_group_name = node_group.node_group_name

        ebs_role = aws.iam.Role(
            f"{name}-ebs-csi-role",
            assume_role_policy=_assume("pods.eks.amazonaws.com", ["sts:AssumeRole", "sts:TagSession"]),
            tags=named("ebs-csi-role"),
            opts=child,
        )
        ebs_policy = aws.iam.RolePolicyAttachment(
            f"{name}-ebs-csi-policy", role=ebs_role.name,
            policy_arn=managed("service-role/AmazonEBSCSIDriverPolicy"), opts=child,
        )
        after = [
            addon("coredns", [node_group]),
            addon(
                "aws-ebs-csi-driver",
                [node_group, ebs_policy],
                pod_identity_associations=[{"role_arn": ebs_role.arn, "service_account": "ebs-csi-controller-sa"}],
            ),
        ]

        # metrics-server as the EKS community add-on rather than a pinned upstream manifest: AWS
        # builds and scans its image (ECR, per region), EKS picks the version that matches the
        # cluster and upgrades it with the cluster, and it runs 2 replicas by default (what
        # components.capacity counts). It needs nodes (ordered after the node group, like
        # coredns) but nothing waits for it: an HPA created before the metrics API answers
        # reports "unknown" until it does, so it stays off the provider's (the workloads')
        # critical path on a first deploy. Removing it (destroy) only pauses the HPAs.
        self.metrics_server = addon(METRICS_SERVER, [node_group])

        self.kubeconfig = pulumi.Output.secret(
            pulumi.Output.all(cluster.name, cluster.endpoint, cluster.certificate_authority.data).apply(
                lambda v: kubeconfig(v[0], v[1], v[2], region)
            )
        )
        self.provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=self.kubeconfig,
            # Replace the provider (and so every object) only when the cluster itself changes.
            cluster_identifier=cluster.arn,
            enable_server_side_apply=True,
            # Workloads wait for schedulable nodes and cluster DNS.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[node_group, *after]),
        )

        # On destroy the autoscaler goes before the node group (it depends on it through the
        # provider), so nothing resizes the group while EKS deletes it.
        self.autoscaler = ClusterAutoscaler(
            f"{name}-cluster-autoscaler",
            ClusterAutoscalerArgs(
                provider=self.provider,
                cluster_name=cluster.name,
                node_group_name=node_group.node_group_name,
                region=region,
                account=account,
                partition=partition,
                image=args.autoscaler_image,
                require_digest=args.require_digest,
                max_nodes=args.node_max,
                depends_on=[node_group],
                tags=args.tags,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
