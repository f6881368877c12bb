"""Embedded cloud room: ElastiCache subnet groups and replication groups in moto.

moto has no cache parameter groups: `aws:elasticache/parameterGroup:ParameterGroup` is answered
here as ElastiCache would (the family and the name checked, the ARN it gets).
"""

from __future__ import annotations

import re
from typing import Any

from embedded_cloud.handlers import Ctx, Out, Res, resource, tag_list, validated


@resource("aws:elasticache/subnetGroup:SubnetGroup")
def subnet_group(ctx: Ctx, r: Res) -> Out:
    ec = ctx.client("elasticache", r.region)
    name = r.physical_name(max_len=255).lower()
    kw: dict[str, Any] = {
        "CacheSubnetGroupName": name,
        "CacheSubnetGroupDescription": r.inputs.get("description") or "Managed by Pulumi",
        "SubnetIds": list(r.inputs["subnetIds"]),
    }
    if r.tags():
        kw["Tags"] = tag_list(r.tags())
    g = ec.create_cache_subnet_group(**kw)["CacheSubnetGroup"]
    return name, {"name": name, "arn": g.get("ARN") or ctx.arn("elasticache", r.region, f"subnetgroup:{name}"),
                  "vpcId": g.get("VpcId")}


@resource("aws:elasticache/replicationGroup:ReplicationGroup")
def replication_group(ctx: Ctx, r: Res) -> Out:
    ec = ctx.client("elasticache", r.region)
    i = r.inputs
    group_id = r.physical_name("replicationGroupId", max_len=40).lower()
    kw: dict[str, Any] = {
        "ReplicationGroupId": group_id,
        "ReplicationGroupDescription": i.get("description") or "Managed by Pulumi",
        "Engine": i.get("engine") or "redis",
        "CacheNodeType": i["nodeType"],
        "NumCacheClusters": int(i.get("numCacheClusters") or 1),
        "AutomaticFailoverEnabled": bool(i.get("automaticFailoverEnabled")),
        "MultiAZEnabled": bool(i.get("multiAzEnabled")),
        "AtRestEncryptionEnabled": bool(i.get("atRestEncryptionEnabled")),
        "TransitEncryptionEnabled": bool(i.get("transitEncryptionEnabled")),
        "Port": int(i.get("port") or 6379),
    }
    optional = {
        "engineVersion": "EngineVersion",
        "parameterGroupName": "CacheParameterGroupName",
        "subnetGroupName": "CacheSubnetGroupName",
        "securityGroupIds": "SecurityGroupIds",
        "kmsKeyId": "KmsKeyId",
        "authToken": "AuthToken",
        "transitEncryptionMode": "TransitEncryptionMode",
        "snapshotWindow": "SnapshotWindow",
        "maintenanceWindow": "PreferredMaintenanceWindow",
        "autoMinorVersionUpgrade": "AutoMinorVersionUpgrade",
        "preferredCacheClusterAzs": "PreferredCacheClusterAZs",
    }
    for src, dst in optional.items():
        if i.get(src) not in (None, "", []):
            kw[dst] = i[src]
    if kw["NumCacheClusters"] > 1:
        # moto (5.x) sizes a cluster-mode-disabled group from ReplicasPerNodeGroup only and
        # ignores NumCacheClusters; AWS accepts either, so say it both ways.
        kw["ReplicasPerNodeGroup"] = kw["NumCacheClusters"] - 1
    if i.get("snapshotRetentionLimit") is not None:
        kw["SnapshotRetentionLimit"] = int(i["snapshotRetentionLimit"])
    if i.get("logDeliveryConfigurations"):
        kw["LogDeliveryConfigurations"] = [
            {
                "LogType": c["logType"],
                "DestinationType": c["destinationType"],
                "LogFormat": c["logFormat"],
                "DestinationDetails": (
                    {"CloudWatchLogsDetails": {"LogGroup": c["destination"]}}
                    if c["destinationType"] == "cloudwatch-logs"
                    else {"KinesisFirehoseDetails": {"DeliveryStream": c["destination"]}}
                ),
            }
            for c in i["logDeliveryConfigurations"]
        ]
    if r.tags():
        kw["Tags"] = tag_list(r.tags())
    g = ec.create_replication_group(**kw)["ReplicationGroup"]
    node_group = (g.get("NodeGroups") or [{}])[0]
    primary = (node_group.get("PrimaryEndpoint") or {}).get("Address")
    reader = (node_group.get("ReaderEndpoint") or {}).get("Address")
    if reader is None and primary and primary.startswith("master."):
        # moto does not return the reader endpoint; AWS names it beside the primary's.
        reader = "replica." + primary.removeprefix("master.")
    return group_id, {
        "arn": g["ARN"],
        "replicationGroupId": group_id,
        "primaryEndpointAddress": primary,
        "readerEndpointAddress": reader,
        "memberClusters": list(g.get("MemberClusters") or []),
        "engineVersionActual": i.get("engineVersion"),
        "clusterEnabled": bool(g.get("ClusterEnabled")),
        "authToken": i.get("authToken"),
    }


# The families CreateCacheParameterGroup accepts for the engines berth runs (ElastiCache API
# reference, CacheParameterGroupFamily; memcached families are not ours to run).
PARAMETER_GROUP_FAMILIES = frozenset({"redis6.x", "redis7", "valkey7", "valkey8"})
# 1-255 letters, digits and hyphens, starting with a letter, no trailing or double hyphen.
_GROUP_NAME = re.compile(r"^[a-zA-Z](?:-?[a-zA-Z0-9])*$")


@resource("aws:elasticache/parameterGroup:ParameterGroup")
def parameter_group(ctx: Ctx, r: Res) -> Out:
    name = r.physical_name(max_len=255).lower()
    family = str(r.inputs["family"])
    if family not in PARAMETER_GROUP_FAMILIES:
        raise ValueError(f"InvalidParameterValue: family {family!r} is not one of {sorted(PARAMETER_GROUP_FAMILIES)}")
    if len(name) > 255 or not _GROUP_NAME.match(name):
        raise ValueError(f"InvalidParameterValue: parameter group name {name!r}: letters, digits and single hyphens, "
                         f"starting with a letter")
    validated(ctx, "elasticache", "CreateCacheParameterGroup", {
        "CacheParameterGroupName": name, "CacheParameterGroupFamily": family,
        "Description": r.inputs.get("description") or "Managed by Pulumi", "Tags": tag_list(r.tags())}, r.region)
    validated(ctx, "elasticache", "ModifyCacheParameterGroup", {
        "CacheParameterGroupName": name,
        "ParameterNameValues": [{"ParameterName": p["name"], "ParameterValue": str(p["value"])}
                                for p in r.inputs.get("parameters") or []]}, r.region)
    return name, {"name": name, "arn": ctx.arn("elasticache", r.region, f"parametergroup:{name}")}
