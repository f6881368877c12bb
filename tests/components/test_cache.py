"""Tests room (components): the ElastiCache Redis tier, asserted on moto's state and on the graph."""

from __future__ import annotations

from typing import Any

import pytest

from components.cache import CacheArgs, parameter_group_family
from components.settings import CacheSettings
from embedded_cloud import read_stack_config
from tests.conftest import Deployed

GROUP = "aws:elasticache/replicationGroup:ReplicationGroup"
PARAMS = "aws:elasticache/parameterGroup:ParameterGroup"
KEY = "aws:kms/key:Key"


def group(d: Deployed) -> dict[str, Any]:
    # By the id the graph recorded: this stack's group, whatever else the cloud holds.
    (node,) = cache_resources(d, GROUP)
    (g,) = d.client("elasticache").describe_replication_groups(ReplicationGroupId=node.id)["ReplicationGroups"]
    return g


def cache_component(d: Deployed) -> Any:
    (node,) = d.graph.by_type("berth:cache:Cache")
    return node


def cache_resources(d: Deployed, type_: str) -> list[Any]:
    return [n for n in d.graph.descendants(cache_component(d).urn) if n.type == type_]


@pytest.fixture(params=["staging", "prod"])
def stack(request: pytest.FixtureRequest) -> Deployed:
    return request.getfixturevalue(request.param)


# ---- the replication group, as moto sees it ------------------------------------------------
def test_every_environment_encrypts_at_rest_with_its_own_key_in_transit_and_requires_auth(stack: Deployed) -> None:
    g = group(stack)
    assert g["AtRestEncryptionEnabled"] is True
    assert g["TransitEncryptionEnabled"] is True
    assert g["AuthTokenEnabled"] is True
    (key,) = cache_resources(stack, KEY)
    assert g["KmsKeyId"] == key.outputs["arn"]
    assert stack.client("kms").get_key_rotation_status(KeyId=key.id)["KeyRotationEnabled"] is True


def test_prod_runs_a_primary_and_two_replicas_with_multi_az_failover(prod: Deployed) -> None:
    g = group(prod)
    assert g["ReplicationGroupId"] == "berth-prod-redis"
    assert len(g["MemberClusters"]) == 3
    assert g["MultiAZ"] == "enabled"
    assert g["AutomaticFailover"] == "enabled"
    assert g["CacheNodeType"] == "cache.r7g.large"
    assert g["SnapshotRetentionLimit"] == 14
    assert prod.graph.outputs["redisPrimaryEndpoint"] == g["NodeGroups"][0]["PrimaryEndpoint"]["Address"]


def test_staging_runs_a_primary_and_one_replica_without_multi_az(staging: Deployed) -> None:
    g = group(staging)
    assert len(g["MemberClusters"]) == 2
    assert g["MultiAZ"] == "disabled"
    # Failover stays on in staging (its config says so): a node loss is still survivable.
    assert g["AutomaticFailover"] == "enabled"
    assert g["CacheNodeType"] == "cache.t4g.micro"
    assert g["SnapshotRetentionLimit"] == 1


def test_staging_and_prod_differ_only_where_their_config_differs(staging: Deployed, prod: Deployed) -> None:
    fields = ("AtRestEncryptionEnabled", "TransitEncryptionEnabled", "AuthTokenEnabled", "AutomaticFailover",
              "MultiAZ", "CacheNodeType", "SnapshotRetentionLimit", "SnapshotWindow", "ClusterEnabled")

    def shape(d: Deployed) -> dict[str, Any]:
        g = group(d)
        out = {f: g.get(f) for f in fields}
        out["nodes"] = len(g["MemberClusters"])
        out["logs"] = [(c["LogType"], c["DestinationType"]) for c in g["LogDeliveryConfigurations"]]
        return out

    a, b = shape(staging), shape(prod)
    differing = {k for k in a if a[k] != b[k]}
    # cache.nodeType, cache.replicas, cache.multiAz, cache.snapshotRetentionDays: nothing else.
    assert differing == {"CacheNodeType", "nodes", "MultiAZ", "SnapshotRetentionLimit"}


def test_slow_log_goes_to_a_log_group_encrypted_with_the_cache_key(prod: Deployed) -> None:
    g = group(prod)
    (delivery,) = g["LogDeliveryConfigurations"]
    assert delivery["LogType"] == "slow-log"
    assert delivery["DestinationType"] == "cloudwatch-logs"
    log_group = delivery["DestinationDetails"]["CloudWatchLogsDetails"]["LogGroup"]
    (described,) = prod.client("logs").describe_log_groups(logGroupNamePrefix=log_group)["logGroups"]
    assert described["kmsKeyId"] == g["KmsKeyId"]
    assert described["retentionInDays"] == 30


def test_nodes_live_in_the_private_subnets(prod: Deployed) -> None:
    (sg,) = prod.client("elasticache").describe_cache_subnet_groups(
        CacheSubnetGroupName="berth-prod-cache")["CacheSubnetGroups"]
    subnets = {s["SubnetIdentifier"] for s in sg["Subnets"]}
    assert subnets == set(prod.graph.outputs["privateSubnetIds"])
    (rg,) = cache_resources(prod, GROUP)
    assert rg.inputs["subnetGroupName"] == "berth-prod-cache"


# ---- network reachability ----------------------------------------------------------------
def test_only_the_cluster_nodes_reach_redis_and_only_on_6379(stack: Deployed) -> None:
    (cluster,) = stack.graph.by_type("berth:cluster:Cluster")
    node_sg = cluster.outputs["nodeSecurityGroupId"]
    cache_sg = cache_component(stack).outputs["securityGroupId"]
    (sg,) = stack.client("ec2").describe_security_groups(GroupIds=[cache_sg])["SecurityGroups"]
    assert [
        (p["IpProtocol"], p["FromPort"], p["ToPort"], [u["GroupId"] for u in p["UserIdGroupPairs"]], p["IpRanges"])
        for p in sg["IpPermissions"]
    ] == [("tcp", 6379, 6379, [node_sg], [])]
    (rg_node,) = cache_resources(stack, GROUP)
    assert rg_node.inputs["securityGroupIds"] == [cache_sg]


# ---- engine configuration, auth token, protection (graph) --------------------------------
def test_parameter_group_evicts_lru_for_the_engine_family(prod: Deployed) -> None:
    (params,) = cache_resources(prod, PARAMS)
    assert params.inputs["family"] == "redis7"
    assert {p["name"]: p["value"] for p in params.inputs["parameters"]} == {"maxmemory-policy": "allkeys-lru"}
    # moto keeps no parameter groups: the group must at least name this one.
    (rg,) = cache_resources(prod, GROUP)
    assert rg.inputs["parameterGroupName"] == params.outputs["name"]


def test_auth_token_is_a_long_alphanumeric_secret_never_shown(prod: Deployed) -> None:
    (token,) = cache_resources(prod, "random:index/randomPassword:RandomPassword")
    assert token.inputs["length"] >= 32
    assert token.inputs["special"] is False
    (rg,) = cache_resources(prod, GROUP)
    assert "authToken" in rg.secret_keys
    assert rg.inputs["authToken"] == "[secret]"
    assert cache_component(prod).outputs["authToken"] == "[secret]"


@pytest.mark.parametrize(("stack_name", "protected"), [("staging", False), ("prod", True)])
def test_prod_protects_and_retains_the_group_and_its_key(
    request: pytest.FixtureRequest, stack_name: str, protected: bool
) -> None:
    d: Deployed = request.getfixturevalue(stack_name)
    (rg,) = cache_resources(d, GROUP)
    (key,) = cache_resources(d, KEY)
    for node in (rg, key):
        assert (node.protect, node.retain_on_delete) == (protected, protected), node.name
    assert bool(rg.inputs.get("finalSnapshotIdentifier")) is protected


def test_exports_the_contract_attributes(prod: Deployed) -> None:
    outs = cache_component(prod).outputs
    assert outs["port"] == 6379
    assert outs["primaryEndpoint"].startswith("master.")
    assert outs["readerEndpoint"].startswith("replica.")
    assert sorted(outs["memberClusterIds"]) == sorted(group(prod)["MemberClusters"])


# ---- a Valkey variant and argument checks --------------------------------------------------
def test_valkey_gets_its_own_parameter_group_family(deploy: Any) -> None:
    # Another stack name: its own physical names, whatever cloud it shares.
    d = deploy("cache-valkey", {"berth:cache.engine": "valkey", "berth:cache.engineVersion": "8.0"},
               config=read_stack_config("staging"))
    g = group(d)
    assert g["ReplicationGroupId"] == "berth-cache-valkey-redis"
    (params,) = cache_resources(d, PARAMS)
    assert params.inputs["family"] == "valkey8"
    (rg,) = cache_resources(d, GROUP)
    assert (rg.inputs["engine"], rg.inputs["engineVersion"]) == ("valkey", "8.0")


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"replicas": 0}, "at least one replica"),
        ({"multi_az": True, "automatic_failover": False}, "multiAz requires automaticFailover"),
        ({"engine_version": "7"}, "should match pattern"),  # MAJOR.MINOR
    ],
)
def test_settings_refuse_unsafe_topologies(kw: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        CacheArgs(vpc_id="vpc-1", subnet_ids=["subnet-1"], settings=CacheSettings(**kw))


def test_parameter_group_family_names() -> None:
    assert parameter_group_family("redis", "7.1") == "redis7"
    assert parameter_group_family("valkey", "7.2") == "valkey7"
    assert parameter_group_family("valkey", "8.0") == "valkey8"
