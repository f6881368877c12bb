"""Tests room (components): the EKS cluster, asserted on moto's EKS/EC2/KMS/Logs state and the graph."""

from __future__ import annotations

import pytest
import yaml

from embedded_cloud import Graph
from embedded_cloud.graph import SECRET, Node
from embedded_cloud.runner import read_stack_config
from tests.conftest import Deployed

STACKS = ["staging", "prod"]


def variant(deploy, name: str, overrides: dict, **kw):
    """Staging's config under another stack name: moto's state is shared by every server of a
    test process, so a variant must not reuse the physical names of the session's stacks."""
    return deploy(name, overrides=overrides, config=read_stack_config("staging"), **kw)


def cluster_config(d: Deployed) -> dict:
    return d.graph.config["berth:cluster"]


def cluster_name(d: Deployed) -> str:
    return d.graph.outputs["clusterName"]


def describe(d: Deployed) -> dict:
    return d.client("eks").describe_cluster(name=cluster_name(d))["cluster"]


def nodegroup(d: Deployed) -> dict:
    eks = d.client("eks")
    (name,) = eks.list_nodegroups(clusterName=cluster_name(d))["nodegroups"]
    return eks.describe_nodegroup(clusterName=cluster_name(d), nodegroupName=name)["nodegroup"]


def one(graph: Graph, type_: str, suffix: str) -> Node:
    found = [n for n in graph.by_type(type_) if n.name.endswith(suffix)]
    assert len(found) == 1, f"{len(found)} {type_} named *{suffix}"
    return found[0]


@pytest.mark.parametrize("stack", STACKS)
def test_cluster_version_logging_and_secrets_encryption_as_configured(
    request: pytest.FixtureRequest, stack: str
) -> None:
    d: Deployed = request.getfixturevalue(stack)
    c = describe(d)
    assert c["version"] == cluster_config(d)["version"]
    (logging,) = c["logging"]["clusterLogging"]
    assert logging["enabled"] and set(logging["types"]) == {"api", "audit", "authenticator"}
    (enc,) = c["encryptionConfig"]
    assert enc["resources"] == ["secrets"]
    key = d.client("kms").describe_key(KeyId=enc["provider"]["keyArn"])["KeyMetadata"]
    assert key["KeyState"] == "Enabled" and key["KeyManager"] == "CUSTOMER"
    assert d.client("kms").get_key_rotation_status(KeyId=key["KeyId"])["KeyRotationEnabled"]


@pytest.mark.parametrize("stack", STACKS)
def test_api_endpoint_is_private_with_public_access_only_from_configured_cidrs(
    request: pytest.FixtureRequest, stack: str
) -> None:
    d: Deployed = request.getfixturevalue(stack)
    vpc = describe(d)["resourcesVpcConfig"]
    assert vpc["endpointPrivateAccess"] is True
    assert vpc["endpointPublicAccess"] is True
    assert vpc["publicAccessCidrs"] == cluster_config(d)["publicAccessCidrs"]
    assert "0.0.0.0/0" not in vpc["publicAccessCidrs"]
    # The control plane's ENIs live in the private subnets only.
    assert sorted(vpc["subnetIds"]) == sorted(d.graph.outputs["privateSubnetIds"])


def test_without_public_cidrs_the_endpoint_is_private_only(deploy) -> None:
    d = variant(deploy, "private-api", {"berth:cluster.publicAccessCidrs": []})
    vpc = describe(d)["resourcesVpcConfig"]
    assert vpc["endpointPrivateAccess"] is True and vpc["endpointPublicAccess"] is False
    assert "publicAccessCidrs" not in vpc, "no CIDR list: EKS would default it to 0.0.0.0/0"


@pytest.mark.parametrize("stack", STACKS)
def test_control_plane_logs_go_to_an_encrypted_log_group_with_retention(
    request: pytest.FixtureRequest, stack: str
) -> None:
    d: Deployed = request.getfixturevalue(stack)
    name = f"/aws/eks/{cluster_name(d)}/cluster"
    (group,) = d.client("logs").describe_log_groups(logGroupNamePrefix=name)["logGroups"]
    assert group["retentionInDays"] == cluster_config(d).get("logRetentionDays", 90)
    assert group["kmsKeyId"] == describe(d)["encryptionConfig"][0]["provider"]["keyArn"]
    # EKS would create the group itself (no retention, no key) if the cluster came first.
    cluster = one(d.graph, "aws:eks/cluster:Cluster", "-eks")
    log_group = one(d.graph, "aws:cloudwatch/logGroup:LogGroup", "-eks-logs")
    assert log_group.urn in cluster.dependencies


@pytest.mark.parametrize("stack", STACKS)
def test_node_group_sizes_types_and_subnets_per_environment(request: pytest.FixtureRequest, stack: str) -> None:
    d: Deployed = request.getfixturevalue(stack)
    cfg = cluster_config(d)
    ng = nodegroup(d)
    assert ng["scalingConfig"] == {"minSize": cfg["nodeMin"], "maxSize": cfg["nodeMax"],
                                   "desiredSize": cfg["nodeDesired"]}
    assert ng["instanceTypes"] == cfg["instanceTypes"]
    assert ng["capacityType"] == cfg["capacityType"]
    assert ng["amiType"] == "AL2023_x86_64_STANDARD"
    assert ng["version"] == cfg["version"]
    assert sorted(ng["subnets"]) == sorted(d.graph.outputs["privateSubnetIds"])
    azs = {s["AvailabilityZone"] for s in d.client("ec2").describe_subnets(SubnetIds=ng["subnets"])["Subnets"]}
    assert len(azs) == 3


@pytest.mark.parametrize("stack", STACKS)
def test_nodes_launch_hardened_imdsv2_only_encrypted_disk_and_node_security_group(
    request: pytest.FixtureRequest, stack: str
) -> None:
    d: Deployed = request.getfixturevalue(stack)
    lt = nodegroup(d)["launchTemplate"]
    ec2 = d.client("ec2")
    (version,) = ec2.describe_launch_template_versions(LaunchTemplateId=lt["id"], Versions=[lt["version"]])[
        "LaunchTemplateVersions"
    ]
    data = version["LaunchTemplateData"]
    assert data["MetadataOptions"]["HttpTokens"] == "required"
    assert data["MetadataOptions"]["HttpPutResponseHopLimit"] == 1
    (root,) = data["BlockDeviceMappings"]
    assert root["Ebs"]["Encrypted"] is True and root["Ebs"]["VolumeType"] == "gp3"
    assert root["Ebs"]["VolumeSize"] == 50
    cluster = d.graph.components[[n.type for n in d.graph.components].index("berth:cluster:Cluster")]
    assert data["SecurityGroupIds"] == [cluster.outputs["nodeSecurityGroupId"]]


@pytest.mark.parametrize("stack", STACKS)
def test_node_and_control_plane_security_groups_admit_each_other_narrowly(
    request: pytest.FixtureRequest, stack: str
) -> None:
    d: Deployed = request.getfixturevalue(stack)
    ec2 = d.client("ec2")
    cp_sg = describe(d)["resourcesVpcConfig"]["securityGroupIds"][0]
    node_sg = next(n for n in d.graph.components if n.type == "berth:cluster:Cluster").outputs["nodeSecurityGroupId"]

    def ingress(group: str) -> list[dict]:
        return ec2.describe_security_groups(GroupIds=[group])["SecurityGroups"][0]["IpPermissions"]

    def from_group(perms: list[dict], source: str) -> set[tuple]:
        return {(p["IpProtocol"], p.get("FromPort"), p.get("ToPort")) for p in perms
                if any(g["GroupId"] == source for g in p.get("UserIdGroupPairs", []))}

    assert from_group(ingress(cp_sg), node_sg) == {("tcp", 443, 443)}
    assert ("tcp", 10250, 10250) in from_group(ingress(node_sg), cp_sg)
    # Nothing reaches the nodes or the control plane from an address range.
    assert not any(p.get("IpRanges") for p in ingress(node_sg) + ingress(cp_sg))
    tags = {t["Key"]: t["Value"] for t in ec2.describe_security_groups(GroupIds=[node_sg])["SecurityGroups"][0]["Tags"]}
    assert tags[f"kubernetes.io/cluster/{cluster_name(d)}"] == "owned"


@pytest.mark.parametrize("stack", STACKS)
def test_access_entries_api_mode_and_addons_ordered_around_the_node_group(
    request: pytest.FixtureRequest, stack: str
) -> None:
    d: Deployed = request.getfixturevalue(stack)
    g = d.graph
    cluster = one(g, "aws:eks/cluster:Cluster", "-eks")
    assert cluster.inputs["accessConfig"]["authenticationMode"] == "API"
    assert cluster.inputs["bootstrapSelfManagedAddons"] is False
    addons = {n.inputs["addonName"]: n for n in g.by_type("aws:eks/addon:Addon")
              if g.component_of(n).type == "berth:cluster:Cluster"}
    assert set(addons) == {"vpc-cni", "coredns", "kube-proxy", "eks-pod-identity-agent", "aws-ebs-csi-driver",
                           "metrics-server", "amazon-cloudwatch-observability"}
    nodes = one(g, "aws:eks/nodeGroup:NodeGroup", "-nodes")
    for before in ("vpc-cni", "kube-proxy", "eks-pod-identity-agent"):
        assert addons[before].urn in nodes.dependencies, f"{before} must run before nodes join"
    for after in ("coredns", "aws-ebs-csi-driver"):
        assert nodes.urn in addons[after].dependencies, f"{after} needs nodes to schedule on"
    # NetworkPolicies are only enforced when the VPC CNI's policy agent is on.
    assert '"enableNetworkPolicy": "true"' in addons["vpc-cni"].inputs["configurationValues"]
    (ebs_assoc,) = addons["aws-ebs-csi-driver"].inputs["podIdentityAssociations"]
    assert ebs_assoc["serviceAccount"] == "ebs-csi-controller-sa"
    # The node group's desired size belongs to the autoscaler after creation.
    assert "scalingConfig.desiredSize" in nodes.ignore_changes


def test_deletion_protection_on_in_prod_off_in_staging(staging: Deployed, prod: Deployed) -> None:
    assert one(prod.graph, "aws:eks/cluster:Cluster", "-eks").inputs["deletionProtection"] is True
    assert one(staging.graph, "aws:eks/cluster:Cluster", "-eks").inputs["deletionProtection"] is False


@pytest.mark.parametrize("stack", STACKS)
def test_kubernetes_provider_waits_for_nodes_and_keeps_its_kubeconfig_secret(
    request: pytest.FixtureRequest, stack: str
) -> None:
    d: Deployed = request.getfixturevalue(stack)
    (provider,) = d.graph.by_type("pulumi:providers:kubernetes")
    assert provider.inputs["kubeconfig"] == SECRET and "kubeconfig" in provider.secret_keys
    nodes = one(d.graph, "aws:eks/nodeGroup:NodeGroup", "-nodes")
    coredns = one(d.graph, "aws:eks/addon:Addon", "-addon-coredns")
    assert {nodes.urn, coredns.urn} <= set(provider.dependencies)
    (ns,) = d.graph.by_type("kubernetes:core/v1:Namespace")
    assert ns.outputs["metadata"]["name"] == "shipments"
    assert ns.outputs["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    assert ns.provider == provider.name


def test_kubeconfig_authenticates_with_aws_eks_get_token() -> None:
    from components.cluster import kubeconfig

    cfg = yaml.safe_load(kubeconfig("berth-prod", "https://x.eks.amazonaws.com", "Q0E=", "us-east-1"))
    user = cfg["users"][0]["user"]
    assert "token" not in user, "no long-lived credential in the kubeconfig"
    assert user["exec"]["command"] == "aws"
    assert user["exec"]["args"][:4] == ["eks", "get-token", "--cluster-name", "berth-prod"]
    assert cfg["clusters"][0]["cluster"]["server"] == "https://x.eks.amazonaws.com"


def test_existing_cluster_creates_no_aws_cluster_and_uses_the_secret_kubeconfig(deploy) -> None:
    overrides = {
        "berth:cluster.existing": True,
        "berth:cluster.existingClusterName": "shared-cluster",
        "berth:kubeconfig": "apiVersion: v1\nkind: Config\nclusters: []\n",
    }

    def seed(cloud) -> None:
        # The existing cluster's node security group lives in the account already.
        ec2 = cloud.client("ec2", "us-east-1")
        vpc = ec2.create_vpc(CidrBlock="10.99.0.0/16")["Vpc"]["VpcId"]
        sg = ec2.create_security_group(GroupName="shared-nodes", Description="nodes", VpcId=vpc)["GroupId"]
        overrides["berth:cluster.existingNodeSecurityGroupId"] = sg
        cloud.client("eks", "us-east-1").create_cluster(
            name="shared-cluster", roleArn="arn:aws:iam::123456789012:role/shared-cluster",
            resourcesVpcConfig={"subnetIds": []})

    d = variant(deploy, "existing-cluster", overrides, seed=seed)
    (cluster,) = [n for n in d.graph.components if n.type == "berth:cluster:Cluster"]
    assert not [n for n in d.graph.descendants(cluster.urn) if n.package == "aws"], "nothing created in AWS"
    # Workloads still bind to the existing cluster (the app's and the database bootstrap's pod identity).
    associations = d.graph.by_type("aws:eks/podIdentityAssociation:PodIdentityAssociation")
    assert associations and {a.inputs["clusterName"] for a in associations} == {"shared-cluster"}
    assert "berth-existing-cluster" not in d.client("eks").list_clusters()["clusters"]
    (provider,) = d.graph.by_type("pulumi:providers:kubernetes")
    assert provider.inputs["kubeconfig"] == SECRET
    (ns,) = d.graph.by_type("kubernetes:core/v1:Namespace")
    assert ns.provider == provider.name
    assert d.graph.outputs["clusterName"] == "shared-cluster"
    # An existing cluster brings its own add-ons: no Container Insights installed by this stack.
    assert d.graph.by_type("aws:eks/addon:Addon") == []


def test_existing_cluster_without_its_settings_is_refused() -> None:
    from stacks.config import ConfigError, parse_settings

    with pytest.raises(ConfigError, match="existingClusterName"):
        parse_settings("staging", {"environment": "staging", "region": "us-east-1", "cluster": {"existing": True}})


# ---- scaling: metrics for the HPAs, the autoscaler for the nodes --------------------------------
def test_prod_keeps_control_plane_audit_logs_as_long_as_its_flow_logs(prod: Deployed) -> None:
    name = f"/aws/eks/{cluster_name(prod)}/cluster"
    (group,) = prod.client("logs").describe_log_groups(logGroupNamePrefix=name)["logGroups"]
    flow_days = prod.graph.config["berth:network"]["flowLogsRetentionDays"]
    assert group["retentionInDays"] == 365 == flow_days


@pytest.mark.parametrize("stack", STACKS)
def test_metrics_server_comes_after_the_nodes_and_blocks_no_workload(request: pytest.FixtureRequest,
                                                                    stack: str) -> None:
    d: Deployed = request.getfixturevalue(stack)
    g = d.graph
    ms = one(g, "aws:eks/addon:Addon", "-addon-metrics-server")
    assert ms.inputs["addonName"] == "metrics-server" and ms.inputs["clusterName"] == cluster_name(d)
    assert one(g, "aws:eks/nodeGroup:NodeGroup", "-nodes").urn in ms.dependencies
    # Nothing waits for it: the Kubernetes provider (so every workload and HPA) does not.
    (provider,) = g.by_type("pulumi:providers:kubernetes")
    assert ms.urn not in provider.dependencies
    for hpa in g.by_type("kubernetes:autoscaling/v2:HorizontalPodAutoscaler"):
        assert ms.urn not in hpa.dependencies


def autoscaler_deployment(g: Graph) -> Node:
    (dep,) = [n for n in g.by_type("kubernetes:apps/v1:Deployment")
              if n.inputs["metadata"]["name"] == "cluster-autoscaler"]
    return dep


def node_group_asg(d: Deployed) -> dict:
    (asg_name,) = [a["name"] for a in nodegroup(d)["resources"]["autoScalingGroups"]]
    (asg,) = d.client("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[asg_name])[
        "AutoScalingGroups"]
    return asg


def allows(policy: dict, action: str, resource_tags: dict[str, str]) -> bool:
    """Whether an identity policy allows `action` on a resource carrying these tags (the subset of
    IAM's evaluation the autoscaler's policy uses: Allow, "*" resources, StringEquals on tags)."""
    for st in policy["Statement"]:
        actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
        if st["Effect"] != "Allow" or action not in actions or st["Resource"] != "*":
            continue
        conds = st.get("Condition", {})
        assert set(conds) <= {"StringEquals"}, conds
        wanted = conds.get("StringEquals", {})
        if all(resource_tags.get(k.removeprefix("aws:ResourceTag/")) == v for k, v in wanted.items()):
            return True
    return False


@pytest.mark.parametrize("stack", STACKS)
def test_the_autoscaler_moves_the_node_group_within_its_bounds_with_a_role_scoped_to_it(
    request: pytest.FixtureRequest, stack: str
) -> None:
    d: Deployed = request.getfixturevalue(stack)
    g, cfg = d.graph, cluster_config(d)
    # The group EKS made for the node group: bounds from config, tags the autoscaler discovers.
    asg = node_group_asg(d)
    assert (asg["MinSize"], asg["MaxSize"]) == (cfg["nodeMin"], cfg["nodeMax"])
    tags = {t["Key"]: t["Value"] for t in asg["Tags"]}
    assert tags["eks:nodegroup-name"] == nodegroup(d)["nodegroupName"]

    dep = autoscaler_deployment(g)
    (container,) = dep.inputs["spec"]["template"]["spec"]["containers"]
    assert container["image"] == cfg.get("autoscalerImage", container["image"])
    assert container["image"].startswith("registry.k8s.io/autoscaling/cluster-autoscaler:v1.33.")
    flags = dict(a.split("=", 1) for a in container["command"][1:])
    discovery = flags["--node-group-auto-discovery"].removeprefix("asg:tag=").split(",")
    assert all(key in tags for key in discovery) and f"k8s.io/cluster-autoscaler/{cluster_name(d)}" in discovery
    assert flags["--max-nodes-total"] == str(cfg["nodeMax"]) and flags["--cloud-provider"] == "aws"

    # Its identity: a pod identity association for its service account, to a role whose policy may
    # resize this group and no other.
    (assoc,) = [n for n in g.by_type("aws:eks/podIdentityAssociation:PodIdentityAssociation")
                if n.inputs["serviceAccount"] == "cluster-autoscaler"]
    assert assoc.inputs["namespace"] == "kube-system" == dep.inputs["metadata"]["namespace"]
    assert dep.inputs["spec"]["template"]["spec"]["serviceAccountName"] == "cluster-autoscaler"
    assert assoc.urn in dep.dependencies, "pods created before the association get no credentials"
    iam = d.client("iam")
    role_name = assoc.inputs["roleArn"].rsplit("/", 1)[-1]
    trust = iam.get_role(RoleName=role_name)["Role"]["AssumeRolePolicyDocument"]
    assert trust["Statement"][0]["Principal"] == {"Service": "pods.eks.amazonaws.com"}
    (policy_name,) = iam.list_role_policies(RoleName=role_name)["PolicyNames"]
    policy = iam.get_role_policy(RoleName=role_name, PolicyName=policy_name)["PolicyDocument"]
    for action in ("autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"):
        assert allows(policy, action, tags)
        assert not allows(policy, action, {**tags, "eks:nodegroup-name": "someone-elses-nodes"})
        assert not allows(policy, action, {**tags, "eks:cluster-name": "another-cluster"})
    (describe_ng,) = [s for s in policy["Statement"] if "eks:DescribeNodegroup" in s["Action"]]
    assert describe_ng["Resource"].startswith(nodegroup(d)["nodegroupArn"].rsplit("/", 1)[0] + "/")
    assert not any(a.endswith(("*", "UpdateAutoScalingGroup", "CreateAutoScalingGroup"))
                   for s in policy["Statement"] for a in s["Action"])

    # The group's own bounds hold whatever the autoscaler asks (AWS refuses beyond max).
    auto = d.client("autoscaling")
    with pytest.raises(auto.exceptions.ClientError, match=f"above max value {cfg['nodeMax']}"):
        auto.set_desired_capacity(AutoScalingGroupName=asg["AutoScalingGroupName"],
                                  DesiredCapacity=cfg["nodeMax"] + 1)


@pytest.mark.parametrize("stack", STACKS)
def test_the_autoscaler_runs_hardened_with_a_budget_and_leader_election(request: pytest.FixtureRequest,
                                                                        stack: str) -> None:
    d: Deployed = request.getfixturevalue(stack)
    g = d.graph
    dep = autoscaler_deployment(g)
    spec = dep.inputs["spec"]
    pod = spec["template"]["spec"]
    (c,) = pod["containers"]
    assert spec["replicas"] == 2 and "--leader-elect=true" in c["command"]
    assert pod["priorityClassName"] == "system-cluster-critical"
    sc = c["securityContext"]
    assert sc["readOnlyRootFilesystem"] and not sc["allowPrivilegeEscalation"] and sc["capabilities"] == {
        "drop": ["ALL"]}
    assert sc["runAsNonRoot"] and sc["runAsUser"] >= 10000
    assert c["resources"]["requests"] and c["resources"]["limits"]
    assert c["livenessProbe"]["httpGet"]["path"] == c["readinessProbe"]["httpGet"]["path"] == "/health-check"
    labels = spec["selector"]["matchLabels"]
    (pdb,) = [n for n in g.by_type("kubernetes:policy/v1:PodDisruptionBudget")
              if n.inputs["metadata"]["namespace"] == "kube-system"]
    assert pdb.inputs["spec"]["selector"]["matchLabels"] == labels and pdb.inputs["spec"]["maxUnavailable"] == 1
    # RBAC as the upstream example: it may evict pods and update nodes, and nothing is a wildcard.
    (role,) = g.by_type("kubernetes:rbac.authorization.k8s.io/v1:ClusterRole")
    rules = role.inputs["rules"]
    assert {"apiGroups": [""], "resources": ["pods/eviction"], "verbs": ["create"]} in rules
    assert not any("*" in r.get("verbs", []) + r.get("resources", []) + r.get("apiGroups", []) for r in rules)
    (binding,) = g.by_type("kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding")
    assert binding.inputs["subjects"] == [{"kind": "ServiceAccount", "name": "cluster-autoscaler",
                                           "namespace": "kube-system"}]


def test_prod_pins_the_autoscaler_by_digest_and_a_tag_is_refused_there() -> None:
    from components.cluster import ClusterArgs
    from components.settings import ClusterSettings

    with pytest.raises(ValueError, match="must be pinned by digest"):
        ClusterArgs(vpc_id="vpc-1", subnet_ids=["a", "b"], require_digest=True, settings=ClusterSettings(
            autoscaler_image="registry.k8s.io/autoscaling/cluster-autoscaler:v1.33.1"))


@pytest.mark.parametrize("stack", STACKS)
def test_the_capacity_arithmetic_is_a_stack_output(request: pytest.FixtureRequest, stack: str) -> None:
    d: Deployed = request.getfixturevalue(stack)
    cap, cfg = d.graph.outputs["capacity"], cluster_config(d)
    assert cap["node_max"] == cfg["nodeMax"] and cap["instance_type"] in cfg["instanceTypes"]
    assert 0 < cap["nodes_needed"] <= cfg["nodeMax"]
    app_max = d.graph.config["berth:app"]["maxReplicas"]
    assert {"name": "app", "pods": app_max + 1, "cpu_m": 250, "memory_mib": 256} in cap["workloads"]
    assert cap["requested"]["cpu_m"] <= cap["cluster_free"]["cpu_m"]


ACCESS_ENTRY = "aws:eks/accessEntry:AccessEntry"
ASSOCIATION = "aws:eks/accessPolicyAssociation:AccessPolicyAssociation"


@pytest.mark.parametrize("stack", STACKS)
def test_only_the_declared_roles_reach_the_cluster_api(request: pytest.FixtureRequest, stack: str) -> None:
    d: Deployed = request.getfixturevalue(stack)
    g, c = d.graph, cluster_config(d)
    cluster = one(g, "aws:eks/cluster:Cluster", "-eks")
    # The creator (whoever runs the first `up`) gets no implicit admin; the flag, ForceNew in the
    # provider, is ignored on update so existing clusters are not replaced for it.
    assert cluster.inputs["accessConfig"]["bootstrapClusterCreatorAdminPermissions"] is False
    assert "accessConfig.bootstrapClusterCreatorAdminPermissions" in cluster.ignore_changes
    policies: dict[str, set[str]] = {}
    for n in g.by_type(ASSOCIATION):
        assert n.inputs["accessScope"] == {"type": "cluster"}
        policies.setdefault(n.inputs["principalArn"], set()).add(n.inputs["policyArn"].rsplit("/", 1)[-1])
    entries = {n.inputs["principalArn"] for n in g.by_type(ACCESS_ENTRY)}
    admin = {"AmazonEKSClusterAdminPolicy"}
    assert policies == {c["ciRoleArn"]: admin, **{a: admin for a in c["adminRoleArns"]},
                        **{r: {"AmazonEKSViewPolicy"} for r in c["readOnlyRoleArns"]}}
    assert entries == set(policies)
    # A role not listed -- the node role, the cluster's own role, anyone else -- has no entry.
    roles = {n.outputs.get("arn") for n in g.by_type("aws:iam/role:Role")}
    assert roles and not roles & entries
    assert "arn:aws:iam::123456789012:role/someone-else" not in entries
    # The Kubernetes provider (every workload) waits for the CI role's access.
    (provider,) = g.by_type("pulumi:providers:kubernetes")
    ci = [n.urn for n in [*g.by_type(ACCESS_ENTRY), *g.by_type(ASSOCIATION)] if n.inputs["principalArn"] == c["ciRoleArn"]]
    assert len(ci) == 2 and set(ci) <= set(provider.dependencies)
