"""Embedded cloud room: deleting what the handlers created, as the provider would, in moto.

One deleter per type moto holds. Each makes the calls terraform-provider-aws makes on destroy,
so moto refuses what AWS refuses: `aws_s3_bucket` empties every object version and delete
marker only with `force_destroy` (else DeleteBucket fails BucketNotEmpty); `aws_db_instance`
deletes with SkipFinalSnapshot or names its final snapshot, and a protected instance refuses;
a VPC, subnet or role with dependents left fails DependencyViolation / DeleteConflict. Where
moto lacks a rule AWS has (EKS deletion protection), the deleter enforces it, saying so.

Lazy pulumi/moto imports here: see embedded_cloud/__init__.py.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from embedded_cloud.handlers import Ctx, Gone, Res, deleter
from embedded_cloud.handlers.ec2 import rule_permission


class Refused(Exception):
    """The cloud refused a delete, as AWS would (the message is AWS's reason)."""


def _gone(fn: Any, *args: Any, missing: tuple[str, ...] = (), **kw: Any) -> None:
    """Call a delete; an error code meaning "already gone" is success (destroy is idempotent)."""
    from botocore.exceptions import ClientError

    try:
        fn(*args, **kw)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in missing:
            raise


# Deletes that are one call naming the resource: (service, call, parameter, value), the value being
# "id" (the resource's id), "[id]" (a list of just that id) or the name of the input that holds it.
# A table rather than thirty one-line functions: they differ only in these four words.
ONE_CALL: dict[str, tuple[str, str, str, str]] = {
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": ("s3", "delete_public_access_block", "Bucket", "bucket"),
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": ("s3", "delete_bucket_ownership_controls", "Bucket", "bucket"),
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": ("s3", "delete_bucket_encryption", "Bucket", "bucket"),
    "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2": ("s3", "delete_bucket_encryption", "Bucket", "bucket"),
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": ("s3", "delete_bucket_lifecycle", "Bucket", "bucket"),
    "aws:s3/bucketLifecycleConfigurationV2:BucketLifecycleConfigurationV2": ("s3", "delete_bucket_lifecycle", "Bucket", "bucket"),
    "aws:s3/bucketPolicy:BucketPolicy": ("s3", "delete_bucket_policy", "Bucket", "bucket"),
    "aws:rds/parameterGroup:ParameterGroup": ("rds", "delete_db_parameter_group", "DBParameterGroupName", "id"),
    "aws:rds/subnetGroup:SubnetGroup": ("rds", "delete_db_subnet_group", "DBSubnetGroupName", "id"),
    "aws:elasticache/subnetGroup:SubnetGroup": ("elasticache", "delete_cache_subnet_group", "CacheSubnetGroupName", "id"),
    "aws:ec2/vpc:Vpc": ("ec2", "delete_vpc", "VpcId", "id"),
    "aws:ec2/subnet:Subnet": ("ec2", "delete_subnet", "SubnetId", "id"),
    "aws:ec2/eip:Eip": ("ec2", "release_address", "AllocationId", "id"),
    "aws:ec2/natGateway:NatGateway": ("ec2", "delete_nat_gateway", "NatGatewayId", "id"),
    "aws:ec2/routeTable:RouteTable": ("ec2", "delete_route_table", "RouteTableId", "id"),
    "aws:ec2/routeTableAssociation:RouteTableAssociation": ("ec2", "disassociate_route_table", "AssociationId", "id"),
    "aws:ec2/vpcEndpoint:VpcEndpoint": ("ec2", "delete_vpc_endpoints", "VpcEndpointIds", "[id]"),
    "aws:ec2/flowLog:FlowLog": ("ec2", "delete_flow_logs", "FlowLogIds", "[id]"),
    "aws:ec2/securityGroup:SecurityGroup": ("ec2", "delete_security_group", "GroupId", "id"),
    "aws:ec2/launchTemplate:LaunchTemplate": ("ec2", "delete_launch_template", "LaunchTemplateId", "id"),
    "aws:iam/role:Role": ("iam", "delete_role", "RoleName", "id"),
    "aws:iam/policy:Policy": ("iam", "delete_policy", "PolicyArn", "id"),
    "aws:kms/alias:Alias": ("kms", "delete_alias", "AliasName", "id"),
    "aws:cloudwatch/logGroup:LogGroup": ("logs", "delete_log_group", "logGroupName", "id"),
    "aws:sns/topic:Topic": ("sns", "delete_topic", "TopicArn", "id"),
    "aws:cloudwatch/metricAlarm:MetricAlarm": ("cloudwatch", "delete_alarms", "AlarmNames", "[id]"),
    "aws:cloudwatch/compositeAlarm:CompositeAlarm": ("cloudwatch", "delete_alarms", "AlarmNames", "[id]"),
    "aws:cloudwatch/dashboard:Dashboard": ("cloudwatch", "delete_dashboards", "DashboardNames", "[id]"),
    "aws:backup/vaultLockConfiguration:VaultLockConfiguration": ("backup", "delete_backup_vault_lock_configuration", "BackupVaultName", "id"),
    "aws:backup/plan:Plan": ("backup", "delete_backup_plan", "BackupPlanId", "id"),
    "aws:acm/certificate:Certificate": ("acm", "delete_certificate", "CertificateArn", "id"),
}


def _one_call(service: str, call: str, param: str, value: str) -> Callable[[Ctx, Gone], None]:
    def delete(ctx: Ctx, g: Gone) -> None:
        # IAM is global: its endpoint lives in us-east-1 whatever the resource's provider region.
        client = ctx.client(service, "us-east-1" if service == "iam" else g.region)
        arg = g.id if value == "id" else [g.id] if value == "[id]" else g.inputs[value]
        getattr(client, call)(**{param: arg})

    delete.__name__ = call
    return delete


for _token, _spec in ONE_CALL.items():
    deleter(_token)(_one_call(*_spec))


# ---- S3 -------------------------------------------------------------------------------------
def empty_bucket(s3: Any, bucket: str) -> int:
    """Delete every object version and delete marker (what force_destroy does); how many."""
    removed = 0
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        keys = [{"Key": v["Key"], "VersionId": v["VersionId"]}
                for v in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]]
        for i in range(0, len(keys), 1000):
            s3.delete_objects(Bucket=bucket, Delete={"Objects": keys[i:i + 1000], "Quiet": True})
            removed += len(keys[i:i + 1000])
    return removed


@deleter("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
def bucket(ctx: Ctx, g: Gone) -> None:
    s3 = ctx.client("s3", g.region)
    if g.get("forceDestroy"):
        empty_bucket(s3, g.id)
    _gone(s3.delete_bucket, Bucket=g.id, missing=("NoSuchBucket",))


@deleter("aws:s3/bucketVersioning:BucketVersioning", "aws:s3/bucketVersioningV2:BucketVersioningV2")
def versioning(ctx: Ctx, g: Gone) -> None:
    # Versioning cannot be switched off once on: the provider suspends it.
    ctx.client("s3", g.region).put_bucket_versioning(Bucket=g.inputs["bucket"],
                                                      VersioningConfiguration={"Status": "Suspended"})


def teach_moto_s3() -> None:
    """moto judges bucket policies without their conditions, so the usual "deny unless over TLS"
    statement denies every request. A request to the embedded cloud stands for an SDK request,
    which is always over TLS: drop just that statement when judging. And a delete in a bucket
    whose versioning is suspended crashes on a delete marker (it has no dispose()). Idempotent."""

    from moto.iam.access_control import IAMPolicy
    from moto.s3.models import FakeBucket, FakeDeleteMarker

    if not hasattr(FakeDeleteMarker, "dispose"):
        FakeDeleteMarker.dispose = lambda self, garbage=False: None  # type: ignore[attr-defined]

    if getattr(FakeBucket.get_permission, "_berth", False):
        return

    def insecure_only(statement: dict[str, Any]) -> bool:
        return statement.get("Effect") == "Deny" and statement.get("Condition") == {
            "Bool": {"aws:SecureTransport": "false"}}

    def get_permission(self: Any, action: str, resource: str) -> Any:
        from moto.iam.access_control import PermissionResult

        if self.policy is None:
            return PermissionResult.NEUTRAL
        doc = json.loads(self.policy.decode())
        statements = doc.get("Statement")
        if isinstance(statements, list):
            doc["Statement"] = [s for s in statements if not insecure_only(s)]
        return IAMPolicy(json.dumps(doc)).is_action_permitted(action, resource)

    get_permission._berth = True  # type: ignore[attr-defined]
    FakeBucket.get_permission = get_permission  # type: ignore[method-assign]


teach_moto_s3()


# ---- RDS ------------------------------------------------------------------------------------
@deleter("aws:rds/instance:Instance")
def db_instance(ctx: Ctx, g: Gone) -> None:
    kw: dict[str, Any] = {"DBInstanceIdentifier": g.id,
                          "DeleteAutomatedBackups": bool(g.get("deleteAutomatedBackups", True))}
    if g.get("skipFinalSnapshot"):
        kw["SkipFinalSnapshot"] = True
    elif g.get("finalSnapshotIdentifier"):
        kw["FinalDBSnapshotIdentifier"] = g.get("finalSnapshotIdentifier")
    else:
        raise Refused("final_snapshot_identifier is required when skip_final_snapshot is false")
    ctx.client("rds", g.region).delete_db_instance(**kw)


# ---- ElastiCache ----------------------------------------------------------------------------
@deleter("aws:elasticache/replicationGroup:ReplicationGroup")
def replication_group(ctx: Ctx, g: Gone) -> None:
    kw: dict[str, Any] = {"ReplicationGroupId": g.id}
    if g.get("finalSnapshotIdentifier"):
        kw["FinalSnapshotIdentifier"] = g.get("finalSnapshotIdentifier")
    ctx.client("elasticache", g.region).delete_replication_group(**kw)


def teach_moto() -> None:
    """moto leaves a deleted replication group `deleting` forever and cannot delete a cache subnet
    group; AWS finishes the first (the provider waits for it) and does the second once no cluster
    uses the group. Idempotent."""
    from moto.core.responses import EmptyResult
    from moto.elasticache.exceptions import CacheSubnetGroupNotFound, ElastiCacheException
    from moto.elasticache.models import ElastiCacheBackend
    from moto.elasticache.responses import ElastiCacheResponse

    if hasattr(ElastiCacheBackend, "delete_cache_subnet_group"):
        return

    class CacheSubnetGroupInUse(ElastiCacheException):
        code = "CacheSubnetGroupInUse"

    def delete_group(self: Any, name: str) -> None:
        if name not in self.cache_subnet_groups:
            raise CacheSubnetGroupNotFound(name)
        users = [*self.cache_clusters.values(), *self.replication_groups.values()]
        if any(getattr(u, "cache_subnet_group_name", None) == name for u in users):
            raise CacheSubnetGroupInUse(f"Cache subnet group {name} is currently in use by a cache cluster.")
        del self.cache_subnet_groups[name]

    def respond(self: Any) -> Any:
        self.elasticache_backend.delete_cache_subnet_group(self._get_param("CacheSubnetGroupName"))
        return EmptyResult()

    start_delete = ElastiCacheBackend.delete_replication_group

    def delete_replication_group(self: Any, replication_group_id: str, retain_primary_cluster: bool | None) -> Any:
        group = start_delete(self, replication_group_id, retain_primary_cluster)
        for member in [*group.member_clusters, group.primary_cluster_id]:
            self.cache_clusters.pop(member, None)
        del self.replication_groups[replication_group_id]
        return group

    ElastiCacheBackend.delete_replication_group = delete_replication_group  # type: ignore[method-assign]
    ElastiCacheBackend.delete_cache_subnet_group = delete_group  # type: ignore[attr-defined]
    ElastiCacheResponse.delete_cache_subnet_group = respond  # type: ignore[attr-defined]


teach_moto()


# ---- EC2 / VPC ------------------------------------------------------------------------------
@deleter("aws:ec2/internetGateway:InternetGateway")
def internet_gateway(ctx: Ctx, g: Gone) -> None:
    ec2 = ctx.client("ec2", g.region)
    if g.get("vpcId"):
        ec2.detach_internet_gateway(InternetGatewayId=g.id, VpcId=g.get("vpcId"))
    ec2.delete_internet_gateway(InternetGatewayId=g.id)


@deleter("aws:ec2/route:Route")
def route(ctx: Ctx, g: Gone) -> None:
    ctx.client("ec2", g.region).delete_route(RouteTableId=g.inputs["routeTableId"],
                                             DestinationCidrBlock=g.inputs["destinationCidrBlock"])


def _as_res(g: Gone) -> Res:
    return Res(g.type, g.name, g.urn, g.inputs, g.region, "")


@deleter("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
def ingress_rule(ctx: Ctx, g: Gone) -> None:
    ctx.client("ec2", g.region).revoke_security_group_ingress(GroupId=g.inputs["securityGroupId"],
                                                              IpPermissions=[rule_permission(_as_res(g))])


@deleter("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule")
def egress_rule(ctx: Ctx, g: Gone) -> None:
    ctx.client("ec2", g.region).revoke_security_group_egress(GroupId=g.inputs["securityGroupId"],
                                                             IpPermissions=[rule_permission(_as_res(g))])


# ---- EKS ------------------------------------------------------------------------------------
@deleter("aws:eks/cluster:Cluster")
def eks_cluster(ctx: Ctx, g: Gone) -> None:
    if g.get("deletionProtection"):
        # moto does not model it; EKS refuses DeleteCluster with InvalidRequestException.
        raise Refused(f"cluster {g.id} has deletion protection enabled (EKS refuses DeleteCluster)")
    ctx.client("eks", g.region).delete_cluster(name=g.id)
    sg = (g.outputs.get("vpcConfig") or {}).get("clusterSecurityGroupId")
    if sg:
        # EKS removes the cluster security group it created with the cluster.
        ctx.client("ec2", g.region).delete_security_group(GroupId=sg)


@deleter("aws:eks/nodeGroup:NodeGroup")
def node_group(ctx: Ctx, g: Gone) -> None:
    cluster, _, name = g.id.partition(":")
    for res in g.outputs.get("resources") or []:
        for asg in res.get("autoscalingGroups") or []:
            # EKS deletes the node group's Auto Scaling group (and its instances) with it.
            auto = ctx.client("autoscaling", g.region)
            if auto.describe_auto_scaling_groups(AutoScalingGroupNames=[asg["name"]])["AutoScalingGroups"]:
                auto.delete_auto_scaling_group(AutoScalingGroupName=asg["name"], ForceDelete=True)
    ctx.client("eks", g.region).delete_nodegroup(clusterName=cluster, nodegroupName=name)


# ---- IAM ------------------------------------------------------------------------------------
@deleter("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
def role_policy_attachment(ctx: Ctx, g: Gone) -> None:
    ctx.client("iam", "us-east-1").detach_role_policy(RoleName=g.inputs["role"], PolicyArn=g.inputs["policyArn"])


@deleter("aws:iam/rolePolicy:RolePolicy")
def role_policy(ctx: Ctx, g: Gone) -> None:
    role_name, _, policy = g.id.partition(":")
    ctx.client("iam", "us-east-1").delete_role_policy(RoleName=role_name, PolicyName=policy)


# ---- KMS, logs, SNS, CloudWatch, EventBridge --------------------------------------------------
@deleter("aws:kms/key:Key")
def kms_key(ctx: Ctx, g: Gone) -> None:
    # A key is never deleted at once: it is scheduled, as `pulumi destroy` does.
    ctx.client("kms", g.region).schedule_key_deletion(KeyId=g.id,
                                                      PendingWindowInDays=int(g.get("deletionWindowInDays") or 30))


@deleter("aws:sns/topicSubscription:TopicSubscription")
def subscription(ctx: Ctx, g: Gone) -> None:
    _gone(ctx.client("sns", g.region).unsubscribe, SubscriptionArn=g.id, missing=("NotFound",))


@deleter("aws:cloudwatch/eventRule:EventRule")
def event_rule(ctx: Ctx, g: Gone) -> None:
    bus, _, name = g.id.rpartition("/")
    ctx.client("events", g.region).delete_rule(Name=name, EventBusName=bus or "default")


@deleter("aws:cloudwatch/eventTarget:EventTarget")
def event_target(ctx: Ctx, g: Gone) -> None:
    kw: dict[str, Any] = {"Rule": g.inputs["rule"], "Ids": [g.get("targetId")]}
    if g.inputs.get("eventBusName"):
        kw["EventBusName"] = g.inputs["eventBusName"]
    ctx.client("events", g.region).remove_targets(**kw)


# ---- AWS Backup -------------------------------------------------------------------------------
@deleter("aws:backup/vault:Vault")
def backup_vault(ctx: Ctx, g: Gone) -> None:
    backup = ctx.client("backup", g.region)
    if g.get("forceDestroy"):
        from botocore.exceptions import ClientError

        try:
            points = backup.list_recovery_points_by_backup_vault(BackupVaultName=g.id).get("RecoveryPoints", [])
        except ClientError as exc:
            # moto has no recovery-point listing (404): it keeps no recovery points either.
            if exc.response.get("Error", {}).get("Code") != "404":
                raise
            points = []
        for p in points:
            backup.delete_recovery_point(BackupVaultName=g.id, RecoveryPointArn=p["RecoveryPointArn"])
    backup.delete_backup_vault(BackupVaultName=g.id)


# aws:backup/selection:Selection has no deleter: its handler validates it against the plan, and
# the selection lives and dies with the plan in moto.


# ---- CloudFront, WAF, ACM, Synthetics -----------------------------------------------------------
@deleter("aws:cloudfront/distribution:Distribution")
def distribution(ctx: Ctx, g: Gone) -> None:
    # CloudFront deletes only a disabled distribution, named with its current ETag.
    cf = ctx.client("cloudfront", "us-east-1")
    current = cf.get_distribution_config(Id=g.id)
    config, etag = current["DistributionConfig"], current["ETag"]
    if config.get("Enabled"):
        config["Enabled"] = False
        etag = cf.update_distribution(Id=g.id, IfMatch=etag, DistributionConfig=config)["ETag"]
    cf.delete_distribution(Id=g.id, IfMatch=etag)


@deleter("aws:cloudfront/originAccessControl:OriginAccessControl")
def origin_access_control(ctx: Ctx, g: Gone) -> None:
    cf = ctx.client("cloudfront", "us-east-1")
    etag = cf.get_origin_access_control(Id=g.id)["ETag"]
    cf.delete_origin_access_control(Id=g.id, IfMatch=etag)


@deleter("aws:wafv2/webAcl:WebAcl")
def web_acl(ctx: Ctx, g: Gone) -> None:
    waf = ctx.client("wafv2", g.region)
    scope = g.get("scope") or "CLOUDFRONT"
    lock = waf.get_web_acl(Name=g.get("name"), Scope=scope, Id=g.id)["LockToken"]
    waf.delete_web_acl(Name=g.get("name"), Scope=scope, Id=g.id, LockToken=lock)


@deleter("aws:synthetics/canary:Canary")
def canary(ctx: Ctx, g: Gone) -> None:
    ctx.client("synthetics", g.region).delete_canary(Name=g.id, DeleteLambda=True)
