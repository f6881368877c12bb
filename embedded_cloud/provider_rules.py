"""Embedded cloud room: the real provider's diff rules for the AWS types berth deploys.

For each Pulumi AWS type token: which top-level inputs force a replacement (SDKv2 ``ForceNew: true``,
plugin-framework ``RequiresReplace``), which are Computed (the provider fills them in when unset,
including Optional+Computed), and which are Optional and not Computed (a value the cloud reports while
the program leaves it unset shows as a diff on the next plan). Read from the schemas in
hashicorp/terraform-provider-aws (the Terraform provider pulumi-aws bridges), on 2026-12-08, offline:

* Base: the upstream tree at main @ 252a5db (2024-04-17, CHANGELOG "5.46.0 (Unreleased)"), from a
  snapshot of a fork (nuno407/terraform-provider-aws), parsed mechanically and spot-checked by hand.
* Re-read from newer upstream copies in the public code index (noted per type in ``notes``):
  aws_eks_cluster and aws_elasticache_replication_group (v6.x), aws_kms_key (v5.5x),
  aws_eks_node_group (v5.8x), aws_backup_restore_testing_plan / _selection (2026).
* The installed SDK is pulumi-aws 7.51.1, which bridges terraform-provider-aws v6.x; the exact v6 tag
  could not be confirmed offline (pulumi-aws 7.0 took v6.3.0; pulumi/pulumi-aws#6392 took v6.46.0 on
  2026-05-22). Inputs the SDK has but the read schema lacks were added upstream later: they are named
  in ``notes`` and left out of every set (so they diff as in-place updates).
* ``region`` (v6 per-resource Region) is Optional+Computed, and the provider-wide CustomizeDiff
  ``forceNewIfRegionChanges`` replaces the resource when it changes: it is in ``replace`` and
  ``computed`` of every type whose SDK has it.

Names are the Pulumi input names (camelCase of the SDK ``*Args`` parameters; TF blocks Pulumi
pluralises, e.g. ``rule`` -> ``rules``, use the Pulumi name). Required inputs are in none of
``computed``/``optional_not_computed``. Nested ForceNew fields, CustomizeDiff rules that force
replacement, and schema Defaults are described in ``notes``.
"""

from __future__ import annotations

from dataclasses import dataclass

PROVIDER = (
    "hashicorp/terraform-provider-aws v6.x (bridged by pulumi-aws 7.x; installed 7.51.1); "
    "schemas read from the v5.46.0-dev tree (252a5db, 2024-04-17) plus newer copies noted per type"
)


@dataclass(frozen=True)
class Rules:
    source: str  # path in terraform-provider-aws, e.g. internal/service/rds/instance.go
    replace: frozenset[str] = frozenset()  # ForceNew / RequiresReplace (Pulumi camelCase names)
    computed: frozenset[str] = frozenset()  # Computed (incl. Optional+Computed)
    optional_not_computed: frozenset[str] = frozenset()  # Optional, not Computed
    notes: str = ""  # CustomizeDiff rules that force new, etc.


RULES: dict[str, Rules] = {
    "aws:acm/certificate:Certificate": Rules(
        source="internal/service/acm/certificate.go",
        replace=frozenset(
            {
                "certificateAuthorityArn",
                "domainName",
                "keyAlgorithm",
                "region",
                "subjectAlternativeNames",
                "validationMethod",
                "validationOptions",
            }
        ),
        computed=frozenset(
            {"domainName", "keyAlgorithm", "options", "region", "subjectAlternativeNames", "validationMethod"}
        ),
        optional_not_computed=frozenset(
            {
                "certificateAuthorityArn",
                "certificateBody",
                "certificateChain",
                "earlyRenewalDuration",
                "privateKey",
                "tags",
                "validationOptions",
            }
        ),
        notes="Read: v5.46.0-dev tree (main @ 252a5db, 2024-04-17). Nested ForceNew (changing these replaces): validation_option.domain_name, validation_option.validation_domain. region: Optional+Computed; a change forces replacement via the provider-wide CustomizeDiff forceNewIfRegionChanges (v6 per-resource region). SDK inputs not in the read schema version (added later; not classified): privateKeyWo, privateKeyWoVersion.",
    ),
    "aws:acm/certificateValidation:CertificateValidation": Rules(
        source="internal/service/acm/certificate_validation.go",
        replace=frozenset({"certificateArn", "region", "validationRecordFqdns"}),
        computed=frozenset({"region"}),
        optional_not_computed=frozenset({"validationRecordFqdns"}),
        notes="Read: v5.46.0-dev tree (main @ 252a5db, 2024-04-17). region: Optional+Computed; a change forces replacement via the provider-wide CustomizeDiff forceNewIfRegionChanges (v6 per-resource region).",
    ),
    "aws:backup/plan:Plan": Rules(
        source="internal/service/backup/plan.go",
        replace=frozenset({"name", "region"}),
        computed=frozenset({"region"}),
        optional_not_computed=frozenset({"advancedBackupSettings", "tags"}),
        notes="Read: v5.46.0-dev tree (main @ 252a5db, 2024-04-17). region: Optional+Computed; a change forces replacement via the provider-wide CustomizeDiff forceNewIfRegionChanges (v6 per-resource region). SDK inputs not in the read schema version (added later; not classified): scanSettings.",
    ),
    "aws:backup/restoreTestingPlan:RestoreTestingPlan": Rules(
        source="internal/service/backup/restore_testing_plan.go",
        replace=frozenset({"name", "region"}),
        computed=frozenset({"region", "scheduleExpressionTimezone", "startWindowHours"}),
        optional_not_computed=frozenset({"tags"}),
        notes="Read: 2026 copy (plugin-framework, commit 108f85f). region: Optional+Computed; a change forces replacement via the provider-wide CustomizeDiff forceNewIfRegionChanges (v6 per-resource region).",
    ),
    "aws:backup/restoreTestingSelection:RestoreTestingSelection": Rules(
        source="internal/service/backup/restore_testing_selection.go",
        replace=frozenset({"name", "protectedResourceType", "region", "restoreTestingPlanName"}),
        computed=frozenset({"protectedResourceArns", "region", "restoreMetadataOverrides", "validationWindowHours"}),
        optional_not_computed=frozenset({"protectedResourceConditions"}),
        notes="Read: 2026 copy (plugin-framework, commit 00a3530). region: Optional+Computed; a change forces replacement via the provider-wide CustomizeDiff forceNewIfRegionChanges (v6 per-resource region).",
    ),
    "aws:backup/selection:Selection": Rules(
        source="internal/service/backup/selection.go",
        replace=frozenset(
            {"conditions", "iamRoleArn", "name", "notResources", "planId", "region", "resources", "selectionTags"}
        ),
        computed=frozenset({"conditions", "notResources", "region"}),
        optional_not_computed=frozenset({"resources", "selectionTags"}),
        notes="Read: v5.46.0-dev tree (main @ 252a5db, 2024-04-17). Nested ForceNew (changing these replaces): condition.string_equals, condition.string_equals.key, condition.string_equals.value, condition.string_like, condition.string_like.key, condition.string_like.value, condition.string_not_equals, condition.string_not_equals.key, condition.string_not_equals.value, condition.string_not_like, condition.string_not_like.key, condition.string_not_like.value, selection_tag.type, selection_tag.key, selection_tag.value. region: Optional+Computed; a change forces replacement via the provider-wide CustomizeDiff forceNewIfRegionChanges (v6 per-resource region).",
    ),
    "aws:backup/vault:Vault": Rules(
        source="internal/service/backup/vault.go",
        replace=frozenset({"kmsKeyArn", "name", "region"}),
        computed=frozenset({"kmsKeyArn", "region"}),
        optional_not_computed=frozenset({"forceDestroy", "tags"}),
        notes="Read: v5.46.0-dev tree (main @ 252a5db, 2024-04-17). Optional with a schema Default (the provider plans the default when unset): forceDestroy. region: Optional+Computed; a change forces replacement via the provider-wide CustomizeDiff forceNewIfRegionChanges (v6 per-resource region).",
    ),
    "aws:backup/vaultLockConfiguration:VaultLockConfiguration": Rules(
        source="internal/service/backup/vault_lock_configuration.go",
        replace=frozenset({"backupVaultName", "changeableForDays", "maxRetentionDays", "minRetentionDays", "region"}),
        computed=frozenset({"region"}),
        optional_not_computed=frozenset({"changeableForDays", "maxRetentionDays", "minRetentionDays"}),
        notes="Read: v5.46.0-dev tree (main @ 252a5db, 2024-04-17). region: Optional+Computed; a change forces replacement via the provider-wide CustomizeDiff forceNewIfRegionChanges (v6 per-resource region).",
    ),
    "aws:cloudfront/cachePolicy:CachePolicy": Rules(
        source="internal/service/cloudfront/cache_policy.go",
        replace=frozenset(),
        computed=frozenset(),
        optional_not_computed=frozenset({"comment", "defaultTtl", "maxTtl", "minTtl"}),
        notes="Read: v5.46.0-dev tree (main @ 252a5db, 2024-04-17). Optional with a schema Default (the provider plans the default when unset): defaultTtl, maxTtl.",
    ),
    "aws:cloudfront/distribution:Distribution": Rules(
        source="internal/service/cloudfront/distribution.go",
        replace=frozenset({"staging"}),
        computed=frozenset({"continuousDeploymentPolicyId"}),
        optional_not_computed=frozenset(
            {
                "aliases",
                "comment",
                "customErrorResponses",
                "defaultRootObject",
                "httpVersion",
                "isIpv6Enabled",
                "loggingConfig",
                "orderedCacheBehaviors",
                "originGroups",
                "priceClass",
                "retainOnDelete",
                "staging",
                "tags",
                "waitForDeployment",
                "webAclId",
            }
        ),
        notes="Read: v5.46.0-dev tree (main @ 252a5db, 2024-04-17). Optional with a schema Default (the provider plans the default when unset): httpVersion, isIpv6Enabled, priceClass, retainOnDelete, staging, waitForDeployment. SDK inputs not in the read schema version (added later; not classified): anycastIpListId, cacheTagConfig, connectionFunctionAssociation, viewerMtlsConfig.",
    ),
    "aws:cloudfront/function:Function": Rules(
        source="internal/service/cloudfront/function.go",
        replace=frozenset({"name"}),
        computed=frozenset(),
        optional_not_computed=frozenset({"comment", "keyValueStoreAssociations", "publish"}),
        notes="Read: v5.46.0-dev tree (main @ 252a5db, 2024-04-17). Optional with a schema Default (the provider plans the default when unset): publish. SDK inputs not in the read schema version (added later; not classified): tags.",
    ),
    "aws:cloudfront/monitoringSubscription:MonitoringSubscription": Rules(
        source="internal/service/cloudfront/monitoring_subscription.go",
        replace=frozenset({"distributionId"}),
        computed=frozenset(),
        optional_not_computed=frozenset(),
        notes="Read: v5.46.0-dev tree (main @ 252a5db, 2024-04-17).",
    ),
    "aws:cloudfront/originAccessControl:OriginAccessControl": Rules(
        source="internal/service/cloudfront/origin_access_control.go",
        replace=frozenset(),
        computed=frozenset(),
        optional_not_computed=frozenset({"description"}),
        notes="Read: v5.46.0-dev tree (main @ 252a5db, 2024-04-17). Optional with a schema Default (the provider plans the default when unset): description.",
    ),
    "aws:cloudfront/originRequestPolicy:OriginRequestPolicy": Rules(
        source="internal/service/cloudfront/origin_request_policy.go",
        replace=frozenset(),
        computed=frozenset(),
        optional_not_computed=frozenset({"comment"}),
        notes="Read: v5.46.0-dev tree (main @ 252a5db, 2024-04-17).",
    ),
    "aws:cloudfront/responseHeadersPolicy:ResponseHeadersPolicy": Rules(
        source="internal/service/cloudfront/response_headers_policy.go",
        replace=frozenset(),
        computed=frozenset(),
        optional_not_computed=frozenset(
            {
                "comment",
                "corsConfig",
                "customHeadersConfig",
                "removeHeadersConfig",
                "securityHeadersConfig",
                "serverTimingHeadersConfig",
            }
        ),
        notes="Read: v5.46.0-dev tree (main @ 252a5db, 2024-04-17). In the read schema but not SDK inputs (removed upstream since, or not exposed by Pulumi): etag.",
    ),
    "aws:cloudwatch/compositeAlarm:CompositeAlarm": Rules(
        source="internal/service/cloudwatch/composite_alarm.go",
        replace=frozenset({"actionsEnabled", "alarmName", "region"}),
        computed=frozenset({"region"}),
        optional_not_computed=frozenset(
            {
                "actionsEnabled",
                "actionsSuppressor",
                "alarmActions",
                "alarmDescription",
                "insufficientDataActions",
                "okActions",
                "tags",
            }
        ),
        notes="Read: v5.46.0-dev tree (main @ 252a5db, 2024-04-17). Optional with a schema Default (the provider plans the default when unset): actionsEnabled. region: Optional+Computed; a change forces replacement via the provider-wide CustomizeDiff forceNewIfRegionChanges (v6 per-resource region).",
    ),
    "aws:cloudwatch/dashboard:Dashboard": Rules(
        source="internal/service/cloudwatch/dashboard.go",
        replace=frozenset({"dashboardName", "region"}),
        computed=frozenset({"region"}),
        optional_not_computed=frozenset(),
        notes="Read: v5.46.0-dev tree (main @ 252a5db, 2024-04-17). region: Optional+Computed; a change forces replacement via the provider-wide CustomizeDiff forceNewIfRegionChanges (v6 per-resource region).",
    ),
    "aws:cloudwatch/eventRule:EventRule": Rules(
        source="internal/service/events/rule.go",
        replace=frozenset({"eventBusName", "name", "namePrefix", "region"}),
        computed=frozenset({"name", "namePrefix", "region"}),
        optional_not_computed=frozenset(
            {
                "description",
                "eventBusName",
                "eventPattern",
                "isEnabled",
                "roleArn",
                "scheduleExpression",
                "state",
                "tags",
            }
        ),
        notes="Read: v5.46.0-dev tree (main @ 252a5db, 2024-04-17). Optional with a schema Default (the provider plans the default when unset): eventBusName. region: Optional+Computed; a change forces replacement via the provider-wide CustomizeDiff forceNewIfRegionChanges (v6 per-resource region). SDK inputs not in the read schema version (added later; not classified): forceDestroy.",
    ),
    "aws:cloudwatch/eventTarget:EventTarget": Rules(
        source="internal/service/events/target.go",
        replace=frozenset({"eventBusName", "region", "rule", "targetId"}),
        computed=frozenset({"region", "targetId"}),
        optional_not_computed=frozenset(
            {
                "batchTarget",
                "deadLetterConfig",
                "ecsTarget",
                "eventBusName",
                "httpTarget",
                "input",
                "inputPath",
                "inputTransformer",
                "kinesisTarget",
                "redshiftTarget",
                "retryPolicy",
                "roleArn",
                "runCommandTargets",
                "sagemakerPipelineTarget",
                "sqsTarget",
            }
        ),
        notes="Read: v5.46.0-dev tree (main @ 252a5db, 2024-04-17). Optional with a schema Default (the provider plans the default when unset): eventBusName. region: Optional+Computed; a change forces replacement via the provider-wide CustomizeDiff forceNewIfRegionChanges (v6 per-resource region). SDK inputs not in the read schema version (added later; not classified): appsyncTarget, forceDestroy.",
    ),
    "aws:cloudwatch/logGroup:LogGroup": Rules(
        source="internal/service/logs/group.go",
        replace=frozenset({"logGroupClass", "name", "namePrefix", "region"}),
        computed=frozenset({"logGroupClass", "name", "namePrefix", "region"}),
        optional_not_computed=frozenset({"kmsKeyId", "retentionInDays", "skipDestroy", "tags"}),
        notes="Read: v5.46.0-dev tree (main @ 252a5db, 2024-04-17). Optional with a schema Default (the provider plans the default when unset): retentionInDays, skipDestroy. region: Optional+Computed; a change forces replacement via the provider-wide CustomizeDiff forceNewIfRegionChanges (v6 per-resource region). SDK inputs not in the read schema version (added later; not classified): deletionProtectionEnabled.",
    ),
    "aws:cloudwatch/logResourcePolicy:LogResourcePolicy": Rules(
        source="internal/service/logs/resource_policy.go",
        replace=frozenset({"policyName", "region"}),
        computed=frozenset({"region"}),
        optional_not_computed=frozenset(),
        notes="Read: v5.46.0-dev tree (main @ 252a5db, 2024-04-17). region: Optional+Computed; a change forces replacement via the provider-wide CustomizeDiff forceNewIfRegionChanges (v6 per-resource region). SDK inputs not in the read schema version (added later; not classified): resourceArn.",
    ),
    "aws:cloudwatch/metricAlarm:MetricAlarm": Rules(
        source="internal/service/cloudwatch/metric_alarm.go",
        replace=frozenset({"name", "region"}),
        computed=frozenset({"evaluateLowSampleCountPercentiles", "region"}),
        optional_not_computed=frozenset(
            {
                "actionsEnabled",
                "alarmActions",
                "alarmDescription",
                "datapointsToAlarm",
                "dimensions",
                "extendedStatistic",
                "insufficientDataActions",
                "metricName",
                "metricQueries",
                "namespace",
                "okActions",
                "period",
                "statistic",
                "tags",
                "threshold",
                "thresholdMetricId",
                "treatMissingData",
                "unit",
            }
        ),
        notes="Read: v5.46.0-dev tree (main @ 252a5db, 2024-04-17). TF alarm_name is the Pulumi input name. Optional with a schema Default (the provider plans the default when unset): actionsEnabled, treatMissingData. region: Optional+Computed; a change forces replacement via the provider-wide CustomizeDiff forceNewIfRegionChanges (v6 per-resource region). SDK inputs not in the read schema version (added later; not classified): evaluationCriteria, evaluationInterval, evaluationWindow, warmUpConfiguration.",
    ),
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": Rules(
        source="internal/service/ec2/vpc_default_security_group.go",
        replace=frozenset({"region", "vpcId"}),
        computed=frozenset({"egress", "ingress", "region", "vpcId"}),
        optional_not_computed=frozenset({"revokeRulesOnDelete", "tags"}),
        notes="Read: v5.46.0-dev tree (main @ 252a5db, 2024-04-17). ingress/egress: Optional+Computed set (ConfigMode attr). Optional with a schema Default (the provider plans the default when unset): revokeRulesOnDelete. region: Optional+Computed; a change forces replacement via the provider-wide CustomizeDiff forceNewIfRegionChanges (v6 per-resource region).",
    ),
    "aws:ec2/eip:Eip": Rules(
        source="internal/service/ec2/ec2_eip.go",
        replace=frozenset({"address", "domain", "networkBorderGroup", "publicIpv4Pool", "region"}),
        computed=frozenset(
            {"domain", "instance", "networkBorderGroup", "networkInterface", "publicIpv4Pool", "region"}
        ),
        optional_not_computed=frozenset({"address", "associateWithPrivateIp", "customerOwnedIpv4Pool", "tags"}),
        notes="Read: v5.46.0-dev tree (main @ 252a5db, 2024-04-17). region: Optional+Computed; a change forces replacement via the provider-wide CustomizeDiff forceNewIfRegionChanges (v6 per-resource region). In the read schema but not SDK inputs (removed upstream since, or not exposed by Pulumi): vpc. SDK inputs not in the read schema version (added later; not classified): ipamPoolId.",
    ),
    "aws:ec2/flowLog:FlowLog": Rules(
        source="internal/service/ec2/vpc_flow_log.go",
        replace=frozenset(
            {
                "deliverCrossAccountRole",
                "destinationOptions",
                "eniId",
                "iamRoleArn",
                "logDestination",
                "logDestinationType",
                "logFormat",
                "maxAggregationInterval",
                "region",
                "subnetId",
                "trafficType",
                "transitGatewayAttachmentId",
                "transitGatewayId",
                "vpcId",
            }
        ),
        computed=frozenset({"logDestination", "logFormat", "region"}),
        optional_not_computed=frozenset(
            {
                "deliverCrossAccountRole",
                "destinationOptions",
                "eniId",
                "iamRoleArn",
                "logDestinationType",
                "maxAggregationInterval",
                "subnetId",
                "tags",
                "trafficType",
                "transitGatewayAttachmentId",
                "transitGatewayId",
                "vpcId",
            }
        ),
        notes="Read: v5.46.0-dev tree (main @ 252a5db, 2024-04-17). Nested ForceNew (changing these replaces): destination_options.file_format, destination_options.hive_compatible_partitions, destination_options.per_hour_partition. Optional with a schema Default (the provider plans the default when unset): logDestinationType, maxAggregationInterval. region: Optional+Computed; a change forces replacement via the provider-wide CustomizeDiff forceNewIfRegionChanges (v6 per-resource region). In the read schema but not SDK inputs (removed upstream since, or not exposed by Pulumi): log_group_name. SDK inputs not in the read schema version (added later; not classified): regionalNatGatewayId, tagFieldSpecifications.",
    ),
    "aws:ec2/internetGateway:InternetGateway": Rules(
        source="internal/service/ec2/vpc_internet_gateway.go",
        replace=frozenset({"region"}),
        computed=frozenset({"region", "vpcId"}),
        optional_not_computed=frozenset({"tags"}),
        notes="Read: v5.46.0-dev tree (main @ 252a5db, 2024-04-17). region: Optional+Computed; a change forces replacement via the provider-wide CustomizeDiff forceNewIfRegionChanges (v6 per-resource region).",
    ),
    "aws:ec2/launchTemplate:LaunchTemplate": Rules(
        source="internal/service/ec2/ec2_launch_template.go",
        replace=frozenset({"name", "namePrefix", "region"}),
        computed=frozenset({"defaultVersion", "metadataOptions", "name", "namePrefix", "region"}),
        optional_not_computed=frozenset(
            {
                "blockDeviceMappings",
                "capacityReservationSpecification",
                "cpuOptions",
                "creditSpecification",
                "description",
                "disableApiStop",
                "disableApiTermination",
                "ebsOptimized",
                "enclaveOptions",
                "hibernationOptions",
                "iamInstanceProfile",
                "imageId",
                "instanceInitiatedShutdownBehavior",
                "instanceMarketOptions",
                "instanceRequirements",
                "instanceType",
                "kernelId",
                "keyName",
                "licenseSpecifications",
                "maintenanceOptions",
                "monitoring",
                "networkInterfaces",
                "placement",
                "privateDnsNameOptions",
                "ramDiskId",
                "securityGroupNames",
                "tagSpecifications",
                "tags",
                "updateDefaultVersion",
                "userData",
                "vpcSecurityGroupIds",
            }
        ),
        notes="Read: v5.46.0-dev tree (main @ 252a5db, 2024-04-17). region: Optional+Computed; a change forces replacement via the provider-wide CustomizeDiff forceNewIfRegionChanges (v6 per-resource region). In the read schema but not SDK inputs (removed upstream since, or not exposed by Pulumi): elastic_gpu_specifications, elastic_inference_accelerator. SDK inputs not in the read schema version (added later; not classified): networkPerformanceOptions, secondaryInterfaces.",
    ),
    "aws:ec2/natGateway:NatGateway": Rules(
        source="internal/service/ec2/vpc_nat_gateway.go",
        replace=frozenset(
            {"allocationId", "connectivityType", "privateIp", "region", "secondaryPrivateIpAddressCount", "subnetId"}
        ),
        computed=frozenset({"privateIp", "region", "secondaryPrivateIpAddressCount", "secondaryPrivateIpAddresses"}),
        optional_not_computed=frozenset({"allocationId", "connectivityType", "secondaryAllocationIds", "tags"}),
        notes="Read: v5.46.0-dev tree (main @ 252a5db, 2024-04-17). Optional with a schema Default (the provider plans the default when unset): connectivityType. region: Optional+Computed; a change forces replacement via the provider-wide CustomizeDiff forceNewIfRegionChanges (v6 per-resource region). SDK inputs not in the read schema version (added later; not classified): availabilityMode, availabilityZoneAddresses, vpcId.",
    ),
    "aws:ec2/route:Route": Rules(
        source="internal/service/ec2/vpc_route.go",
        replace=frozenset(
            {"destinationCidrBlock", "destinationIpv6CidrBlock", "destinationPrefixListId", "region", "routeTableId"}
        ),
        computed=frozenset({"networkInterfaceId", "region"}),
        optional_not_computed=frozenset(
            {
                "carrierGatewayId",
                "coreNetworkArn",
                "destinationCidrBlock",
                "destinationIpv6CidrBlock",
                "destinationPrefixListId",
                "egressOnlyGatewayId",
                "gatewayId",
                "localGatewayId",
                "natGatewayId",
                "transitGatewayId",
                "vpcEndpointId",
                "vpcPeeringConnectionId",
            }
        ),
        notes="Read: v5.46.0-dev tree (main @ 252a5db, 2024-04-17). region: Optional+Computed; a change forces replacement via the provider-wide CustomizeDiff forceNewIfRegionChanges (v6 per-resource region). SDK inputs not in the read schema version (added later; not classified): odbNetworkArn.",
    ),
    "aws:ec2/routeTable:RouteTable": Rules(
        source="internal/service/ec2/vpc_route_table.go",
        replace=frozenset({"region", "vpcId"}),
        computed=frozenset({"propagatingVgws", "region", "routes"}),
        optional_not_computed=frozenset({"tags"}),
        notes="Read: v5.46.0-dev tree (main @ 252a5db, 2024-04-17). region: Optional+Computed; a change forces replacement via the provider-wide CustomizeDiff forceNewIfRegionChanges (v6 per-resource region).",
    ),
    "aws:ec2/routeTableAssociation:RouteTableAssociation": Rules(
        source="internal/service/ec2/vpc_route_table_association.go",
        replace=frozenset({"gatewayId", "region", "subnetId"}),
        computed=frozenset({"region"}),
        optional_not_computed=frozenset({"gatewayId", "subnetId"}),
        notes="Read: v5.46.0-dev tree (main @ 252a5db, 2024-04-17). region: Optional+Computed; a change forces replacement via the provider-wide CustomizeDiff forceNewIfRegionChanges (v6 per-resource region).",
    ),
    "aws:ec2/securityGroup:SecurityGroup": Rules(
        source="internal/service/ec2/vpc_security_group.go",
        replace=frozenset({"description", "name", "namePrefix", "region", "vpcId"}),
        computed=frozenset({"egress", "ingress", "name", "namePrefix", "region", "vpcId"}),
        optional_not_computed=frozenset({"description", "revokeRulesOnDelete", "tags"}),
        notes="Read: v5.46.0-dev tree (main @ 252a5db, 2024-04-17). ingress/egress: Optional+Computed set (ConfigMode attr). Optional with a schema Default (the provider plans the default when unset): description, revokeRulesOnDelete. region: Optional+Computed; a change forces replacement via the provider-wide CustomizeDiff forceNewIfRegionChanges (v6 per-resource region).",
    ),
    "aws:ec2/subnet:Subnet": Rules(
        source="internal/service/ec2/vpc_subnet.go",
        replace=frozenset(
            {"availabilityZone", "availabilityZoneId", "cidrBlock", "ipv6Native", "outpostArn", "region", "vpcId"}
        ),
        computed=frozenset({"availabilityZone", "availabilityZoneId", "privateDnsHostnameTypeOnLaunch", "region"}),
        optional_not_computed=frozenset(
            {
                "assignIpv6AddressOnCreation",
                "cidrBlock",
                "customerOwnedIpv4Pool",
                "enableDns64",
                "enableLniAtDeviceIndex",
                "enableResourceNameDnsARecordOnLaunch",
                "enableResourceNameDnsAaaaRecordOnLaunch",
                "ipv6CidrBlock",
                "ipv6Native",
                "mapCustomerOwnedIpOnLaunch",
                "mapPublicIpOnLaunch",
                "outpostArn",
                "tags",
            }
        ),
        notes="Read: v5.46.0-dev tree (main @ 252a5db, 2024-04-17). Optional with a schema Default (the provider plans the default when unset): assignIpv6AddressOnCreation, enableDns64, enableResourceNameDnsARecordOnLaunch, enableResourceNameDnsAaaaRecordOnLaunch, ipv6Native, mapPublicIpOnLaunch. region: Optional+Computed; a change forces replacement via the provider-wide CustomizeDiff forceNewIfRegionChanges (v6 per-resource region). SDK inputs not in the read schema version (added later; not classified): ipv4IpamPoolId, ipv4NetmaskLength, ipv6IpamPoolId, ipv6NetmaskLength.",
    ),
    "aws:ec2/vpc:Vpc": Rules(
        source="internal/service/ec2/vpc_.go",
        replace=frozenset({"cidrBlock", "ipv4IpamPoolId", "ipv4NetmaskLength", "region"}),
        computed=frozenset(
            {
                "cidrBlock",
                "enableDnsHostnames",
                "enableNetworkAddressUsageMetrics",
                "ipv6CidrBlock",
                "ipv6CidrBlockNetworkBorderGroup",
                "region",
            }
        ),
        optional_not_computed=frozenset(
            {
                "assignGeneratedIpv6CidrBlock",
                "enableDnsSupport",
                "instanceTenancy",
                "ipv4IpamPoolId",
                "ipv4NetmaskLength",
                "ipv6IpamPoolId",
                "ipv6NetmaskLength",
                "tags",
            }
        ),
        notes="Read: v5.46.0-dev tree (main @ 252a5db, 2024-04-17). CustomizeDiff: instance_tenancy change forces replacement unless dedicated -> default; a cidr_block change forces replacement unless ipv4_netmask_length is set (IPAM-derived, diff cleared). Optional with a schema Default (the provider plans the default when unset): enableDnsSupport, instanceTenancy. region: Optional+Computed; a change forces replacement via the provider-wide CustomizeDiff forceNewIfRegionChanges (v6 per-resource region).",
    ),
    "aws:ec2/vpcEndpoint:VpcEndpoint": Rules(
        source="internal/service/ec2/vpc_endpoint.go",
        replace=frozenset({"region", "serviceName", "vpcEndpointType", "vpcId"}),
        computed=frozenset(
            {"dnsOptions", "ipAddressType", "policy", "region", "routeTableIds", "securityGroupIds", "subnetIds"}
        ),
        optional_not_computed=frozenset({"autoAccept", "privateDnsEnabled", "tags", "vpcEndpointType"}),
        notes="Read: v5.46.0-dev tree (main @ 252a5db, 2024-04-17). Optional with a schema Default (the provider plans the default when unset): privateDnsEnabled, vpcEndpointType. region: Optional+Computed; a change forces replacement via the provider-wide CustomizeDiff forceNewIfRegionChanges (v6 per-resource region). SDK inputs not in the read schema version (added later; not classified): resourceConfigurationArn, serviceNetworkArn, serviceRegion, subnetConfigurations.",
    ),
    "aws:eks/addon:Addon": Rules(
        source="internal/service/eks/addon.go",
        replace=frozenset({"addonName", "clusterName", "region"}),
        computed=frozenset({"addonVersion", "configurationValues", "region"}),
        optional_not_computed=frozenset(
            {"preserve", "resolveConflictsOnCreate", "resolveConflictsOnUpdate", "serviceAccountRoleArn", "tags"}
        ),
        notes="Read: v5.46.0-dev tree (main @ 252a5db, 2024-04-17). region: Optional+Computed; a change forces replacement via the provider-wide CustomizeDiff forceNewIfRegionChanges (v6 per-resource region). In the read schema but not SDK inputs (removed upstream since, or not exposed by Pulumi): resolve_conflicts. SDK inputs not in the read schema version (added later; not classified): namespaceConfig, podIdentityAssociations.",
    ),
    "aws:eks/cluster:Cluster": Rules(
        source="internal/service/eks/cluster.go",
        replace=frozenset({"bootstrapSelfManagedAddons", "name", "region", "roleArn"}),
        computed=frozenset(
            {
                "accessConfig",
                "computeConfig",
                "controlPlaneScalingConfig",
                "deletionProtection",
                "kubernetesNetworkConfig",
                "region",
                "storageConfig",
                "upgradePolicy",
                "version",
            }
        ),
        optional_not_computed=frozenset(
            {
                "bootstrapSelfManagedAddons",
                "enabledClusterLogTypes",
                "encryptionConfig",
                "forceUpdateVersion",
                "outpostConfig",
                "remoteNetworkConfig",
                "tags",
                "zonalShiftConfig",
            }
        ),
        notes='Read: v6.x copy (2026 header, commit not named by the index; read id 4997342113). CustomizeDiff customdiff.ForceNewIfChange("encryption_config"): removing encryption_config (1 -> 0 blocks) forces replacement; adding it is in place. Nested ForceNew (changing these replaces): access_config.bootstrap_cluster_creator_admin_permissions, kubernetes_network_config.ip_family, kubernetes_network_config.service_ipv4_cidr, outpost_config.control_plane_instance_type, outpost_config.control_plane_placement.group_name. Optional with a schema Default (the provider plans the default when unset): bootstrapSelfManagedAddons. region: Optional+Computed; a change forces replacement via the provider-wide CustomizeDiff forceNewIfRegionChanges (v6 per-resource region). SDK inputs not in the read schema version (added later; not classified): defaultAddonsToRemoves, kubeApiServerConfig, kubeControllerManagerConfig, kubeSchedulerConfig.',
    ),
    "aws:eks/nodeGroup:NodeGroup": Rules(
        source="internal/service/eks/node_group.go",
        replace=frozenset(
            {
                "amiType",
                "capacityType",
                "clusterName",
                "diskSize",
                "instanceTypes",
                "nodeGroupName",
                "nodeGroupNamePrefix",
                "nodeRoleArn",
                "region",
                "remoteAccess",
                "subnetIds",
            }
        ),
        computed=frozenset(
            {
                "amiType",
                "capacityType",
                "diskSize",
                "instanceTypes",
                "nodeGroupName",
                "nodeGroupNamePrefix",
                "nodeRepairConfig",
                "region",
                "releaseVersion",
                "updateConfig",
                "version",
            }
        ),
        optional_not_computed=frozenset(
            {"forceUpdateVersion", "labels", "launchTemplate", "remoteAccess", "tags", "taints"}
        ),
        notes="Read: v5.8x copy (read commit 012e0a3; same schema as v5.46 plus node_repair_config). Nested ForceNew (changing these replaces): launch_template.id, launch_template.name, remote_access.ec2_ssh_key, remote_access.source_security_group_ids. region: Optional+Computed; a change forces replacement via the provider-wide CustomizeDiff forceNewIfRegionChanges (v6 per-resource region). SDK inputs not in the read schema version (added later; not classified): warmPoolConfig.",
    ),
    "aws:eks/podIdentityAssociation:PodIdentityAssociation": Rules(
        source="internal/service/eks/pod_identity_association.go",
        replace=frozenset({"clusterName", "namespace", "region", "serviceAccount"}),
        computed=frozenset({"region"}),
        optional_not_computed=frozenset({"tags"}),
        notes="Read: v5.46.0-dev tree (main @ 252a5db, 2024-04-17). Plugin-framework resource. region: Optional+Computed; a change forces replacement via the provider-wide CustomizeDiff forceNewIfRegionChanges (v6 per-resource region). SDK inputs not in the read schema version (added later; not classified): disableSessionTags, policy, targetRoleArn.",
    ),
    "aws:elasticache/parameterGroup:ParameterGroup": Rules(
        source="internal/service/elasticache/parameter_group.go",
        replace=frozenset({"description", "family", "name", "region"}),
        computed=frozenset({"region"}),
        optional_not_computed=frozenset({"description", "parameters", "tags"}),
        notes='Read: v5.46.0-dev tree (main @ 252a5db, 2024-04-17). description is ForceNew (Default "Managed by Terraform"). Optional with a schema Default (the provider plans the default when unset): description. region: Optional+Computed; a change forces replacement via the provider-wide CustomizeDiff forceNewIfRegionChanges (v6 per-resource region).',
    ),
    "aws:elasticache/replicationGroup:ReplicationGroup": Rules(
        source="internal/service/elasticache/replication_group.go",
        replace=frozenset(
            {
                "atRestEncryptionEnabled",
                "dataTieringEnabled",
                "globalReplicationGroupId",
                "kmsKeyId",
                "networkType",
                "port",
                "region",
                "replicationGroupId",
                "securityGroupNames",
                "snapshotArns",
                "snapshotName",
                "subnetGroupName",
            }
        ),
        computed=frozenset(
            {
                "applyImmediately",
                "atRestEncryptionEnabled",
                "autoMinorVersionUpgrade",
                "clusterMode",
                "dataTieringEnabled",
                "engine",
                "engineVersion",
                "globalReplicationGroupId",
                "ipDiscovery",
                "maintenanceWindow",
                "networkType",
                "nodeGroupConfigurations",
                "nodeType",
                "numCacheClusters",
                "numNodeGroups",
                "parameterGroupName",
                "region",
                "replicasPerNodeGroup",
                "securityGroupIds",
                "securityGroupNames",
                "snapshotWindow",
                "subnetGroupName",
                "transitEncryptionEnabled",
                "transitEncryptionMode",
            }
        ),
        optional_not_computed=frozenset(
            {
                "authToken",
                "authTokenUpdateStrategy",
                "automaticFailoverEnabled",
                "finalSnapshotIdentifier",
                "kmsKeyId",
                "logDeliveryConfigurations",
                "multiAzEnabled",
                "notificationTopicArn",
                "port",
                "preferredCacheClusterAzs",
                "snapshotArns",
                "snapshotName",
                "snapshotRetentionLimit",
                "tags",
                "userGroupIds",
            }
        ),
        notes='Read: v6.x copy (has the v6.0.0 state upgrader; read id 4789450415 from offset 2500, apply_immediately/arn taken from the v5.46 tree). CustomizeDiff forces replacement on: engine_version downgrade (customizeDiffEngineVersionForceNewOnDowngrade); engine downgrade valkey->redis (customizeDiffEngineForceNewOnDowngrade); node_group_configuration added/removed/significantly changed (customdiff.ForceNewIf); transit_encryption_enabled change while engine_version_actual < 7.0.5 (customdiff.ForceNewIf). node_type is NOT ForceNew (in-place scaling). In v5.46 engine was Optional+Default("redis")+ForceNew; in v6 it is Optional+Computed, no ForceNew. Optional with a schema Default (the provider plans the default when unset): automaticFailoverEnabled, multiAzEnabled. region: Optional+Computed; a change forces replacement via the provider-wide CustomizeDiff forceNewIfRegionChanges (v6 per-resource region). SDK inputs not in the read schema version (added later; not classified): authTokenWo, authTokenWoVersion, durability.',
    ),
    "aws:elasticache/subnetGroup:SubnetGroup": Rules(
        source="internal/service/elasticache/subnet_group.go",
        replace=frozenset({"name", "region"}),
        computed=frozenset({"region"}),
        optional_not_computed=frozenset({"description", "tags"}),
        notes="Read: v5.46.0-dev tree (main @ 252a5db, 2024-04-17). Optional with a schema Default (the provider plans the default when unset): description. region: Optional+Computed; a change forces replacement via the provider-wide CustomizeDiff forceNewIfRegionChanges (v6 per-resource region).",
    ),
    "aws:iam/role:Role": Rules(
        source="internal/service/iam/role.go",
        replace=frozenset({"name", "namePrefix", "path"}),
        computed=frozenset({"inlinePolicies", "managedPolicyArns", "name", "namePrefix"}),
        optional_not_computed=frozenset(
            {"description", "forceDetachPolicies", "maxSessionDuration", "path", "permissionsBoundary", "tags"}
        ),
        notes="Read: v5.46.0-dev tree (main @ 252a5db, 2024-04-17). Optional with a schema Default (the provider plans the default when unset): forceDetachPolicies, maxSessionDuration, path.",
    ),
    "aws:iam/rolePolicy:RolePolicy": Rules(
        source="internal/service/iam/role_policy.go",
        replace=frozenset({"name", "namePrefix", "role"}),
        computed=frozenset({"name", "namePrefix"}),
        optional_not_computed=frozenset(),
        notes="Read: v5.46.0-dev tree (main @ 252a5db, 2024-04-17).",
    ),
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": Rules(
        source="internal/service/iam/role_policy_attachment.go",
        replace=frozenset({"policyArn", "role"}),
        computed=frozenset(),
        optional_not_computed=frozenset(),
        notes="Read: v5.46.0-dev tree (main @ 252a5db, 2024-04-17).",
    ),
    "aws:kms/alias:Alias": Rules(
        source="internal/service/kms/alias.go",
        replace=frozenset({"name", "namePrefix", "region"}),
        computed=frozenset({"name", "namePrefix", "region"}),
        optional_not_computed=frozenset(),
        notes="Read: v5.46.0-dev tree (main @ 252a5db, 2024-04-17). region: Optional+Computed; a change forces replacement via the provider-wide CustomizeDiff forceNewIfRegionChanges (v6 per-resource region).",
    ),
    "aws:kms/key:Key": Rules(
        source="internal/service/kms/key.go",
        replace=frozenset(
            {"customKeyStoreId", "customerMasterKeySpec", "keyUsage", "multiRegion", "region", "xksKeyId"}
        ),
        computed=frozenset({"description", "multiRegion", "policy", "region", "rotationPeriodInDays"}),
        optional_not_computed=frozenset(
            {
                "bypassPolicyLockoutSafetyCheck",
                "customKeyStoreId",
                "customerMasterKeySpec",
                "deletionWindowInDays",
                "enableKeyRotation",
                "isEnabled",
                "keyUsage",
                "tags",
                "xksKeyId",
            }
        ),
        notes="Read: v5.5x copy (read id 2386543775; same schema as v5.46 plus rotation_period_in_days). Optional with a schema Default (the provider plans the default when unset): bypassPolicyLockoutSafetyCheck, customerMasterKeySpec, enableKeyRotation, isEnabled, keyUsage. region: Optional+Computed; a change forces replacement via the provider-wide CustomizeDiff forceNewIfRegionChanges (v6 per-resource region).",
    ),
    "aws:rds/instance:Instance": Rules(
        source="internal/service/rds/instance.go",
        replace=frozenset(
            {
                "availabilityZone",
                "backupTarget",
                "characterSetName",
                "customIamInstanceProfile",
                "dbName",
                "engine",
                "kmsKeyId",
                "ncharCharacterSetName",
                "region",
                "restoreToPointInTime",
                "snapshotIdentifier",
                "storageEncrypted",
                "timezone",
                "username",
            }
        ),
        computed=frozenset(
            {
                "allocatedStorage",
                "availabilityZone",
                "backupRetentionPeriod",
                "backupTarget",
                "backupWindow",
                "caCertIdentifier",
                "characterSetName",
                "dbName",
                "dbSubnetGroupName",
                "domainFqdn",
                "engine",
                "engineVersion",
                "identifier",
                "identifierPrefix",
                "iops",
                "kmsKeyId",
                "licenseModel",
                "maintenanceWindow",
                "masterUserSecretKmsKeyId",
                "monitoringRoleArn",
                "multiAz",
                "ncharCharacterSetName",
                "networkType",
                "optionGroupName",
                "parameterGroupName",
                "performanceInsightsKmsKeyId",
                "performanceInsightsRetentionPeriod",
                "port",
                "region",
                "replicaMode",
                "snapshotIdentifier",
                "storageThroughput",
                "storageType",
                "timezone",
                "username",
                "vpcSecurityGroupIds",
            }
        ),
        optional_not_computed=frozenset(
            {
                "allowMajorVersionUpgrade",
                "applyImmediately",
                "autoMinorVersionUpgrade",
                "blueGreenUpdate",
                "copyTagsToSnapshot",
                "customIamInstanceProfile",
                "customerOwnedIpEnabled",
                "deleteAutomatedBackups",
                "deletionProtection",
                "domain",
                "domainAuthSecretArn",
                "domainDnsIps",
                "domainIamRoleName",
                "domainOu",
                "enabledCloudwatchLogsExports",
                "finalSnapshotIdentifier",
                "iamDatabaseAuthenticationEnabled",
                "manageMasterUserPassword",
                "maxAllocatedStorage",
                "monitoringInterval",
                "password",
                "performanceInsightsEnabled",
                "publiclyAccessible",
                "replicateSourceDb",
                "restoreToPointInTime",
                "s3Import",
                "skipFinalSnapshot",
                "storageEncrypted",
                "tags",
            }
        ),
        notes='Read: v5.46.0-dev tree (main @ 252a5db, 2024-04-17). CustomizeDiff (v5.46) has no ForceNew rule (only blue_green_update validations). identifier is Optional+Computed and NOT ForceNew since v5.0.0 (hashicorp/terraform-provider-aws#31232, "Updates to identifier and identifier_prefix will no longer cause the database instance to be destroyed and recreated"): renamed in place via ModifyDBInstance NewDBInstanceIdentifier; the Pulumi/TF id is the dbi-resource-id. db_subnet_group_name is Optional+Computed, NOT ForceNew (ModifyDBInstance DBSubnetGroupName). instance_class is Required and updated in place. restore_to_point_in_time is ForceNew at top level. Nested ForceNew (changing these replaces): s3_import.bucket_name, s3_import.bucket_prefix, s3_import.ingestion_role, s3_import.source_engine, s3_import.source_engine_version. Optional with a schema Default (the provider plans the default when unset): applyImmediately, autoMinorVersionUpgrade, copyTagsToSnapshot, deleteAutomatedBackups, monitoringInterval, performanceInsightsEnabled, publiclyAccessible, skipFinalSnapshot. region: Optional+Computed; a change forces replacement via the provider-wide CustomizeDiff forceNewIfRegionChanges (v6 per-resource region). SDK inputs not in the read schema version (added later; not classified): databaseInsightsMode, dedicatedLogVolume, engineLifecycleSupport, passwordWo, passwordWoVersion, upgradeStorageConfig, warningEventCategories.',
    ),
    "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication": Rules(
        source="internal/service/rds/instance_automated_backups_replication.go",
        replace=frozenset({"kmsKeyId", "preSignedUrl", "region", "retentionPeriod", "sourceDbInstanceArn"}),
        computed=frozenset({"kmsKeyId", "region"}),
        optional_not_computed=frozenset({"preSignedUrl", "retentionPeriod"}),
        notes="Read: v5.46.0-dev tree (main @ 252a5db, 2024-04-17). Optional with a schema Default (the provider plans the default when unset): retentionPeriod. region: Optional+Computed; a change forces replacement via the provider-wide CustomizeDiff forceNewIfRegionChanges (v6 per-resource region).",
    ),
    "aws:rds/parameterGroup:ParameterGroup": Rules(
        source="internal/service/rds/parameter_group.go",
        replace=frozenset({"description", "family", "name", "namePrefix", "region"}),
        computed=frozenset({"name", "namePrefix", "region"}),
        optional_not_computed=frozenset({"description", "parameters", "tags"}),
        notes='Read: v5.46.0-dev tree (main @ 252a5db, 2024-04-17). description is ForceNew (Default "Managed by Terraform"). Optional with a schema Default (the provider plans the default when unset): description. region: Optional+Computed; a change forces replacement via the provider-wide CustomizeDiff forceNewIfRegionChanges (v6 per-resource region). SDK inputs not in the read schema version (added later; not classified): skipDestroy.',
    ),
    "aws:rds/subnetGroup:SubnetGroup": Rules(
        source="internal/service/rds/subnet_group.go",
        replace=frozenset({"name", "namePrefix", "region"}),
        computed=frozenset({"name", "namePrefix", "region"}),
        optional_not_computed=frozenset({"description", "tags"}),
        notes="Read: v5.46.0-dev tree (main @ 252a5db, 2024-04-17). Optional with a schema Default (the provider plans the default when unset): description. region: Optional+Computed; a change forces replacement via the provider-wide CustomizeDiff forceNewIfRegionChanges (v6 per-resource region).",
    ),
    "aws:route53/record:Record": Rules(
        source="internal/service/route53/record.go",
        replace=frozenset({"name", "zoneId"}),
        computed=frozenset({"allowOverwrite"}),
        optional_not_computed=frozenset(
            {
                "aliases",
                "cidrRoutingPolicy",
                "failoverRoutingPolicies",
                "geolocationRoutingPolicies",
                "geoproximityRoutingPolicy",
                "healthCheckId",
                "latencyRoutingPolicies",
                "multivalueAnswerRoutingPolicy",
                "records",
                "setIdentifier",
                "ttl",
                "weightedRoutingPolicies",
            }
        ),
        notes="Read: v5.46.0-dev tree (main @ 252a5db, 2024-04-17).",
    ),
    "aws:s3/bucket:Bucket": Rules(
        source="internal/service/s3/bucket.go",
        replace=frozenset({"bucket", "bucketPrefix", "objectLockEnabled", "region"}),
        computed=frozenset(
            {
                "accelerationStatus",
                "acl",
                "bucket",
                "bucketPrefix",
                "corsRules",
                "grants",
                "lifecycleRules",
                "logging",
                "objectLockConfiguration",
                "objectLockEnabled",
                "policy",
                "region",
                "replicationConfiguration",
                "requestPayer",
                "serverSideEncryptionConfiguration",
                "versioning",
                "website",
            }
        ),
        optional_not_computed=frozenset({"forceDestroy", "tags"}),
        notes="Read: v5.46.0-dev tree (main @ 252a5db, 2024-04-17). Nested ForceNew (changing these replaces): object_lock_configuration.object_lock_enabled. Optional with a schema Default (the provider plans the default when unset): forceDestroy. region: Optional+Computed; a change forces replacement via the provider-wide CustomizeDiff forceNewIfRegionChanges (v6 per-resource region). SDK inputs not in the read schema version (added later; not classified): bucketNamespace.",
    ),
    "aws:s3/bucketAcl:BucketAcl": Rules(
        source="internal/service/s3/bucket_acl.go",
        replace=frozenset({"bucket", "expectedBucketOwner", "region"}),
        computed=frozenset({"accessControlPolicy", "region"}),
        optional_not_computed=frozenset({"acl", "expectedBucketOwner"}),
        notes="Read: v5.46.0-dev tree (main @ 252a5db, 2024-04-17). region: Optional+Computed; a change forces replacement via the provider-wide CustomizeDiff forceNewIfRegionChanges (v6 per-resource region).",
    ),
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": Rules(
        source="internal/service/s3/bucket_lifecycle_configuration.go",
        replace=frozenset({"bucket", "expectedBucketOwner", "region"}),
        computed=frozenset({"region"}),
        optional_not_computed=frozenset({"expectedBucketOwner"}),
        notes="Read: v5.46.0-dev tree (main @ 252a5db, 2024-04-17). region: Optional+Computed; a change forces replacement via the provider-wide CustomizeDiff forceNewIfRegionChanges (v6 per-resource region). SDK inputs not in the read schema version (added later; not classified): timeouts, transitionDefaultMinimumObjectSize.",
    ),
    "aws:s3/bucketLogging:BucketLogging": Rules(
        source="internal/service/s3/bucket_logging.go",
        replace=frozenset({"bucket", "expectedBucketOwner", "region"}),
        computed=frozenset({"region"}),
        optional_not_computed=frozenset({"expectedBucketOwner", "targetGrants", "targetObjectKeyFormat"}),
        notes="Read: v5.46.0-dev tree (main @ 252a5db, 2024-04-17). region: Optional+Computed; a change forces replacement via the provider-wide CustomizeDiff forceNewIfRegionChanges (v6 per-resource region).",
    ),
    "aws:s3/bucketObjectv2:BucketObjectv2": Rules(
        source="internal/service/s3/object.go",
        replace=frozenset({"bucket", "key", "region"}),
        computed=frozenset(
            {
                "acl",
                "bucketKeyEnabled",
                "contentType",
                "etag",
                "kmsKeyId",
                "region",
                "serverSideEncryption",
                "storageClass",
            }
        ),
        optional_not_computed=frozenset(
            {
                "cacheControl",
                "checksumAlgorithm",
                "content",
                "contentBase64",
                "contentDisposition",
                "contentEncoding",
                "contentLanguage",
                "forceDestroy",
                "metadata",
                "objectLockLegalHoldStatus",
                "objectLockMode",
                "objectLockRetainUntilDate",
                "overrideProvider",
                "source",
                "sourceHash",
                "tags",
                "websiteRedirect",
            }
        ),
        notes="Read: v5.46.0-dev tree (main @ 252a5db, 2024-04-17). Optional with a schema Default (the provider plans the default when unset): forceDestroy. region: Optional+Computed; a change forces replacement via the provider-wide CustomizeDiff forceNewIfRegionChanges (v6 per-resource region).",
    ),
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": Rules(
        source="internal/service/s3/bucket_ownership_controls.go",
        replace=frozenset({"bucket", "region"}),
        computed=frozenset({"region"}),
        optional_not_computed=frozenset(),
        notes="Read: v5.46.0-dev tree (main @ 252a5db, 2024-04-17). region: Optional+Computed; a change forces replacement via the provider-wide CustomizeDiff forceNewIfRegionChanges (v6 per-resource region).",
    ),
    "aws:s3/bucketPolicy:BucketPolicy": Rules(
        source="internal/service/s3/bucket_policy.go",
        replace=frozenset({"bucket", "region"}),
        computed=frozenset({"region"}),
        optional_not_computed=frozenset(),
        notes="Read: v5.46.0-dev tree (main @ 252a5db, 2024-04-17). region: Optional+Computed; a change forces replacement via the provider-wide CustomizeDiff forceNewIfRegionChanges (v6 per-resource region).",
    ),
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": Rules(
        source="internal/service/s3/bucket_public_access_block.go",
        replace=frozenset({"bucket", "region"}),
        computed=frozenset({"region"}),
        optional_not_computed=frozenset(
            {"blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"}
        ),
        notes="Read: v5.46.0-dev tree (main @ 252a5db, 2024-04-17). Optional with a schema Default (the provider plans the default when unset): blockPublicAcls, blockPublicPolicy, ignorePublicAcls, restrictPublicBuckets. region: Optional+Computed; a change forces replacement via the provider-wide CustomizeDiff forceNewIfRegionChanges (v6 per-resource region). SDK inputs not in the read schema version (added later; not classified): skipDestroy.",
    ),
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": Rules(
        source="internal/service/s3/bucket_server_side_encryption_configuration.go",
        replace=frozenset({"bucket", "expectedBucketOwner", "region"}),
        computed=frozenset({"region"}),
        optional_not_computed=frozenset({"expectedBucketOwner"}),
        notes="Read: v5.46.0-dev tree (main @ 252a5db, 2024-04-17). region: Optional+Computed; a change forces replacement via the provider-wide CustomizeDiff forceNewIfRegionChanges (v6 per-resource region).",
    ),
    "aws:s3/bucketVersioning:BucketVersioning": Rules(
        source="internal/service/s3/bucket_versioning.go",
        replace=frozenset({"bucket", "expectedBucketOwner", "region"}),
        computed=frozenset({"region"}),
        optional_not_computed=frozenset({"expectedBucketOwner", "mfa"}),
        notes="Read: v5.46.0-dev tree (main @ 252a5db, 2024-04-17). region: Optional+Computed; a change forces replacement via the provider-wide CustomizeDiff forceNewIfRegionChanges (v6 per-resource region).",
    ),
    "aws:sns/topic:Topic": Rules(
        source="internal/service/sns/topic.go",
        replace=frozenset({"fifoTopic", "name", "namePrefix", "region"}),
        computed=frozenset({"name", "namePrefix", "policy", "region", "signatureVersion", "tracingConfig"}),
        optional_not_computed=frozenset(
            {
                "applicationFailureFeedbackRoleArn",
                "applicationSuccessFeedbackRoleArn",
                "applicationSuccessFeedbackSampleRate",
                "archivePolicy",
                "contentBasedDeduplication",
                "deliveryPolicy",
                "displayName",
                "fifoTopic",
                "firehoseFailureFeedbackRoleArn",
                "firehoseSuccessFeedbackRoleArn",
                "firehoseSuccessFeedbackSampleRate",
                "httpFailureFeedbackRoleArn",
                "httpSuccessFeedbackRoleArn",
                "httpSuccessFeedbackSampleRate",
                "kmsMasterKeyId",
                "lambdaFailureFeedbackRoleArn",
                "lambdaSuccessFeedbackRoleArn",
                "lambdaSuccessFeedbackSampleRate",
                "sqsFailureFeedbackRoleArn",
                "sqsSuccessFeedbackRoleArn",
                "sqsSuccessFeedbackSampleRate",
                "tags",
            }
        ),
        notes="Read: v5.46.0-dev tree (main @ 252a5db, 2024-04-17). Optional with a schema Default (the provider plans the default when unset): contentBasedDeduplication, fifoTopic. region: Optional+Computed; a change forces replacement via the provider-wide CustomizeDiff forceNewIfRegionChanges (v6 per-resource region). SDK inputs not in the read schema version (added later; not classified): fifoThroughputScope, maximumMessageSize.",
    ),
    "aws:sns/topicPolicy:TopicPolicy": Rules(
        source="internal/service/sns/topic_policy.go",
        replace=frozenset({"arn", "region"}),
        computed=frozenset({"region"}),
        optional_not_computed=frozenset(),
        notes="Read: v5.46.0-dev tree (main @ 252a5db, 2024-04-17). region: Optional+Computed; a change forces replacement via the provider-wide CustomizeDiff forceNewIfRegionChanges (v6 per-resource region).",
    ),
    "aws:sns/topicSubscription:TopicSubscription": Rules(
        source="internal/service/sns/topic_subscription.go",
        replace=frozenset({"endpoint", "protocol", "region", "topic"}),
        computed=frozenset({"filterPolicyScope", "region"}),
        optional_not_computed=frozenset(
            {
                "confirmationTimeoutInMinutes",
                "deliveryPolicy",
                "endpointAutoConfirms",
                "filterPolicy",
                "rawMessageDelivery",
                "redrivePolicy",
                "replayPolicy",
                "subscriptionRoleArn",
            }
        ),
        notes="Read: v5.46.0-dev tree (main @ 252a5db, 2024-04-17). TF topic_arn is the Pulumi input topic. Optional with a schema Default (the provider plans the default when unset): confirmationTimeoutInMinutes, endpointAutoConfirms, rawMessageDelivery. region: Optional+Computed; a change forces replacement via the provider-wide CustomizeDiff forceNewIfRegionChanges (v6 per-resource region).",
    ),
    "aws:synthetics/canary:Canary": Rules(
        source="internal/service/synthetics/canary.go",
        replace=frozenset({"name", "region"}),
        computed=frozenset({"region", "runConfig"}),
        optional_not_computed=frozenset(
            {
                "artifactConfig",
                "deleteLambda",
                "failureRetentionPeriod",
                "s3Bucket",
                "s3Key",
                "s3Version",
                "startCanary",
                "successRetentionPeriod",
                "tags",
                "vpcConfig",
                "zipFile",
            }
        ),
        notes="Read: v5.46.0-dev tree (main @ 252a5db, 2024-04-17). Optional with a schema Default (the provider plans the default when unset): deleteLambda, failureRetentionPeriod, startCanary, successRetentionPeriod. region: Optional+Computed; a change forces replacement via the provider-wide CustomizeDiff forceNewIfRegionChanges (v6 per-resource region). SDK inputs not in the read schema version (added later; not classified): kmsKeyArn.",
    ),
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": Rules(
        source="internal/service/ec2/vpc_security_group_ingress_rule.go",
        replace=frozenset({"region", "securityGroupId"}),
        computed=frozenset({"region"}),
        optional_not_computed=frozenset(
            {
                "cidrIpv4",
                "cidrIpv6",
                "description",
                "fromPort",
                "prefixListId",
                "referencedSecurityGroupId",
                "tags",
                "toPort",
            }
        ),
        notes="Read: v5.46.0-dev tree (main @ 252a5db, 2024-04-17). Plugin-framework resource; egress shares the ingress rule schema (securityGroupRule). region: Optional+Computed; a change forces replacement via the provider-wide CustomizeDiff forceNewIfRegionChanges (v6 per-resource region).",
    ),
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": Rules(
        source="internal/service/ec2/vpc_security_group_ingress_rule.go",
        replace=frozenset({"region", "securityGroupId"}),
        computed=frozenset({"region"}),
        optional_not_computed=frozenset(
            {
                "cidrIpv4",
                "cidrIpv6",
                "description",
                "fromPort",
                "prefixListId",
                "referencedSecurityGroupId",
                "tags",
                "toPort",
            }
        ),
        notes="Read: v5.46.0-dev tree (main @ 252a5db, 2024-04-17). Plugin-framework resource. region: Optional+Computed; a change forces replacement via the provider-wide CustomizeDiff forceNewIfRegionChanges (v6 per-resource region).",
    ),
    "aws:wafv2/webAcl:WebAcl": Rules(
        source="internal/service/wafv2/web_acl.go",
        replace=frozenset({"name", "region", "scope"}),
        computed=frozenset({"region"}),
        optional_not_computed=frozenset(
            {
                "associationConfig",
                "captchaConfig",
                "challengeConfig",
                "customResponseBodies",
                "description",
                "rules",
                "tags",
                "tokenDomains",
            }
        ),
        notes="Read: v5.46.0-dev tree (main @ 252a5db, 2024-04-17). region: Optional+Computed; a change forces replacement via the provider-wide CustomizeDiff forceNewIfRegionChanges (v6 per-resource region). SDK inputs not in the read schema version (added later; not classified): dataProtectionConfig, monetizationConfig, namePrefix, ruleJson.",
    ),
    "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration": Rules(
        source="internal/service/wafv2/web_acl_logging_configuration.go",
        replace=frozenset({"logDestinationConfigs", "region", "resourceArn"}),
        computed=frozenset({"region"}),
        optional_not_computed=frozenset({"loggingFilter", "redactedFields"}),
        notes="Read: v5.46.0-dev tree (main @ 252a5db, 2024-04-17). region: Optional+Computed; a change forces replacement via the provider-wide CustomizeDiff forceNewIfRegionChanges (v6 per-resource region).",
    ),
}

# Types not in RULES, with the reason. Every type berth deploys was read, so this is empty.
UNREAD: dict[str, str] = {}
