"""Tests room (components): alarms, the alarm topic, the canary and the dashboard.

Asserted on moto's state (CloudWatch, SNS, Synthetics, KMS, EKS) where moto holds the
resource, on the graph otherwise (composite alarms: moto has no PutCompositeAlarm). Every
moto server of one test process shares one state, so queries filter on the stack's prefix.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.alarms import AlarmsArgs
from components.monitoring import Watch
from components.settings import AlarmSettings
from tests.conftest import Deployed

REGION = "us-east-1"
DR_REGION = "us-west-2"


def alarms(d: Deployed, region: str = REGION) -> dict[str, dict[str, Any]]:
    cw = d.client("cloudwatch", region)
    found = cw.describe_alarms(AlarmNamePrefix=f"berth-{d.stack}-", MaxRecords=100)["MetricAlarms"]
    return {a["AlarmName"]: a for a in found}


def dims(alarm: dict[str, Any]) -> dict[str, str]:
    return {x["Name"]: x["Value"] for x in alarm["Dimensions"]}


def on(found: dict[str, dict[str, Any]], metric: str, **dimensions: str) -> list[dict[str, Any]]:
    """The alarms watching `metric` with exactly these dimension values."""
    return [a for a in found.values() if a["MetricName"] == metric and dims(a) == dimensions]


def instances(d: Deployed, region: str = REGION) -> dict[str, dict[str, Any]]:
    found = d.client("rds", region).describe_db_instances()["DBInstances"]
    return {db["DBInstanceIdentifier"]: db for db in found if db["DBInstanceIdentifier"].startswith(f"berth-{d.stack}-")}


def topic_arn(d: Deployed, region: str = REGION) -> str:
    return f"arn:aws:sns:{region}:123456789012:berth-{d.stack}-alarms"


def config(d: Deployed, area: str) -> dict[str, Any]:
    return d.graph.config[f"berth:{area}"]


# ---- database ----------------------------------------------------------------------------
@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_every_database_instance_is_alarmed_by_its_real_identifier(stack: str, request: Any) -> None:
    d: Deployed = request.getfixturevalue(stack)
    found = alarms(d)
    dbs = instances(d)
    primaries = [i for i, db in dbs.items() if not db.get("ReadReplicaSourceDBInstanceIdentifier")]
    replicas = [i for i, db in dbs.items() if db.get("ReadReplicaSourceDBInstanceIdentifier")]
    assert len(primaries) == 1 and len(replicas) == config(d, "database")["replicas"]
    (primary,) = primaries
    for ident in dbs:
        assert len(on(found, "CPUUtilization", DBInstanceIdentifier=ident)) == 1, ident
    assert len(on(found, "FreeStorageSpace", DBInstanceIdentifier=primary)) == 1
    assert len(on(found, "DatabaseConnections", DBInstanceIdentifier=primary)) == 1
    assert len(on(found, "FreeableMemory", DBInstanceIdentifier=primary)) == 1
    assert {a["MetricName"] for a in found.values() if dims(a) == {"DBInstanceIdentifier": primary}} >= {
        "ReadLatency", "WriteLatency"}
    for ident in replicas:
        (lag,) = on(found, "ReplicaLag", DBInstanceIdentifier=ident)
        assert lag["Threshold"] == config(d, "alarms")["replicaLagSeconds"]
        # A replica that stops reporting lag has stopped replicating.
        assert lag["TreatMissingData"] == "breaching"
    # The primary has no lag alarm: it replicates from nobody.
    assert on(found, "ReplicaLag", DBInstanceIdentifier=primary) == []


def test_replica_lag_threshold_differs_per_environment(staging: Deployed, prod: Deployed) -> None:
    lag = {d.stack: {a["Threshold"] for a in alarms(d).values() if a["MetricName"] == "ReplicaLag"}
           for d in (staging, prod)}
    assert lag == {"staging": {60.0}, "prod": {30.0}}


def test_primary_thresholds_follow_its_size_and_connection_limit(prod: Deployed) -> None:
    found = alarms(prod)
    primary = "berth-prod-primary"
    db = instances(prod)[primary]
    (storage,) = on(found, "FreeStorageSpace", DBInstanceIdentifier=primary)
    assert storage["ComparisonOperator"] == "LessThanThreshold"
    assert storage["Threshold"] == pytest.approx(0.20 * db["AllocatedStorage"] * 1024**3)
    (conns,) = on(found, "DatabaseConnections", DBInstanceIdentifier=primary)
    assert conns["ComparisonOperator"] == "GreaterThanThreshold"
    assert conns["Threshold"] == 0.8 * config(prod, "database")["maxConnections"] == 640
    (cpu,) = on(found, "CPUUtilization", DBInstanceIdentifier=primary)
    assert (cpu["Threshold"], cpu["ComparisonOperator"]) == (80, "GreaterThanThreshold")


def test_cross_region_replica_is_alarmed_in_its_own_region_through_a_topic_there(prod: Deployed) -> None:
    (dr,) = instances(prod, DR_REGION)
    found = alarms(prod, DR_REGION)
    (cpu,) = on(found, "CPUUtilization", DBInstanceIdentifier=dr)
    (lag,) = on(found, "ReplicaLag", DBInstanceIdentifier=dr)
    for a in (cpu, lag):
        assert a["AlarmActions"] == a["OKActions"] == [topic_arn(prod, DR_REGION)]
    attrs = prod.client("sns", DR_REGION).get_topic_attributes(TopicArn=topic_arn(prod, DR_REGION))["Attributes"]
    assert attrs["KmsMasterKeyId"].startswith(f"arn:aws:kms:{DR_REGION}:")


# ---- every alarm ---------------------------------------------------------------------------
@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_every_alarm_notifies_the_topic_on_alarm_and_ok_and_treats_missing_data_explicitly(
    stack: str, request: Any
) -> None:
    d: Deployed = request.getfixturevalue(stack)
    regions = [REGION, DR_REGION] if stack == "prod" else [REGION]
    total = 0
    for region in regions:
        for name, a in alarms(d, region).items():
            assert a["AlarmActions"] == [topic_arn(d, region)], name
            assert a["OKActions"] == [topic_arn(d, region)], name
            assert a["TreatMissingData"] in {"breaching", "notBreaching", "ignore", "missing"}, name
            total += 1
    # ...and the graph holds no alarm moto does not know about, each one saying how silence counts.
    nodes = d.graph.by_type("aws:cloudwatch/metricAlarm:MetricAlarm")
    assert total == len(nodes)
    assert all(n.inputs.get("treatMissingData") for n in nodes)
    for node in d.graph.by_type("aws:cloudwatch/compositeAlarm:CompositeAlarm"):
        assert node.outputs["alarmActions"] == node.outputs["okActions"] == [topic_arn(d, node.region or REGION)]


def test_alarm_topic_is_kms_encrypted_with_a_rotating_key_that_lets_cloudwatch_and_eventbridge_publish(
    prod: Deployed,
) -> None:
    attrs = prod.client("sns").get_topic_attributes(TopicArn=topic_arn(prod))["Attributes"]
    kms = prod.client("kms")
    key_id = attrs["KmsMasterKeyId"]
    assert kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"]
    key_policy = json.loads(kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"])
    publishers = next(s for s in key_policy["Statement"] if s.get("Sid") == "AlarmPublishers")
    assert sorted(publishers["Principal"]["Service"]) == ["cloudwatch.amazonaws.com", "events.amazonaws.com"]
    topic_policy = json.loads(attrs["Policy"])
    allowed = next(s for s in topic_policy["Statement"] if s.get("Sid") == "AlarmPublishers")
    assert allowed["Action"] == "sns:Publish" and allowed["Resource"] == topic_arn(prod)


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_subscriptions_come_from_config(stack: str, request: Any) -> None:
    d: Deployed = request.getfixturevalue(stack)
    subs = d.client("sns").list_subscriptions_by_topic(TopicArn=topic_arn(d))["Subscriptions"]
    got = sorted((s["Protocol"], s["Endpoint"]) for s in subs)
    cfg = config(d, "alarms")
    want = sorted([("email", e) for e in cfg.get("emails", [])] + [("https", u) for u in cfg.get("httpsEndpoints", [])])
    assert got == want and got


# ---- cache, CDN, cluster -------------------------------------------------------------------
@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_every_redis_member_cluster_is_alarmed(stack: str, request: Any) -> None:
    d: Deployed = request.getfixturevalue(stack)
    found = alarms(d)
    groups = d.client("elasticache").describe_replication_groups()["ReplicationGroups"]
    (group,) = [g for g in groups if g["ReplicationGroupId"].startswith(f"berth-{d.stack}-")]
    members = group["MemberClusters"]
    assert len(members) == config(d, "cache")["replicas"] + 1
    for member in members:
        metrics = {a["MetricName"] for a in found.values() if dims(a) == {"CacheClusterId": member}}
        assert metrics == {"EngineCPUUtilization", "DatabaseMemoryUsagePercentage", "Evictions",
                           "ReplicationLag", "CurrConnections"}, member


@pytest.mark.parametrize(("stack", "percent"), [("staging", 5), ("prod", 1)])
def test_cdn_alarms_watch_the_real_distribution_in_us_east_1(stack: str, percent: float, request: Any) -> None:
    d: Deployed = request.getfixturevalue(stack)
    distribution = d.graph.outputs["cdnDistributionId"]
    found = alarms(d, "us-east-1")
    (errors,) = on(found, "5xxErrorRate", DistributionId=distribution, Region="Global")
    assert errors["Threshold"] == percent
    (latency,) = on(found, "OriginLatency", DistributionId=distribution, Region="Global")
    assert (latency["ExtendedStatistic"], latency["Threshold"]) == ("p95", 2000)


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_cluster_nodes_are_alarmed_through_container_insights(stack: str, request: Any) -> None:
    d: Deployed = request.getfixturevalue(stack)
    cluster = d.graph.outputs["clusterName"]
    found = alarms(d)
    assert len(on(found, "node_cpu_utilization", ClusterName=cluster)) == 1
    assert len(on(found, "node_memory_utilization", ClusterName=cluster)) == 1
    # moto has no EKS add-ons: the add-on is asserted on the graph, its role in moto's IAM. The
    # Cluster installs it (the capacity check counts its pods on every cluster the stack creates).
    (addon,) = [n for n in d.graph.by_type("aws:eks/addon:Addon")
                if n.inputs["addonName"] == "amazon-cloudwatch-observability"]
    assert addon.inputs["clusterName"] == cluster
    (owner,) = [n for n in d.graph.components if n.urn == addon.parent]
    assert owner.type == "berth:cluster:Cluster"
    (assoc,) = addon.inputs["podIdentityAssociations"]
    assert assoc["serviceAccount"] == "cloudwatch-agent"
    role = assoc["roleArn"].rsplit("/", 1)[-1]
    attached = d.client("iam").list_attached_role_policies(RoleName=role)["AttachedPolicies"]
    assert [p["PolicyName"] for p in attached] == ["CloudWatchAgentServerPolicy"]


# ---- uptime ----------------------------------------------------------------------------------
def test_prod_canary_calls_the_cdn_health_endpoint_every_minute_and_is_alarmed(prod: Deployed) -> None:
    canary = prod.client("synthetics").get_canary(Name="berth-prod-api-health")["Canary"]
    assert canary["Schedule"]["Expression"] == "rate(1 minute)"
    assert canary["RuntimeVersion"].startswith("syn-nodejs-puppeteer-")
    # GetCanary never returns environment variables (neither does AWS): read the graph.
    (node,) = prod.graph.by_type("aws:synthetics/canary:Canary")
    target = node.inputs["runConfig"]["environmentVariables"]["TARGET_URL"]
    # Through the viewers' own name (prod has its domain), as users reach it.
    assert target == f"https://{prod.graph.config['berth:cdn']['domain']}/api/health"
    (uptime,) = on(alarms(prod), "SuccessPercent", CanaryName="berth-prod-api-health")
    assert (uptime["ComparisonOperator"], uptime["Threshold"]) == ("LessThanThreshold", 100)
    assert uptime["TreatMissingData"] == "breaching"


def test_canary_artifacts_bucket_is_private_and_encrypted(prod: Deployed) -> None:
    (bucket,) = [n for n in prod.graph.by_type("aws:s3/bucket:Bucket") if n.name == "berth-prod-canary"]
    children = {n.type: n for n in prod.graph.by_type(
        "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    ) if n.inputs.get("bucket") == bucket.id}
    block = children["aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"].inputs
    assert all(block[k] for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"))
    sse = children["aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"].inputs
    assert sse["rules"][0]["applyServerSideEncryptionByDefault"]["sseAlgorithm"] in {"AES256", "aws:kms"}


def test_staging_has_no_canary(staging: Deployed) -> None:
    assert staging.graph.by_type("aws:synthetics/canary:Canary") == []
    assert on(alarms(staging), "SuccessPercent", CanaryName="berth-staging-api-health") == []


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_shipments_api_down_composite_names_only_alarms_that_exist(stack: str, request: Any) -> None:
    d: Deployed = request.getfixturevalue(stack)
    (composite,) = d.graph.by_type("aws:cloudwatch/compositeAlarm:CompositeAlarm")
    assert composite.outputs["alarmName"] == f"berth-{stack}-shipments-api-down"
    rule = composite.outputs["alarmRule"]
    found = alarms(d)
    named = [part.split('"')[1] for part in rule.split(" OR ")]
    assert named and all(n in found for n in named)
    assert f"berth-{stack}-cdn-5xx-rate" in named
    if stack == "prod":
        assert "berth-prod-uptime-api-health" in named


# ---- dashboard -------------------------------------------------------------------------------
def test_dashboard_graphs_every_tier_by_its_real_identifiers(prod: Deployed) -> None:
    body = json.loads(prod.client("cloudwatch").get_dashboard(DashboardName="berth-prod-shipments")["DashboardBody"])
    titles = [w["properties"]["title"] for w in body["widgets"]]
    for tier in ("Database", "Replica lag", "Redis", "CDN", "Cluster", "Uptime"):
        assert any(t.startswith(tier) for t in titles), tier
    text = json.dumps(body)
    for ident in instances(prod):
        assert f'"{ident}"' in text
    assert prod.graph.outputs["cdnDistributionId"] in text


# ---- the component's own guards ----------------------------------------------------------------
def test_canary_without_a_cdn_domain_is_refused() -> None:
    with pytest.raises(ValueError, match="cdn_domain"):
        AlarmsArgs(settings=AlarmSettings(canary=True))


def test_two_watches_of_one_key_are_refused_naming_it() -> None:
    def cpu(key: str) -> Watch:
        return Watch(key, "AWS/RDS", "CPUUtilization", {"DBInstanceIdentifier": "x"}, "GreaterThanThreshold", 80,
                     "cpu")

    with pytest.raises(ValueError, match="db-x-cpu"):
        AlarmsArgs(settings=AlarmSettings(), watches=[cpu("db-x-cpu"), cpu("db-y-cpu"), cpu("db-x-cpu")])


def test_a_watch_that_cannot_be_an_alarm_is_refused() -> None:
    with pytest.raises(ValueError, match="comparison"):
        Watch("k", "N", "M", {}, "Above", 1, "d")
    with pytest.raises(ValueError, match="treat_missing_data"):
        Watch("k", "N", "M", {}, "GreaterThanThreshold", 1, "d", treat_missing_data="silent")
    with pytest.raises(ValueError, match="datapoints_to_alarm"):
        Watch("k", "N", "M", {}, "GreaterThanThreshold", 1, "d", evaluation_periods=2, datapoints_to_alarm=3)
