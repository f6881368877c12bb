"""Embedded cloud room: EKS clusters and node groups in moto, and what moto lacks around them.

moto's EKS knows clusters and node groups; add-ons, access entries, access policy
associations and pod identity associations are answered here after checking, in moto,
that their cluster exists (so a wrong cluster name fails like it would on AWS). Access entries
and their policies are checked as EKS checks them (the principal is an IAM role or user, one
entry per principal, the policy one EKS defines, the scope cluster or namespace, an association
needs its entry); `access_entries()` lists a cluster's, as ListAccessEntries would. CreateCluster
refuses subnets in the zone IDs EKS does not support (components/zones.py), by the account's
zone mapping (`Ctx.zone_id`). The node
launch template is created in moto's EC2.

A managed node group is backed by an EC2 Auto Scaling group that EKS creates and tags
(`eks:cluster-name`, `eks:nodegroup-name` and the Cluster Autoscaler's discovery tags); moto's
EKS only names it, so the handler creates it in moto's Auto Scaling with the node group's
bounds and launch template. moto is taught that SetDesiredCapacity stays within the group's
min and max (AWS refuses outside them), which is what bounds the Cluster Autoscaler.

Lazy pulumi/moto imports here: see embedded_cloud/__init__.py.
"""

from __future__ import annotations

import base64
import re
from typing import Any

from components.zones import EKS_UNSUPPORTED_ZONE_IDS
from embedded_cloud.handlers import Ctx, Out, Res, resource, short_hash, tag_list, validated
from embedded_cloud.handlers.logs import ensure_service_group


def teach_moto() -> None:
    """The SetDesiredCapacity API refuses a value outside the group's MinSize..MaxSize, as AWS
    does (idempotent). Patched at the API, not the backend: moto's own ForceDelete drains a
    group through the backend method with 0."""
    from moto.autoscaling.exceptions import ValidationError
    from moto.autoscaling.responses import AutoScalingResponse

    if getattr(AutoScalingResponse.set_desired_capacity, "_berth_bounded", False):
        return
    original = AutoScalingResponse.set_desired_capacity

    def set_desired_capacity(self: Any) -> Any:
        group = self.autoscaling_backend.autoscaling_groups[self._get_param("AutoScalingGroupName")]
        wanted = self._get_int_param("DesiredCapacity")
        if wanted is not None and wanted > group.max_size:
            raise ValidationError(f"New SetDesiredCapacity value {wanted} is above max value {group.max_size} "
                                  "for the AutoScalingGroup.")
        if wanted is not None and wanted < group.min_size:
            raise ValidationError(f"New SetDesiredCapacity value {wanted} is below min value {group.min_size} "
                                  "for the AutoScalingGroup.")
        return original(self)

    set_desired_capacity._berth_bounded = True  # type: ignore[attr-defined]
    AutoScalingResponse.set_desired_capacity = set_desired_capacity  # type: ignore[method-assign]


teach_moto()


def node_group_asg_tags(cluster: str, node_group: str) -> dict[str, str]:
    """The tags EKS puts on a managed node group's Auto Scaling group."""
    return {
        "eks:cluster-name": cluster,
        "eks:nodegroup-name": node_group,
        "k8s.io/cluster-autoscaler/enabled": "true",
        f"k8s.io/cluster-autoscaler/{cluster}": "owned",
    }


def _cluster(ctx: Ctx, r: Res) -> dict[str, Any]:
    """The cluster a sub-resource names, from moto (raises ResourceNotFoundException)."""
    return ctx.client("eks", r.region).describe_cluster(name=r.inputs["clusterName"])["cluster"]


@resource("aws:eks/cluster:Cluster")
def cluster(ctx: Ctx, r: Res) -> Out:
    eks = ctx.client("eks", r.region)
    ec2 = ctx.client("ec2", r.region)
    name = r.physical_name(max_len=100)
    vpc_in = dict(r.inputs.get("vpcConfig") or {})
    subnets = vpc_in.get("subnetIds") or []
    found = ec2.describe_subnets(SubnetIds=subnets)["Subnets"] if subnets else []
    vpc_id = found[0]["VpcId"] if found else None
    refused = sorted({f"{sn['AvailabilityZone']} ({zid})" for sn in found
                      if (zid := ctx.zone_id(sn["AvailabilityZone"], sn["AvailabilityZoneId"])) in EKS_UNSUPPORTED_ZONE_IDS})
    if refused:
        raise ValueError(f"UnsupportedAvailabilityZoneException: Cannot create cluster '{name}' because "
                         f"{', '.join(refused)}, the targeted availability zone, does not currently have sufficient "
                         f"capacity to support the cluster (EKS refuses control-plane subnets in these zone IDs)")
    vpc_config: dict[str, Any] = {"subnetIds": subnets}
    for key in ("securityGroupIds", "endpointPrivateAccess", "endpointPublicAccess", "publicAccessCidrs"):
        if vpc_in.get(key) is not None:
            vpc_config[key] = vpc_in[key]
    kw: dict[str, Any] = {"name": name, "roleArn": r.inputs["roleArn"], "resourcesVpcConfig": vpc_config}
    if r.inputs.get("version"):
        kw["version"] = r.inputs["version"]
    if r.inputs.get("enabledClusterLogTypes"):
        kw["logging"] = {"clusterLogging": [{"types": list(r.inputs["enabledClusterLogTypes"]), "enabled": True}]}
    enc = r.inputs.get("encryptionConfig")
    if enc:
        kw["encryptionConfig"] = [{"resources": enc["resources"], "provider": {"keyArn": enc["provider"]["keyArn"]}}]
    if r.tags():
        kw["tags"] = r.tags()
    # botocore checks the support type (STANDARD | EXTENDED); unset, EKS applies EXTENDED.
    support = (r.inputs.get("upgradePolicy") or {}).get("supportType") or "EXTENDED"
    kw["upgradePolicy"] = {"supportType": support}
    c = eks.create_cluster(**kw)["cluster"]
    # EKS creates a cluster security group of its own; moto does not, so do it here.
    cluster_sg = ec2.create_security_group(
        GroupName=f"eks-cluster-sg-{name}-{short_hash(name, n=10)}",
        Description="EKS created security group applied to ENI that is attached to EKS Control Plane master nodes",
        VpcId=vpc_id,
        TagSpecifications=[{"ResourceType": "security-group",
                            "Tags": tag_list({f"kubernetes.io/cluster/{name}": "owned"})}],
    )["GroupId"] if vpc_id else None
    ca = c.get("certificateAuthority", {}).get("data") or ""
    return name, {
        "name": name,
        "arn": c["arn"],
        "endpoint": c["endpoint"],
        "version": c["version"],
        "platformVersion": c.get("platformVersion"),
        "status": c.get("status", "ACTIVE"),
        "clusterId": short_hash(c["arn"], n=8) + "-" + short_hash(name, n=4),
        # A well-formed base64 blob, as kubeconfigs expect.
        "certificateAuthority": {"data": base64.b64encode(ca.encode()).decode()},
        "identities": [{"oidcs": [{"issuer": c["identity"]["oidc"]["issuer"]}]}],
        "vpcConfig": {**vpc_in, "clusterSecurityGroupId": cluster_sg, "vpcId": vpc_id},
        "upgradePolicy": {"supportType": support},
    }


@resource("aws:eks/nodeGroup:NodeGroup")
def node_group(ctx: Ctx, r: Res) -> Out:
    eks = ctx.client("eks", r.region)
    name = r.physical_name("nodeGroupName", max_len=63, sep="")
    sc = r.inputs["scalingConfig"]
    kw: dict[str, Any] = {
        "clusterName": r.inputs["clusterName"],
        "nodegroupName": name,
        "nodeRole": r.inputs["nodeRoleArn"],
        "subnets": list(r.inputs["subnetIds"]),
        "scalingConfig": {"minSize": sc["minSize"], "maxSize": sc["maxSize"], "desiredSize": sc["desiredSize"]},
    }
    for wire, key in (("instanceTypes", "instanceTypes"), ("amiType", "amiType"), ("capacityType", "capacityType"),
                      ("version", "version"), ("labels", "labels"), ("diskSize", "diskSize"),
                      ("releaseVersion", "releaseVersion")):
        if r.inputs.get(key) is not None:
            kw[wire] = r.inputs[key]
    lt = r.inputs.get("launchTemplate")
    if lt:
        kw["launchTemplate"] = {k: str(v) for k, v in lt.items() if k in ("id", "name", "version") and v}
    uc = r.inputs.get("updateConfig")
    if uc:
        kw["updateConfig"] = {"maxUnavailablePercentage" if "maxUnavailablePercentage" in uc
                              else "maxUnavailable": uc.get("maxUnavailablePercentage") or uc.get("maxUnavailable")}
    if r.tags():
        kw["tags"] = r.tags()
    ng = eks.create_nodegroup(**kw)["nodegroup"]
    asgs = ng["resources"]["autoScalingGroups"]
    if lt:
        lt_ref = {"LaunchTemplateId": str(lt["id"]), "Version": str(lt.get("version") or "$Latest")}
        ctx.client("autoscaling", r.region).create_auto_scaling_group(
            AutoScalingGroupName=asgs[0]["name"],
            LaunchTemplate=lt_ref,
            MinSize=sc["minSize"],
            MaxSize=sc["maxSize"],
            DesiredCapacity=sc["desiredSize"],
            VPCZoneIdentifier=",".join(kw["subnets"]),
            Tags=[{"ResourceId": asgs[0]["name"], "ResourceType": "auto-scaling-group", "Key": k, "Value": v,
                   "PropagateAtLaunch": True}
                  for k, v in node_group_asg_tags(r.inputs["clusterName"], name).items()],
        )
    return f"{r.inputs['clusterName']}:{name}", {
        "nodeGroupName": name,
        "arn": ng["nodegroupArn"],
        "status": ng.get("status", "ACTIVE"),
        "releaseVersion": ng.get("releaseVersion"),
        "version": ng.get("version"),
        "resources": [{"autoscalingGroups": [{"name": g["name"]} for g in ng["resources"]["autoScalingGroups"]],
                       "remoteAccessSecurityGroupId": ""}],
    }


@resource("aws:ec2/launchTemplate:LaunchTemplate")
def launch_template(ctx: Ctx, r: Res) -> Out:
    ec2 = ctx.client("ec2", r.region)
    name = r.physical_name(max_len=128, sep="")
    data: dict[str, Any] = {}
    if r.inputs.get("vpcSecurityGroupIds"):
        data["SecurityGroupIds"] = list(r.inputs["vpcSecurityGroupIds"])
    md = r.inputs.get("metadataOptions")
    if md:
        data["MetadataOptions"] = {
            k[0].upper() + k[1:]: v for k, v in md.items()
            if k in ("httpEndpoint", "httpTokens", "httpPutResponseHopLimit", "instanceMetadataTags")
        }
    bdms = []
    for b in r.inputs.get("blockDeviceMappings") or []:
        ebs = b.get("ebs") or {}
        bdms.append({
            "DeviceName": b["deviceName"],
            "Ebs": {
                "VolumeSize": ebs.get("volumeSize"),
                "VolumeType": ebs.get("volumeType"),
                "Encrypted": str(ebs.get("encrypted")).lower() == "true",
                "DeleteOnTermination": str(ebs.get("deleteOnTermination", "true")).lower() == "true",
            },
        })
    if bdms:
        data["BlockDeviceMappings"] = bdms
    kw: dict[str, Any] = {"LaunchTemplateName": name, "LaunchTemplateData": data}
    if r.tags():
        kw["TagSpecifications"] = [{"ResourceType": "launch-template", "Tags": tag_list(r.tags())}]
    lt = ec2.create_launch_template(**kw)["LaunchTemplate"]
    return lt["LaunchTemplateId"], {
        "name": name,
        "arn": ctx.arn("ec2", r.region, f"launch-template/{lt['LaunchTemplateId']}"),
        "latestVersion": lt["LatestVersionNumber"],
        "defaultVersion": lt["DefaultVersionNumber"],
    }


@resource("aws:eks/addon:Addon")
def addon(ctx: Ctx, r: Res) -> Out:
    c = _cluster(ctx, r)
    name = r.inputs["addonName"]
    version = r.inputs.get("addonVersion") or f"v0.0.0-eksbuild.{c['version']}"
    if name == "amazon-cloudwatch-observability":
        # Its CloudWatch agent and Fluent Bit start writing at once, making any group that is missing.
        for kind in ("performance", "application", "host", "dataplane"):
            ensure_service_group(ctx, r.region, f"/aws/containerinsights/{c['name']}/{kind}")
    return f"{c['name']}:{name}", {
        "arn": ctx.arn("eks", r.region, f"addon/{c['name']}/{name}/{short_hash(r.urn, n=8)}"),
        "addonVersion": version,
    }


# CreateAccessEntry's principal: an IAM role or user, never an STS session (EKS User Guide, "Create
# access entries": the role's ARN, not the assumed-role ARN).
_PRINCIPAL = re.compile(r"^arn:aws[\w-]*:iam::\d{12}:(role|user)/[\w+=,.@/-]{1,512}$")
ACCESS_ENTRY_TYPES = frozenset({"STANDARD", "EC2", "EC2_LINUX", "EC2_WINDOWS", "FARGATE_LINUX", "HYBRID_LINUX",
                                "HYPERPOD_LINUX"})
# The access policies EKS defines (`aws eks list-access-policies`; EKS User Guide, "Review access
# policy permissions"): AssociateAccessPolicy refuses any other ARN.
ACCESS_POLICIES = frozenset({
    "AmazonEKSAdminPolicy", "AmazonEKSClusterAdminPolicy", "AmazonEKSEditPolicy", "AmazonEKSViewPolicy",
    "AmazonEKSAdminViewPolicy", "AmazonEKSSecretReaderPolicy", "AmazonEKSAutoNodePolicy",
    "AmazonEKSBlockStoragePolicy", "AmazonEKSComputePolicy", "AmazonEKSLoadBalancingPolicy",
    "AmazonEKSNetworkingPolicy", "AmazonEKSClusterInsightsPolicy", "AmazonEKSHybridPolicy",
})
_POLICY = re.compile(r"^arn:aws[\w-]*:eks::aws:cluster-access-policy/(?P<name>[A-Za-z0-9]+)$")


def access_entries(ctx: Ctx, cluster_name: str) -> dict[str, dict[str, Any]]:
    """The access entries of a cluster, by principal ARN, each with its associated policies
    (`policies`: [{policyArn, accessScope}]), as ListAccessEntries / ListAssociatedAccessPolicies answer."""
    out = {o["principalArn"]: {**o, "policies": []}
           for _, o in ctx.find("aws:eks/accessEntry:AccessEntry", clusterName=cluster_name)}
    for _, o in ctx.find("aws:eks/accessPolicyAssociation:AccessPolicyAssociation", clusterName=cluster_name):
        out[o["principalArn"]]["policies"].append({"policyArn": o["policyArn"], "accessScope": o["accessScope"]})
    return out


@resource("aws:eks/accessEntry:AccessEntry")
def access_entry(ctx: Ctx, r: Res) -> Out:
    c = _cluster(ctx, r)
    principal = r.inputs["principalArn"]
    kind = r.inputs.get("type") or "STANDARD"
    groups = list(r.inputs.get("kubernetesGroups") or [])
    params: dict[str, Any] = {"clusterName": c["name"], "principalArn": principal, "type": kind}
    if groups:
        params["kubernetesGroups"] = groups
    validated(ctx, "eks", "CreateAccessEntry", params, r.region)
    if not _PRINCIPAL.match(principal):
        raise ValueError(f"InvalidParameterException: principalArn {principal!r} is not an IAM role or user ARN "
                         "(arn:aws:iam::ACCOUNT:role/NAME; an STS assumed-role ARN is a session, not a principal)")
    if kind not in ACCESS_ENTRY_TYPES:
        raise ValueError(f"InvalidParameterException: type {kind!r}: one of {', '.join(sorted(ACCESS_ENTRY_TYPES))}")
    if kind == "STANDARD" and any(g.startswith("system:") for g in groups):
        raise ValueError("InvalidParameterException: kubernetesGroups of a STANDARD entry cannot start with "
                         "'system:' (use an access policy instead)")
    if principal in access_entries(ctx, c["name"]):
        raise ValueError(f"ResourceInUseException: the access entry for {principal} already exists on cluster "
                         f"{c['name']}")
    return f"{c['name']}:{principal}", {
        "clusterName": c["name"],
        "accessEntryArn": ctx.arn("eks", r.region, f"access-entry/{c['name']}/role/{short_hash(principal)}"),
        "type": kind,
        "userName": r.inputs.get("userName") or principal,
        "kubernetesGroups": groups,
    }


@resource("aws:eks/accessPolicyAssociation:AccessPolicyAssociation")
def access_policy_association(ctx: Ctx, r: Res) -> Out:
    c = _cluster(ctx, r)
    principal, policy = r.inputs["principalArn"], r.inputs["policyArn"]
    scope = dict(r.inputs.get("accessScope") or {})
    validated(ctx, "eks", "AssociateAccessPolicy",
              {"clusterName": c["name"], "principalArn": principal, "policyArn": policy,
               "accessScope": {k: v for k, v in scope.items() if k in ("type", "namespaces")}}, r.region)
    m = _POLICY.match(policy)
    if m is None or m["name"] not in ACCESS_POLICIES:
        raise ValueError(f"InvalidParameterException: policyArn {policy!r} is not an EKS access policy "
                         f"(arn:aws:eks::aws:cluster-access-policy/NAME, NAME one of {', '.join(sorted(ACCESS_POLICIES))})")
    if scope.get("type") not in ("cluster", "namespace"):
        raise ValueError(f"InvalidParameterException: accessScope.type {scope.get('type')!r}: cluster or namespace")
    if (scope["type"] == "namespace") != bool(scope.get("namespaces")):
        raise ValueError("InvalidParameterException: accessScope.namespaces is required with type namespace and "
                         "not allowed with type cluster")
    entry = access_entries(ctx, c["name"]).get(principal)
    if entry is None:
        raise ValueError(f"ResourceNotFoundException: no access entry for {principal} on cluster {c['name']}: "
                         "create the entry first")
    if any(p["policyArn"] == policy for p in entry["policies"]):
        raise ValueError(f"ResourceInUseException: {policy} is already associated with {principal}")
    return f"{c['name']}#{principal}#{policy}", {"clusterName": c["name"], "accessScope": scope,
                                                "associatedAt": "2026-01-01T00:00:00Z",
                                                "modifiedAt": "2026-01-01T00:00:00Z"}


@resource("aws:eks/podIdentityAssociation:PodIdentityAssociation")
def pod_identity_association(ctx: Ctx, r: Res) -> Out:
    c = _cluster(ctx, r)
    ctx.client("iam", "us-east-1").get_role(RoleName=r.inputs["roleArn"].rsplit("/", 1)[-1])
    assoc = "a-" + short_hash(r.urn, n=17)
    return f"{c['name']},{assoc}", {
        "associationId": assoc,
        "associationArn": ctx.arn("eks", r.region, f"podidentityassociation/{c['name']}/{assoc}"),
    }
