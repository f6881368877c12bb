"""Tests room (embedded cloud): every type the program registers has a model; a type without one is
refused by name; the models of the types moto lacks refuse what AWS refuses.

A model (handler) either creates the resource in moto or answers as AWS would; only the types in
ECHOED are answered by echoing their inputs, on purpose. An SQS queue (no model) stops the offline
run naming the type, the resource and the file to add its handler to, instead of coming back with
a None `url` and a preview that passes.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ParamValidationError

from embedded_cloud import EmbeddedCloud, ProgramError, run_isolated
from embedded_cloud.handlers import ECHOED, RESOURCES, Ctx, Res, echoed, handler_for, load_all
from tests.conftest import Deployed

UNMODELLED = """\
import pulumi
import pulumi_aws as aws

queue = aws.sqs.Queue("jobs")
pulumi.export("url", queue.url)
"""


def test_an_unmodelled_type_fails_the_run_naming_the_type_and_where_its_handler_goes(tmp_path: Any) -> None:
    (tmp_path / "__main__.py").write_text(UNMODELLED)
    (tmp_path / "Pulumi.t.yaml").write_text("config:\n  aws:region: us-east-1\n")
    with EmbeddedCloud.serve() as cloud, pytest.raises(ProgramError) as exc:
        run_isolated("t", endpoint_url=cloud.endpoint_url or "", repo=tmp_path)
    msg = str(exc.value)
    assert "no model for aws:sqs/queue:Queue (resource 'jobs')" in msg
    assert 'embedded_cloud/handlers/sqs.py' in msg and '@resource("aws:sqs/queue:Queue")' in msg


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_every_type_the_program_registers_has_a_model_or_is_echoed_on_purpose(stack: str, request: Any) -> None:
    deployed: Deployed = request.getfixturevalue(stack)
    load_all()
    types = {n.type for n in deployed.graph.nodes if n.custom}
    echoed_types = {t for t in types if t not in RESOURCES}
    assert echoed_types and all(echoed(t) for t in echoed_types), echoed_types
    assert {t for t in echoed_types} == {t for t in types if t.startswith("pulumi:providers:")}
    assert set(ECHOED) == {"kubernetes:*", "random:*", "pulumi:providers:*"}


def test_the_echo_is_only_for_the_listed_types() -> None:
    load_all()
    assert handler_for("pulumi:providers:kubernetes", "k8s") is not None
    assert handler_for("random:index/randomPassword:RandomPassword", "pw") is RESOURCES[
        "random:index/randomPassword:RandomPassword"]
    with pytest.raises(Exception, match="no model for aws:sqs/queue:Queue"):
        handler_for("aws:sqs/queue:Queue", "jobs")


# ---- the models of the types moto lacks refuse what AWS refuses ---------------------------------------
@pytest.fixture(scope="module")
def ctx() -> Iterator[Ctx]:
    load_all()
    with EmbeddedCloud.serve(warm_regions=("us-east-1", "us-west-2")) as cloud:
        yield Ctx(cloud=cloud, stack="t", default_region="us-east-1")


def _make(ctx: Ctx, type_: str, logical: str, /, region: str = "us-east-1", **inputs: Any) -> tuple[str, dict[str, Any]]:
    urn = f"urn:pulumi:t::p::{type_}::{logical}"
    id_, out = handler_for(type_, logical)(ctx, Res(type_, logical, urn, inputs, region, "t"))
    ctx.state[urn] = (id_, {**inputs, **out, "id": id_})
    return id_, out


KEYS = {"headersConfig": {"headerBehavior": "none"}, "cookiesConfig": {"cookieBehavior": "none"},
        "queryStringsConfig": {"queryStringBehavior": "none"}}


def test_cloudfront_policies(ctx: Ctx) -> None:
    ok, out = _make(ctx, "aws:cloudfront/cachePolicy:CachePolicy", "c", name="api", minTtl=0, defaultTtl=5,
                    maxTtl=60, parametersInCacheKeyAndForwardedToOrigin=KEYS)
    assert len(ok) == 36 and out["etag"].startswith("E")
    with pytest.raises(ValueError, match=r"MinTTL <= DefaultTTL <= MaxTTL \(0, 120, 60\)"):
        _make(ctx, "aws:cloudfront/cachePolicy:CachePolicy", "c2", name="api2", minTtl=0, defaultTtl=120, maxTtl=60,
              parametersInCacheKeyAndForwardedToOrigin=KEYS)
    with pytest.raises(ValueError, match="policy name 'has spaces'"):
        _make(ctx, "aws:cloudfront/originRequestPolicy:OriginRequestPolicy", "o", name="has spaces", **KEYS)
    with pytest.raises(ParamValidationError):  # the API's shape: an HSTS block needs its max age
        _make(ctx, "aws:cloudfront/responseHeadersPolicy:ResponseHeadersPolicy", "h", name="h",
              securityHeadersConfig={"strictTransportSecurity": {"override": True, "accessControlMaxAgeSec": "x"}})
    with pytest.raises(Exception, match="NoSuchDistribution"):
        _make(ctx, "aws:cloudfront/monitoringSubscription:MonitoringSubscription", "m", distributionId="E000NOPE",
              monitoringSubscription={"realtimeMetricsSubscriptionConfig": {
                  "realtimeMetricsSubscriptionStatus": "Enabled"}})


def test_elasticache_parameter_group_families(ctx: Ctx) -> None:
    name, out = _make(ctx, "aws:elasticache/parameterGroup:ParameterGroup", "p", name="berth-t-redis7",
                      family="redis7", parameters=[{"name": "maxmemory-policy", "value": "allkeys-lru"}])
    assert name == "berth-t-redis7" and out["arn"].endswith(":parametergroup:berth-t-redis7")
    with pytest.raises(ValueError, match=r"family 'redis5\.0'"):
        _make(ctx, "aws:elasticache/parameterGroup:ParameterGroup", "p2", name="old", family="redis5.0")


def test_restore_testing_selection_needs_its_plan(ctx: Ctx) -> None:
    sel = {"name": "database", "iamRoleArn": "arn:aws:iam::123456789012:role/r", "protectedResourceType": "RDS"}
    with pytest.raises(ValueError, match="restore testing plan 'nope' does not exist"):
        _make(ctx, "aws:backup/restoreTestingSelection:RestoreTestingSelection", "s0", restoreTestingPlanName="nope",
              **sel)
    _make(ctx, "aws:backup/restoreTestingPlan:RestoreTestingPlan", "plan", name="monthly_test",
          scheduleExpression="cron(0 6 ? * 2#1 *)",
          recoveryPointSelection={"algorithm": "LATEST_WITHIN_WINDOW", "includeVaults": ["*"],
                                  "recoveryPointTypes": ["SNAPSHOT"]})
    made, _ = _make(ctx, "aws:backup/restoreTestingSelection:RestoreTestingSelection", "s",
                    restoreTestingPlanName="monthly_test", **sel)
    assert made == "database:monthly_test"
    with pytest.raises(ValueError, match="letters, digits and underscores"):
        _make(ctx, "aws:backup/restoreTestingPlan:RestoreTestingPlan", "bad", name="monthly-test",
              scheduleExpression="cron(0 6 ? * 2#1 *)",
              recoveryPointSelection={"algorithm": "LATEST_WITHIN_WINDOW", "includeVaults": ["*"],
                                      "recoveryPointTypes": ["SNAPSHOT"]})


def test_automated_backup_replication_needs_its_source(ctx: Ctx) -> None:
    with pytest.raises(ValueError, match="DBInstanceNotFound: ghost in us-east-1"):
        _make(ctx, "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication", "r",
              region="us-west-2", sourceDbInstanceArn="arn:aws:rds:us-east-1:123456789012:db:ghost",
              retentionPeriod=7)


def test_waf_logs_only_to_an_aws_waf_logs_group(ctx: Ctx) -> None:
    with pytest.raises(ValueError, match="must start with aws-waf-logs-"):
        _make(ctx, "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration", "l",
              resourceArn="arn:aws:wafv2:us-east-1:123456789012:global/webacl/x/1",
              logDestinationConfigs=["arn:aws:logs:us-east-1:123456789012:log-group:waf"])


# ---- EKS: access entries, and the zone IDs it refuses ----------------------------------------------
def _eks_cluster(ctx: Ctx, name: str) -> str:
    ctx.client("eks").create_cluster(name=name, roleArn="arn:aws:iam::123456789012:role/eks",
                                     resourcesVpcConfig={"subnetIds": []})
    return name


ROLE = "arn:aws:iam::123456789012:role/oncall"
VIEW = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy"


def test_access_entries_and_policies_are_refused_as_eks_refuses_them(ctx: Ctx) -> None:
    from embedded_cloud.handlers.eks import access_entries

    cluster = _eks_cluster(ctx, "access")
    entry, aset = "aws:eks/accessEntry:AccessEntry", "aws:eks/accessPolicyAssociation:AccessPolicyAssociation"
    with pytest.raises(ValueError, match=r"InvalidParameterException: principalArn .* not an IAM role or user ARN"):
        _make(ctx, entry, "sts", clusterName=cluster, principalArn="arn:aws:sts::123456789012:assumed-role/ci/run-1")
    with pytest.raises(ValueError, match="InvalidParameterException: type 'ADMIN'"):
        _make(ctx, entry, "kind", clusterName=cluster, principalArn=ROLE, type="ADMIN")
    with pytest.raises(ValueError, match="ResourceNotFoundException: no access entry for"):
        _make(ctx, aset, "early", clusterName=cluster, principalArn=ROLE, policyArn=VIEW,
              accessScope={"type": "cluster"})
    _make(ctx, entry, "ok", clusterName=cluster, principalArn=ROLE, type="STANDARD")
    with pytest.raises(ValueError, match=r"ResourceInUseException: the access entry for .* already exists"):
        _make(ctx, entry, "again", clusterName=cluster, principalArn=ROLE)
    with pytest.raises(ValueError, match="is not an EKS access policy"):
        _make(ctx, aset, "made-up", clusterName=cluster, principalArn=ROLE,
              policyArn="arn:aws:eks::aws:cluster-access-policy/AmazonEKSGodModePolicy", accessScope={"type": "cluster"})
    with pytest.raises(ValueError, match=r"accessScope\.type 'account': cluster or namespace"):
        _make(ctx, aset, "scope", clusterName=cluster, principalArn=ROLE, policyArn=VIEW, accessScope={"type": "account"})
    with pytest.raises(ValueError, match="namespaces is required with type namespace"):
        _make(ctx, aset, "ns", clusterName=cluster, principalArn=ROLE, policyArn=VIEW, accessScope={"type": "namespace"})
    _make(ctx, aset, "view", clusterName=cluster, principalArn=ROLE, policyArn=VIEW, accessScope={"type": "cluster"})
    found = access_entries(ctx, cluster)
    assert list(found) == [ROLE]
    assert found[ROLE]["policies"] == [{"policyArn": VIEW, "accessScope": {"type": "cluster"}}]
    # A role nobody declared has no entry: nothing grants it access.
    assert "arn:aws:iam::123456789012:role/someone-else" not in found


def test_eks_refuses_control_plane_subnets_in_the_zone_ids_it_does_not_support(ctx: Ctx) -> None:
    ec2 = ctx.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.77.0.0/16")["Vpc"]["VpcId"]
    subnet = {az: ec2.create_subnet(VpcId=vpc, CidrBlock=cidr, AvailabilityZone=az)["Subnet"]["SubnetId"]
              for az, cidr in (("us-east-1a", "10.77.0.0/24"), ("us-east-1b", "10.77.1.0/24"),
                               ("us-east-1e", "10.77.2.0/24"))}
    cluster = "aws:eks/cluster:Cluster"
    # moto's own mapping puts us-east-1e on use1-az3.
    with pytest.raises(ValueError, match=r"UnsupportedAvailabilityZoneException: .*us-east-1e \(use1-az3\)"):
        _make(ctx, cluster, "in-e", name="in-e", roleArn="arn:aws:iam::123456789012:role/eks",
              vpcConfig={"subnetIds": [subnet["us-east-1b"], subnet["us-east-1e"]]})
    # An account where us-east-1a is use1-az3 (and us-east-1e another zone).
    swapped = Ctx(cloud=ctx.cloud, stack="t", default_region="us-east-1",
                  zone_ids={"us-east-1a": "use1-az3", "us-east-1e": "use1-az6"})
    with pytest.raises(ValueError, match=r"us-east-1a \(use1-az3\)"):
        handler_for(cluster, "in-a")(swapped, Res(cluster, "in-a", "urn:pulumi:t::p::x::in-a", {
            "name": "in-a", "roleArn": "arn:aws:iam::123456789012:role/eks",
            "vpcConfig": {"subnetIds": [subnet["us-east-1a"], subnet["us-east-1b"]]}}, "us-east-1", "t"))
    _, out = handler_for(cluster, "in-e-ok")(swapped, Res(cluster, "in-e-ok", "urn:pulumi:t::p::x::in-e-ok", {
        "name": "in-e-ok", "roleArn": "arn:aws:iam::123456789012:role/eks",
        "vpcConfig": {"subnetIds": [subnet["us-east-1b"], subnet["us-east-1e"]]}}, "us-east-1", "t"))
    assert out["vpcConfig"]["vpcId"] == vpc


def test_availability_zones_answer_with_the_accounts_zone_ids(ctx: Ctx) -> None:
    from embedded_cloud.handlers import INVOKES

    azs = INVOKES["aws:index/getAvailabilityZones:getAvailabilityZones"]
    default = azs(ctx, {"state": "available"}, "us-east-1")
    assert dict(zip(default["names"], default["zoneIds"], strict=True))["us-east-1a"] == "use1-az6"
    swapped = Ctx(cloud=ctx.cloud, stack="t", default_region="us-east-1",
                  zone_ids={"us-east-1a": "use1-az3", "us-east-1e": "use1-az6"})
    answer = azs(swapped, {"state": "available", "excludeZoneIds": ["use1-az3"]}, "us-east-1")
    assert answer["names"][0] == "us-east-1b" and "use1-az3" not in answer["zoneIds"]
    assert dict(zip(answer["names"], answer["zoneIds"], strict=True))["us-east-1e"] == "use1-az6"


def test_ecr_repository_needs_a_usable_kms_key_and_a_valid_lifecycle(ctx: Ctx) -> None:
    with pytest.raises(ValueError, match="KmsException"):
        _make(ctx, "aws:ecr/repository:Repository", "r0", name="ghost-key", imageTagMutability="IMMUTABLE",
              encryptionConfigurations=[{"encryptionType": "KMS",
                                         "kmsKey": "arn:aws:kms:us-east-1:123456789012:key/nope"}])
    name, out = _make(ctx, "aws:ecr/repository:Repository", "r", name="app", imageTagMutability="IMMUTABLE")
    assert out["repositoryUrl"].endswith(".dkr.ecr.us-east-1.amazonaws.com/app")
    with pytest.raises(Exception, match=r"InvalidParameter|Lifecycle"):  # moto checks the rules as ECR does
        _make(ctx, "aws:ecr/lifecyclePolicy:LifecyclePolicy", "l", repository=name,
              policy='{"rules": [{"rulePriority": 1, "selection": {"tagStatus": "untagged"}, '
                     '"action": {"type": "expire"}}]}')


def test_codebuild_webhook_on_workflow_jobs_needs_a_github_project(ctx: Ctx) -> None:
    with pytest.raises(ValueError, match="ResourceNotFoundException: project ghost"):
        _make(ctx, "aws:codebuild/webhook:Webhook", "w0", projectName="ghost",
              filterGroups=[{"filters": [{"type": "EVENT", "pattern": "WORKFLOW_JOB_QUEUED"}]}])
    role, _ = _make(ctx, "aws:iam/role:Role", "cbr", name="cb-role", assumeRolePolicy='{"Version": "2012-10-17", '
                    '"Statement": [{"Effect": "Allow", "Principal": {"Service": "codebuild.amazonaws.com"}, '
                    '"Action": "sts:AssumeRole"}]}')
    common = {"artifacts": {"type": "NO_ARTIFACTS"}, "serviceRole": f"arn:aws:iam::123456789012:role/{role}",
              "environment": {"type": "LINUX_CONTAINER", "image": "aws/codebuild/standard:7.0",
                              "computeType": "BUILD_GENERAL1_SMALL"}}
    _make(ctx, "aws:codebuild/project:Project", "s3p", name="from-s3", source={"type": "S3", "location": "b/src.zip"},
          **common)
    with pytest.raises(ValueError, match="WORKFLOW_JOB_QUEUED needs a GitHub source"):
        _make(ctx, "aws:codebuild/webhook:Webhook", "w1", projectName="from-s3",
              filterGroups=[{"filters": [{"type": "EVENT", "pattern": "WORKFLOW_JOB_QUEUED"}]}])
    with pytest.raises(ValueError, match="no such role"):
        _make(ctx, "aws:codebuild/project:Project", "p0", name="p0", source={"type": "S3", "location": "b/src.zip"},
              **{**common, "serviceRole": "arn:aws:iam::123456789012:role/ghost"})
