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

With `settings.existing` (and its `existing_kubeconfig`), no cluster is created: the provider
comes from that kubeconfig and the component only creates the workload namespace.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components import kms
from components.autoscaler import ClusterAutoscaler, ClusterAutoscalerArgs
from components.base import Component
from components.monitoring import Graph, Watch
from components.placement import locate
from components.settings import AlarmSettings, ClusterSettings, cpu_architecture, is_digest
from components.workload import POD_IDENTITY_TRUST_POLICY

# The workload namespace every app-side component deploys into.
NAMESPACE = "shipments"
LOG_TYPES = ["api", "audit", "authenticator"]
# Add-ons the nodes need to become Ready (networking, service proxy, pod credentials) are
# installed before the node group; the rest need nodes to schedule onto.
ADDONS_BEFORE_NODES = ("vpc-cni", "kube-proxy", "eks-pod-identity-agent")
ADDONS_AFTER_NODES = ("coredns", "aws-ebs-csi-driver")
# The resource metrics API (metrics.k8s.io) the HPAs read; EKS does not install it by itself.
METRICS_SERVER = "metrics-server"
# EKS access policies by level (arn:<partition>:eks::aws:cluster-access-policy/<name>).
ACCESS_POLICIES = {"admin": "AmazonEKSClusterAdminPolicy", "view": "AmazonEKSViewPolicy"}
# Where the amazon-cloudwatch-observability add-on writes: the CloudWatch agent's performance
# events and Fluent Bit's application, host and dataplane logs (Container Insights user guide,
# "Set up Fluent Bit as a DaemonSet").
CONTAINER_INSIGHTS_PREFIX = "/aws/containerinsights/"
CONTAINER_INSIGHTS_GROUPS = ("performance", "application", "host", "dataplane")


@dataclass
class ClusterArgs:
    # EKS version, endpoint access, nodes, logs, admins, the autoscaler's image; or `existing`.
    settings: ClusterSettings
    # Wiring for a new cluster: the VPC and its private subnets (at least two, in different AZs).
    vpc_id: pulumi.Input[str] | None = None
    subnet_ids: Sequence[pulumi.Input[str]] = ()
    # Wiring for an existing cluster (`settings.existing`): its kubeconfig, a secret.
    existing_kubeconfig: pulumi.Input[str] | None = None
    # The environment pins images by digest (production): the autoscaler's too.
    require_digest: bool = False
    tags: dict[str, str] = field(default_factory=dict)
    region: str | None = None

    def __post_init__(self) -> None:
        s = self.settings
        if s.existing != (self.existing_kubeconfig is not None):
            raise ValueError("settings.existing and existing_kubeconfig go together: an existing cluster is reached "
                             "through its kubeconfig")
        if s.existing:
            return
        if self.vpc_id is None or len(self.subnet_ids) < 2:
            raise ValueError("a new cluster needs vpc_id and at least two subnet_ids (in different AZs)")
        if self.require_digest and not is_digest(s.autoscaler_image):
            raise ValueError(f"autoscaler_image {s.autoscaler_image!r} must be pinned by digest in this environment")


def ami_type(instance_type: str) -> str:
    """The EKS-optimized AL2023 AMI family for an instance type (Graviton types are arm64)."""
    return "AL2023_ARM_64_STANDARD" if cpu_architecture(instance_type) == "arm64" else "AL2023_x86_64_STANDARD"


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


class Cluster(Component):
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
    existing: bool

    def __init__(self, name: str, args: ClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, opts, tags=args.tags)
        s = args.settings
        self.version = s.version
        self.existing = s.existing
        # Pod identity replaces IRSA here, so no OIDC provider is created.
        self.oidc_provider_arn = None
        if s.existing:
            self._adopt(s, args.existing_kubeconfig)
        else:
            self._where = locate(self, args.region)
            key, log_group = self._key_and_log_group(s)
            role, role_policies = self._cluster_role(key)
            control_plane_sg, node_sg = self._security_groups(args.vpc_id)
            cluster = self._control_plane(s, args.subnet_ids, role, [log_group, *role_policies], key, control_plane_sg)
            ci_grant = self._access(s, cluster)
            before = [
                # The VPC CNI enforces the NetworkPolicies the workloads declare.
                self._addon(cluster, "vpc-cni", [cluster],
                            configuration_values=json.dumps({"enableNetworkPolicy": "true"})),
                self._addon(cluster, "kube-proxy", [cluster]),
                self._addon(cluster, "eks-pod-identity-agent", [cluster]),
            ]
            node_group = self._node_group(s, args.subnet_ids, cluster, node_sg, before)
            after = self._addons_on_nodes(cluster, node_group)
            self._kubernetes(cluster, node_group, [*after, *ci_grant])
            self._container_insights(cluster, key, s, opts)
            self._autoscaler(args, cluster, node_group)
        self._namespace()
        self.register_outputs(
            {
                "clusterName": self.cluster_name,
                "endpoint": self.endpoint,
                "nodeSecurityGroupId": self.node_security_group_id,
                "clusterSecurityGroupId": self.cluster_security_group_id,
                "namespace": self.namespace,
            }
        )

    # ---- what the alarms watch -------------------------------------------------------------
    def watches(self, s: AlarmSettings) -> list[Watch]:
        """The nodes' CPU and memory, from Container Insights (installed here on a cluster of our
        own; an existing cluster must bring it, or these alarms see no data)."""
        dims = {"ClusterName": self.cluster_name}
        graph = Graph("Cluster nodes CPU / memory %", "cluster")
        return [
            Watch("cluster-node-cpu", "ContainerInsights", "node_cpu_utilization", dims, "GreaterThanThreshold",
                  s.node_cpu_percent, f"cluster: node CPU above {s.node_cpu_percent:g}%", graph=graph),
            Watch("cluster-node-memory", "ContainerInsights", "node_memory_utilization", dims,
                  "GreaterThanThreshold", s.node_memory_percent, f"cluster: node memory above {s.node_memory_percent:g}%",
                  graph=graph),
        ]

    # ---- plumbing -----------------------------------------------------------------------
    def _managed(self, policy: str) -> str:
        return f"arn:{self._where.partition}:iam::aws:policy/{policy}"

    # ---- an existing cluster ----------------------------------------------------------
    def _adopt(self, s: ClusterSettings, kubeconfig: pulumi.Input[str] | None) -> None:
        assert s.existing_cluster_name and s.existing_node_security_group_id
        self.cluster_name = pulumi.Output.from_input(s.existing_cluster_name)
        self.endpoint = None
        self.cluster_security_group_id = None
        self.kms_key_arn = None
        self.node_group_name = None
        self.node_security_group_id = pulumi.Output.from_input(s.existing_node_security_group_id)
        self.kubeconfig = pulumi.Output.secret(kubeconfig)
        self.provider = k8s.Provider(
            f"{self.prefix}-k8s",
            kubeconfig=self.kubeconfig,
            cluster_identifier=s.existing_cluster_name,
            enable_server_side_apply=True,
            opts=self.child(),
        )

    # ---- a new cluster, in dependency order ---------------------------------------------
    def _key_and_log_group(self, s: ClusterSettings) -> tuple[aws.kms.Key, aws.cloudwatch.LogGroup]:
        """One key for Kubernetes secrets (envelope encryption) and the control-plane log group."""
        name, w = self.prefix, self._where
        log_group_name = f"/aws/eks/{name}/cluster"
        key = aws.kms.Key(
            f"{name}-eks-key",
            description=f"{name} EKS secrets and control-plane logs",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=kms.key_policy(
                kms.account_admin(w.partition, w.account),
                kms.logs_for_group(w.partition, w.region, w.account, log_group_name,
                                   f"{CONTAINER_INSIGHTS_PREFIX}{name}/*"),
            ),
            tags=self.named("eks-key"),
            opts=self.child(),
            **w.kw,
        )
        aws.kms.Alias(f"{name}-eks-key-alias", name=f"alias/{name}-eks", target_key_id=key.key_id,
                      opts=self.child(), **w.kw)
        self.kms_key_arn = key.arn
        # EKS writes to this exact name; creating it first sets retention and encryption.
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-eks-logs",
            name=log_group_name,
            retention_in_days=s.log_retention_days,
            kms_key_id=key.arn,
            tags=self.named("eks-logs"),
            opts=self.child(),
            **w.kw,
        )
        return key, log_group

    def _cluster_role(self, key: aws.kms.Key) -> tuple[aws.iam.Role, list[pulumi.Resource]]:
        """The control plane's role: EKS's managed policies and the key (the cluster waits for all)."""
        name = self.prefix
        role = aws.iam.Role(
            f"{name}-eks-cluster-role",
            assume_role_policy=_assume("eks.amazonaws.com", ["sts:AssumeRole", "sts:TagSession"]),
            tags=self.named("eks-cluster-role"),
            opts=self.child(),
        )
        attachments: list[pulumi.Resource] = [
            aws.iam.RolePolicyAttachment(f"{name}-eks-cluster-{short}", role=role.name,
                                         policy_arn=self._managed(policy), opts=self.child())
            for short, policy in (("policy", "AmazonEKSClusterPolicy"),
                                  ("vpc-controller", "AmazonEKSVPCResourceController"))
        ]
        attachments.append(aws.iam.RolePolicy(
            f"{name}-eks-cluster-kms",
            role=role.id,
            policy=key.arn.apply(lambda arn: json.dumps({
                "Version": "2012-10-17",
                "Statement": [{
                    "Effect": "Allow",
                    "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ListGrants", "kms:DescribeKey"],
                    "Resource": arn,
                }],
            })),
            opts=self.child(),
        ))
        return role, attachments

    def _security_groups(self, vpc_id: pulumi.Input[str] | None) -> tuple[aws.ec2.SecurityGroup, aws.ec2.SecurityGroup]:
        """The control plane's ENIs and the nodes' ENIs (which pods share under the VPC CNI). The
        node group is the one the data tiers admit."""
        name, kw = self.prefix, self._where.kw
        control_plane_sg = aws.ec2.SecurityGroup(
            f"{name}-eks-control-plane-sg",
            vpc_id=vpc_id,
            description=f"{name} EKS control plane ENIs",
            tags=self.named("eks-control-plane"),
            opts=self.child(),
            **kw,
        )
        node_sg = aws.ec2.SecurityGroup(
            f"{name}-eks-node-sg",
            vpc_id=vpc_id,
            description=f"{name} EKS nodes and pods",
            # The AWS Load Balancer Controller adds its rules to the one SG carrying this tag.
            tags={**self.named("eks-node"), f"kubernetes.io/cluster/{name}": "owned"},
            opts=self.child(),
            **kw,
        )

        def ingress(rule: str, sg: aws.ec2.SecurityGroup, **rule_kw: Any) -> None:
            aws.vpc.SecurityGroupIngressRule(f"{name}-{rule}", security_group_id=sg.id, tags=self.named(rule),
                                             opts=self.child(), **rule_kw, **kw)

        def egress(rule: str, sg: aws.ec2.SecurityGroup, **rule_kw: Any) -> None:
            aws.vpc.SecurityGroupEgressRule(f"{name}-{rule}", security_group_id=sg.id, tags=self.named(rule),
                                            opts=self.child(), **rule_kw, **kw)

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
        self.node_security_group_id = node_sg.id
        return control_plane_sg, node_sg

    def _control_plane(self, s: ClusterSettings, subnet_ids: Sequence[pulumi.Input[str]], role: aws.iam.Role,
                       depends_on: list[pulumi.Resource], key: aws.kms.Key,
                       control_plane_sg: aws.ec2.SecurityGroup) -> aws.eks.Cluster:
        """The EKS control plane: private endpoint (public only from listed ranges), encrypted
        secrets, control-plane logs, access entries (API mode). It waits for its log group (EKS
        would create it unencrypted) and its role's policies."""
        name = self.prefix
        public = bool(s.public_access_cidrs)
        cluster = aws.eks.Cluster(
            f"{name}-eks",
            name=name,
            version=s.version,
            upgrade_policy={"support_type": s.upgrade_policy},
            role_arn=role.arn,
            vpc_config={
                "subnet_ids": subnet_ids,
                "security_group_ids": [control_plane_sg.id],
                "endpoint_private_access": True,
                "endpoint_public_access": public,
                # Explicit even when private-only: EKS would otherwise default to 0.0.0.0/0.
                "public_access_cidrs": s.public_access_cidrs if public else None,
            },
            encryption_config={"provider": {"key_arn": key.arn}, "resources": ["secrets"]},
            enabled_cluster_log_types=LOG_TYPES,
            access_config={
                "authentication_mode": "API",
                # No implicit admin for whoever created the cluster: access is the entries
                # declared in _access (the CI role's among them), whoever runs the first `up`.
                "bootstrap_cluster_creator_admin_permissions": False,
            },
            # Add-ons are managed below as aws.eks.Addon, not the unmanaged bootstrap copies.
            bootstrap_self_managed_addons=False,
            deletion_protection=s.deletion_protection,
            tags=self.named("eks"),
            # bootstrapClusterCreatorAdminPermissions is ForceNew in terraform-provider-aws (EKS
            # takes it at CreateCluster only): without this, every cluster made while it was true
            # would be replaced (and a protected prod cluster refused). Ignored on update, a new
            # cluster still gets false; an existing one keeps its creator's entry until removed
            # by hand (`aws eks delete-access-entry`, once the declared entries are in place).
            opts=self.child(depends_on=depends_on, ignore_changes=["accessConfig.bootstrapClusterCreatorAdminPermissions"]),
            **self._where.kw,
        )
        self.cluster_name = cluster.name
        self.endpoint = cluster.endpoint
        self.cluster_security_group_id = cluster.vpc_config.cluster_security_group_id
        return cluster

    def _access(self, s: ClusterSettings, cluster: aws.eks.Cluster) -> list[pulumi.Resource]:
        """Who reaches the Kubernetes API, declared as access entries with access policies: the CI
        deploy role and the admin roles get AmazonEKSClusterAdminPolicy, the read-only roles
        AmazonEKSViewPolicy, cluster-wide; nobody else (the creator included) has an entry.
        Returns the CI role's grant: the Kubernetes provider (every workload) waits for it."""
        name, kw = self.prefix, self._where.kw
        grants = [(arn, ACCESS_POLICIES["admin"], "admin") for arn in [s.ci_role_arn, *s.admin_role_arns] if arn]
        grants += [(arn, ACCESS_POLICIES["view"], "view") for arn in s.read_only_role_arns]
        ci_grant: list[pulumi.Resource] = []
        for principal, policy, level in grants:
            short = principal.rsplit("/", 1)[-1]
            entry = aws.eks.AccessEntry(f"{name}-access-{short}", cluster_name=cluster.name,
                                        principal_arn=principal, type="STANDARD", tags=self.named(f"access-{short}"),
                                        opts=self.child(), **kw)
            association = aws.eks.AccessPolicyAssociation(
                f"{name}-access-{short}-{level}",
                cluster_name=cluster.name,
                principal_arn=principal,
                policy_arn=f"arn:{self._where.partition}:eks::aws:cluster-access-policy/{policy}",
                access_scope={"type": "cluster"},
                opts=self.child(depends_on=[entry]),
                **kw,
            )
            if principal == s.ci_role_arn:
                ci_grant = [entry, association]
        return ci_grant

    def _addon(self, cluster: aws.eks.Cluster, addon_name: str, depends: list[pulumi.Resource],
               **addon_kw: Any) -> aws.eks.Addon:
        return aws.eks.Addon(
            f"{self.prefix}-addon-{addon_name}",
            cluster_name=cluster.name,
            addon_name=addon_name,
            resolve_conflicts_on_create="OVERWRITE",
            resolve_conflicts_on_update="PRESERVE",
            tags=self.named(f"addon-{addon_name}"),
            opts=self.child(depends_on=depends),
            **addon_kw,
            **self._where.kw,
        )

    def _node_group(self, s: ClusterSettings, subnet_ids: Sequence[pulumi.Input[str]], cluster: aws.eks.Cluster,
                    node_sg: aws.ec2.SecurityGroup, addons: list[aws.eks.Addon]) -> aws.eks.NodeGroup:
        """The managed node group: its role, a hardened launch template, the bounds the autoscaler
        moves within. It waits for the add-ons nodes need to become Ready."""
        name, kw = self.prefix, self._where.kw
        node_role = aws.iam.Role(
            f"{name}-eks-node-role",
            assume_role_policy=_assume("ec2.amazonaws.com"),
            tags=self.named("eks-node-role"),
            opts=self.child(),
        )
        node_attachments = [
            aws.iam.RolePolicyAttachment(f"{name}-eks-node-{short}", role=node_role.name,
                                         policy_arn=self._managed(policy), opts=self.child())
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
                        "volume_size": s.node_disk_gib,
                        "volume_type": "gp3",
                        "encrypted": "true",
                        "delete_on_termination": "true",
                    },
                }
            ],
            monitoring={"enabled": True},
            tag_specifications=[
                {"resource_type": "instance", "tags": self.named("eks-node")},
                {"resource_type": "volume", "tags": self.named("eks-node")},
            ],
            tags=self.named("eks-node-lt"),
            opts=self.child(),
            **kw,
        )
        node_group = aws.eks.NodeGroup(
            f"{name}-nodes",
            cluster_name=cluster.name,
            node_group_name_prefix=f"{name}-nodes-",
            node_role_arn=node_role.arn,
            subnet_ids=subnet_ids,
            version=s.version,
            ami_type=ami_type(s.instance_types[0]),
            instance_types=s.instance_types,
            capacity_type=s.capacity_type,
            scaling_config={"min_size": s.node_min, "max_size": s.node_max, "desired_size": s.node_desired},
            update_config={"max_unavailable_percentage": 33},
            launch_template={"id": launch_template.id, "version": launch_template.latest_version.apply(str)},
            labels={"berth/node-pool": "general"},
            tags=self.named("nodes"),
            opts=self.child(
                depends_on=[*node_attachments, *addons],
                # The Cluster Autoscaler owns the desired size once the group exists: without
                # this every `up` would put it back to node_desired and undo a scale-out. The
                # bounds stay ours (min/max below are what the autoscaler moves within). On a
                # real update, raising node_min above the current desired size is refused by
                # EKS (desired must lie within min..max): raise node_desired with it.
                ignore_changes=["scalingConfig.desiredSize"],
            ),
            **kw,
        )
        self.node_group_name = node_group.node_group_name
        return node_group

    def _addons_on_nodes(self, cluster: aws.eks.Cluster, node_group: aws.eks.NodeGroup) -> list[aws.eks.Addon]:
        """Add-ons that need nodes to schedule onto: CoreDNS, the EBS CSI driver (its own pod
        identity), metrics-server (nothing waits for it). Returns what the workloads wait for."""
        name = self.prefix
        ebs_role = aws.iam.Role(
            f"{name}-ebs-csi-role",
            assume_role_policy=POD_IDENTITY_TRUST_POLICY,
            tags=self.named("ebs-csi-role"),
            opts=self.child(),
        )
        ebs_policy = aws.iam.RolePolicyAttachment(
            f"{name}-ebs-csi-policy", role=ebs_role.name,
            policy_arn=self._managed("service-role/AmazonEBSCSIDriverPolicy"), opts=self.child(),
        )
        after = [
            self._addon(cluster, "coredns", [node_group]),
            self._addon(
                cluster,
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
        self.metrics_server = self._addon(cluster, METRICS_SERVER, [node_group])
        return after

    def _kubernetes(self, cluster: aws.eks.Cluster, node_group: aws.eks.NodeGroup,
                    after: list[pulumi.Resource]) -> None:
        """The Kubernetes provider every workload uses: a kubeconfig made from the cluster's outputs."""
        region = self._where.region
        self.kubeconfig = pulumi.Output.secret(
            pulumi.Output.all(cluster.name, cluster.endpoint, cluster.certificate_authority.data).apply(
                lambda v: kubeconfig(v[0], v[1], v[2], region)
            )
        )
        self.provider = k8s.Provider(
            f"{self.prefix}-k8s",
            kubeconfig=self.kubeconfig,
            # Replace the provider (and so every object) only when the cluster itself changes.
            cluster_identifier=cluster.arn,
            enable_server_side_apply=True,
            # Workloads wait for schedulable nodes, cluster DNS and the CI role's access: the
            # provider authenticates as whoever runs `pulumi up` (`aws eks get-token`), which in
            # CI is that role; without its entry every Kubernetes call would be Unauthorized.
            opts=self.child(depends_on=[node_group, *after]),
        )

    def _container_insights(self, cluster: aws.eks.Cluster, key: aws.kms.Key, s: ClusterSettings,
                            opts: pulumi.ResourceOptions | None) -> None:
        """Container Insights (the amazon-cloudwatch-observability add-on): the node metrics the
        Cluster's watches alarm on, and the pods the capacity check counts -- its agents and the
        operator are components/capacity.py's CONTAINER_INSIGHTS_PODS, which stacks/config.py's
        capacity() places on every cluster it sizes. An existing cluster brings its own (or not):
        neither this add-on nor that count applies to it."""
        name = self.prefix
        # These three were the Alarms component's children (of the same name, beside this one):
        # adopted, not replaced -- a second add-on of the same name on the cluster would be refused
        # before the old one is deleted.
        moved = [pulumi.Alias(parent=pulumi.create_urn(name, "berth:alarms:Alarms", parent=opts.parent if opts else None))]
        # The CloudWatch agent gets its own role through EKS Pod Identity, not the node role.
        role = aws.iam.Role(
            f"{name}-container-insights-role",
            description=f"{name}: CloudWatch agent (Container Insights)",
            assume_role_policy=POD_IDENTITY_TRUST_POLICY,
            tags=self.named("container-insights-role"),
            opts=self.child(aliases=moved),
        )
        attachment = aws.iam.RolePolicyAttachment(
            f"{name}-container-insights-policy",
            role=role.name,
            policy_arn=self._managed("CloudWatchAgentServerPolicy"),
            opts=self.child(aliases=moved),
        )
        # The agents write these groups, making them (no expiry, no key) if they are missing: the
        # stack makes them first, and removes them with a non-production stack.
        groups = [
            aws.cloudwatch.LogGroup(
                f"{name}-container-insights-{kind}",
                name=f"{CONTAINER_INSIGHTS_PREFIX}{name}/{kind}",
                retention_in_days=s.container_log_retention_days,
                kms_key_id=key.arn,
                tags=self.named(f"container-insights-{kind}"),
                opts=self.child(retain_on_delete=self.protected),
                **self._where.kw,
            )
            for kind in CONTAINER_INSIGHTS_GROUPS
        ]
        aws.eks.Addon(
            f"{name}-container-insights",
            cluster_name=cluster.name,
            addon_name="amazon-cloudwatch-observability",
            resolve_conflicts_on_create="OVERWRITE",
            resolve_conflicts_on_update="PRESERVE",
            pod_identity_associations=[{"role_arn": role.arn, "service_account": "cloudwatch-agent"}],
            tags=self.named("container-insights"),
            # After what the workloads wait for (the provider: the node group, CoreDNS): its agents
            # need schedulable nodes.
            opts=self.child(depends_on=[attachment, self.provider, *groups], aliases=moved),
            **self._where.kw,
        )

    def _autoscaler(self, args: ClusterArgs, cluster: aws.eks.Cluster, node_group: aws.eks.NodeGroup) -> None:
        """The Cluster Autoscaler. On destroy it goes before the node group (it depends on it through
        the provider), so nothing resizes the group while EKS deletes it."""
        self.autoscaler = ClusterAutoscaler(
            f"{self.prefix}-cluster-autoscaler",
            ClusterAutoscalerArgs(
                provider=self.provider,
                cluster_name=cluster.name,
                node_group_name=node_group.node_group_name,
                where=self._where,
                settings=args.settings,
                require_digest=args.require_digest,
                depends_on=[node_group],
                tags=args.tags,
            ),
            opts=self.child(),
        )

    # ---- either way ------------------------------------------------------------------------
    def _namespace(self) -> None:
        """The workload namespace, restricted by Pod Security Admission."""
        self.use_kubernetes(self.provider, labels={"app.kubernetes.io/part-of": "shipments",
                                                   "app.kubernetes.io/managed-by": "pulumi"})
        self.namespace_resource = k8s.core.v1.Namespace(
            f"{self.prefix}-{NAMESPACE}",
            metadata=self.meta(NAMESPACE, namespaced=False, labels={
                # Pod Security Admission: only pods meeting the "restricted" profile are admitted.
                "pod-security.kubernetes.io/enforce": "restricted",
                "pod-security.kubernetes.io/enforce-version": "latest",
                "pod-security.kubernetes.io/audit": "restricted",
                "pod-security.kubernetes.io/warn": "restricted",
            }),
            opts=self.k8s(),
        )
        # The name is fixed; deriving it from the resource makes consumers wait for the namespace.
        self.namespace = self.namespace_resource.metadata.apply(lambda _: NAMESPACE)
