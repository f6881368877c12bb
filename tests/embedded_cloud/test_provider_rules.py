"""Tests room (embedded cloud): the provider rules table is well formed and says what the provider says.

embedded_cloud/provider_rules.py records, per Pulumi AWS type, which inputs force a replacement, which
the provider computes, and which are Optional and not Computed, as read from terraform-provider-aws.
These tests hold it to three things: every name it lists is an input of the installed pulumi-aws SDK
for that type (so a typo or a TF-only name cannot silently never match); the facts of aws_db_instance
known independently of the table hold; and every type berth deploys is either in RULES or in UNREAD
with a reason.
"""

from __future__ import annotations

import ast
import importlib.util
import re
from functools import cache
from pathlib import Path

import pytest

from embedded_cloud.provider_rules import PROVIDER, RULES, UNREAD, Rules

BERTH_TYPES = (
    "aws:acm/certificate:Certificate",
    "aws:acm/certificateValidation:CertificateValidation",
    "aws:backup/plan:Plan",
    "aws:backup/restoreTestingPlan:RestoreTestingPlan",
    "aws:backup/restoreTestingSelection:RestoreTestingSelection",
    "aws:backup/selection:Selection",
    "aws:backup/vault:Vault",
    "aws:backup/vaultLockConfiguration:VaultLockConfiguration",
    "aws:cloudfront/cachePolicy:CachePolicy",
    "aws:cloudfront/distribution:Distribution",
    "aws:cloudfront/function:Function",
    "aws:cloudfront/monitoringSubscription:MonitoringSubscription",
    "aws:cloudfront/originAccessControl:OriginAccessControl",
    "aws:cloudfront/originRequestPolicy:OriginRequestPolicy",
    "aws:cloudfront/responseHeadersPolicy:ResponseHeadersPolicy",
    "aws:cloudwatch/compositeAlarm:CompositeAlarm",
    "aws:cloudwatch/dashboard:Dashboard",
    "aws:cloudwatch/eventRule:EventRule",
    "aws:cloudwatch/eventTarget:EventTarget",
    "aws:cloudwatch/logGroup:LogGroup",
    "aws:cloudwatch/logResourcePolicy:LogResourcePolicy",
    "aws:cloudwatch/metricAlarm:MetricAlarm",
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup",
    "aws:ec2/eip:Eip",
    "aws:ec2/flowLog:FlowLog",
    "aws:ec2/internetGateway:InternetGateway",
    "aws:ec2/launchTemplate:LaunchTemplate",
    "aws:ec2/natGateway:NatGateway",
    "aws:ec2/route:Route",
    "aws:ec2/routeTable:RouteTable",
    "aws:ec2/routeTableAssociation:RouteTableAssociation",
    "aws:ec2/securityGroup:SecurityGroup",
    "aws:ec2/subnet:Subnet",
    "aws:ec2/vpc:Vpc",
    "aws:ec2/vpcEndpoint:VpcEndpoint",
    "aws:eks/addon:Addon",
    "aws:eks/cluster:Cluster",
    "aws:eks/nodeGroup:NodeGroup",
    "aws:eks/podIdentityAssociation:PodIdentityAssociation",
    "aws:elasticache/parameterGroup:ParameterGroup",
    "aws:elasticache/replicationGroup:ReplicationGroup",
    "aws:elasticache/subnetGroup:SubnetGroup",
    "aws:iam/role:Role",
    "aws:iam/rolePolicy:RolePolicy",
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
    "aws:kms/alias:Alias",
    "aws:kms/key:Key",
    "aws:rds/instance:Instance",
    "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication",
    "aws:rds/parameterGroup:ParameterGroup",
    "aws:rds/subnetGroup:SubnetGroup",
    "aws:route53/record:Record",
    "aws:s3/bucket:Bucket",
    "aws:s3/bucketAcl:BucketAcl",
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
    "aws:s3/bucketLogging:BucketLogging",
    "aws:s3/bucketObjectv2:BucketObjectv2",
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
    "aws:s3/bucketPolicy:BucketPolicy",
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketVersioning:BucketVersioning",
    "aws:sns/topic:Topic",
    "aws:sns/topicPolicy:TopicPolicy",
    "aws:sns/topicSubscription:TopicSubscription",
    "aws:synthetics/canary:Canary",
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule",
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
    "aws:wafv2/webAcl:WebAcl",
    "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration",
)


def _camel(snake: str) -> str:
    head, *rest = snake.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _sdk_root() -> Path:
    spec = importlib.util.find_spec("pulumi_aws")
    assert spec is not None and spec.submodule_search_locations, "pulumi_aws is not installed"
    return Path(next(iter(spec.submodule_search_locations)))


@cache
def sdk_inputs(token: str) -> frozenset[str]:
    """The input names (camelCase) of the SDK's `*Args` class for a type token, parsed with ast."""
    match = re.fullmatch(r"aws:([^/]+)/([^:]+):(\w+)", token)
    assert match, f"not a type token: {token}"
    module, resource, cls = match.groups()
    path = _sdk_root() / module / (re.sub(r"(?<!^)(?=[A-Z])", "_", resource).lower() + ".py")
    tree = ast.parse(path.read_text())
    for node in tree.body:
        # The SDK names the class `InitArgs` when `<Type>Args` is taken by a nested input type.
        if isinstance(node, ast.ClassDef) and node.name in (f"{cls}Args", f"{cls}InitArgs"):
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and item.name == "__init__":
                    args = item.args
                    return frozenset(_camel(a.arg) for a in [*args.args[1:], *args.kwonlyargs])
    raise AssertionError(f"no {cls}Args class in {path}")


@pytest.mark.parametrize("token", sorted(RULES))
def test_every_listed_attribute_is_an_sdk_input(token: str) -> None:
    rules = RULES[token]
    inputs = sdk_inputs(token)
    for field in ("replace", "computed", "optional_not_computed"):
        unknown = getattr(rules, field) - inputs
        assert not unknown, f"{token}.{field} names no SDK input: {sorted(unknown)}"


@pytest.mark.parametrize("token", sorted(RULES))
def test_rules_are_consistent(token: str) -> None:
    rules = RULES[token]
    assert isinstance(rules, Rules)
    assert rules.source.startswith("internal/") and rules.source.endswith(".go")
    # Optional+Computed goes to computed only; the two sets never overlap.
    assert not rules.computed & rules.optional_not_computed


def test_sdk_parsing_finds_known_inputs() -> None:
    # Guards the parser itself: if it returned nothing every subset check above would pass vacuously.
    assert {"storageEncrypted", "kmsKeyId", "dbName", "instanceClass"} <= sdk_inputs("aws:rds/instance:Instance")
    assert "bucket" in sdk_inputs("aws:s3/bucketLogging:BucketLogging")  # an InitArgs class


def test_rds_instance_known_facts() -> None:
    rules = RULES["aws:rds/instance:Instance"]
    # storage_encrypted: Optional + ForceNew, not Computed.
    assert "storageEncrypted" in rules.replace
    assert "storageEncrypted" in rules.optional_not_computed
    assert "storageEncrypted" not in rules.computed
    # kms_key_id, availability_zone: Optional + Computed + ForceNew.
    for name in ("kmsKeyId", "availabilityZone"):
        assert name in rules.replace and name in rules.computed and name not in rules.optional_not_computed
    # engine: ForceNew (Optional+Computed in the schema read).
    assert "engine" in rules.replace
    # identifier: Optional + Computed. The read schema (v5.46 tree) no longer marks it ForceNew: a rename
    # is done in place (ModifyDBInstance NewDBInstanceIdentifier), contrary to the older ForceNew fact.
    assert "identifier" in rules.computed
    assert "identifier" not in rules.replace
    # db_subnet_group_name: Optional + Computed, updated in place.
    assert "dbSubnetGroupName" in rules.computed and "dbSubnetGroupName" not in rules.replace
    # instance_class: Required, updated in place.
    assert "instanceClass" not in rules.replace | rules.computed | rules.optional_not_computed


def test_every_berth_type_is_read_or_explained() -> None:
    missing = [t for t in BERTH_TYPES if t not in RULES and t not in UNREAD]
    assert not missing, f"neither in RULES nor UNREAD: {missing}"
    assert not set(RULES) & set(UNREAD)
    assert all(reason.strip() for reason in UNREAD.values())


def test_provider_names_the_upstream() -> None:
    assert PROVIDER.startswith("hashicorp/terraform-provider-aws v")
