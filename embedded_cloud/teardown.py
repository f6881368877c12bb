"""Embedded cloud room: tearing a recorded deployment down in the embedded cloud, and proving it gone.

`destroy(graph, cloud)` deletes what an offline deployment created, the way `pulumi destroy`
does: protected resources refuse the whole destroy, by name, before anything is touched;
everything else goes in reverse dependency order (a resource only after every resource that
depends on it, a component's dependents standing for its children), each through the deleter
of its type (embedded_cloud/handlers/deletes.py), so moto enforces AWS's rules on the way down;
`retain_on_delete` resources are left in the cloud and dropped. The first refusal stops the
destroy and names the resource, as Pulumi would. `leftovers(cloud, regions)` inventories what
the account still holds beyond AWS's own defaults: after a clean destroy, nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from embedded_cloud.cloud import EmbeddedCloud
from embedded_cloud.graph import Graph, Node
from embedded_cloud.handlers import DELETERS, Ctx, Gone, load_all
from embedded_cloud.handlers.deletes import Refused


class DestroyRefused(Exception):
    """The cloud (or a protected resource) stopped a destroy; the message names the resource."""

    @property
    def message(self) -> str:
        return str(self)


class ProtectedResources(DestroyRefused):
    """A destroy refused before touching anything: the stack holds protected resources."""

    def __init__(self, stack: str, nodes: list[Node]) -> None:
        self.names = [n.name for n in nodes]
        lines = "\n".join(f"  - {n.type} '{n.name}'" for n in nodes)
        super().__init__(f"refusing to destroy stack '{stack}': {len(nodes)} resource(s) are protected "
                         f"(protect=True), nothing was deleted:\n{lines}\n"
                         f"unprotect them first (`pulumi state unprotect`) if they are really to go")


@dataclass
class Step:
    type: str
    name: str
    id: str | None
    outcome: str  # deleted | forgotten (holds nothing in the cloud) | retained (retain_on_delete)
    seconds: float


@dataclass
class Teardown:
    stack: str
    steps: list[Step] = field(default_factory=list)
    seconds: float = 0.0

    def count(self, outcome: str) -> int:
        return sum(1 for s in self.steps if s.outcome == outcome)


def _custom_descendants(graph: Graph, urn: str) -> set[str]:
    node = graph.get(urn)
    if node is None:
        return set()
    if node.custom:
        return {urn}
    return {d.urn for d in graph.descendants(urn) if d.custom}


def delete_order(graph: Graph) -> list[Node]:
    """Custom resources in an order that deletes each only after everything depending on it."""
    nodes = [n for n in graph.nodes if n.custom and not n.type.startswith("pulumi:providers:")]
    providers = [n for n in graph.nodes if n.custom and n.type.startswith("pulumi:providers:")]
    index = {n.urn: i for i, n in enumerate(nodes)}
    deps: dict[str, set[str]] = {}
    for n in nodes:
        wanted = set(n.dependencies) | {u for urns in n.property_dependencies.values() for u in urns}
        if n.parent:
            wanted.add(n.parent)
        deps[n.urn] = {d for w in wanted for d in _custom_descendants(graph, w) if d in index and d != n.urn}
    users: dict[str, set[str]] = {n.urn: set() for n in nodes}
    for urn, ds in deps.items():
        for d in ds:
            users[d].add(urn)
    # Last registered first among the free ones: the reverse of creation where nothing else decides.
    ready = sorted((u for u, us in users.items() if not us), key=index.__getitem__, reverse=True)
    order: list[Node] = []
    done: set[str] = set()
    while ready:
        urn = ready.pop(0)
        order.append(graph.node(urn))
        done.add(urn)
        freed = []
        for d in deps[urn]:
            users[d].discard(urn)
            if not users[d] and d not in done:
                freed.append(d)
        ready = sorted({*ready, *freed}, key=index.__getitem__, reverse=True)
    # A cycle (never in a valid Pulumi graph) would strand nodes: delete them last, newest first.
    order += sorted((n for n in nodes if n.urn not in done), key=lambda n: index[n.urn], reverse=True)
    return order + providers[::-1]


def destroy(graph: Graph, cloud: EmbeddedCloud, *, echo: Callable[[str], None] | None = None) -> Teardown:
    """Delete an offline deployment from the embedded cloud (see the module docstring)."""
    protected = [n for n in graph.nodes if n.custom and n.protect]
    if protected:
        raise ProtectedResources(graph.stack, protected)
    load_all()
    ctx = Ctx(cloud=cloud, stack=graph.stack, default_region=graph.region or "us-east-1")
    result = Teardown(graph.stack)
    started = time.perf_counter()
    order = delete_order(graph)
    for i, node in enumerate(order):
        t0 = time.perf_counter()
        deleter = DELETERS.get(node.type)
        if node.retain_on_delete:
            outcome = "retained"
        elif deleter is None or node.id is None:
            outcome = "forgotten"
        else:
            gone = Gone(node.type, node.name, node.urn, node.id, dict(node.inputs), dict(node.outputs),
                        node.region or ctx.default_region)
            try:
                deleter(ctx, gone)
            except Exception as exc:  # any failure stops the destroy at this resource, named
                reason = f"{type(exc).__name__}: {exc}" if not isinstance(exc, ClientError | BotoCoreError | Refused) \
                    else str(exc)
                if isinstance(exc, ClientError):
                    err = exc.response.get("Error", {})
                    reason = f"{err.get('Code')}: {err.get('Message')}"
                raise DestroyRefused(f"destroy of stack '{graph.stack}' stopped: the cloud refused to delete "
                               f"{node.type} '{node.name}' ({node.id}): {reason}\n"
                               f"  {result.count('deleted')} resource(s) deleted before it, "
                               f"{len(order) - i} left in the stack") from None
            outcome = "deleted"
        result.steps.append(Step(node.type, node.name, node.id, outcome, time.perf_counter() - t0))
        if echo is not None and outcome != "forgotten":
            echo(f"  - {outcome:8} {node.type} {node.name}")
    result.seconds = time.perf_counter() - started
    return result


# ---- what is left ---------------------------------------------------------------------------
def _pages(client: Any, op: str, key: str, **kw: Any) -> list[Any]:
    if client.can_paginate(op):
        return [x for page in client.get_paginator(op).paginate(**kw) for x in page.get(key, [])]
    return list(getattr(client, op)(**kw).get(key, []))


def leftovers(cloud: EmbeddedCloud, regions: set[str]) -> list[str]:
    """Everything the account holds beyond AWS's defaults, as `service: kind id` lines."""
    out: list[str] = []
    add = out.append
    iam = cloud.client("iam", "us-east-1")
    for r in _pages(iam, "list_roles", "Roles"):
        add(f"iam: role {r['RoleName']}")
    for p in _pages(iam, "list_policies", "Policies", Scope="Local"):
        add(f"iam: policy {p['PolicyName']}")
    cf = cloud.client("cloudfront", "us-east-1")
    for d in (cf.list_distributions().get("DistributionList", {}).get("Items") or []):
        add(f"cloudfront: distribution {d['Id']}")
    for o in (cf.list_origin_access_controls().get("OriginAccessControlList", {}).get("Items") or []):
        add(f"cloudfront: origin access control {o['Id']}")
    s3 = cloud.client("s3", "us-east-1")
    for b in s3.list_buckets().get("Buckets", []):
        add(f"s3: bucket {b['Name']}")
    for region in sorted(regions):
        ec2 = cloud.client("ec2", region)
        default_vpcs = {v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"] if v.get("IsDefault")}
        for v in ec2.describe_vpcs()["Vpcs"]:
            if not v.get("IsDefault"):
                add(f"ec2 {region}: vpc {v['VpcId']}")
        for s in ec2.describe_subnets()["Subnets"]:
            if s["VpcId"] not in default_vpcs:
                add(f"ec2 {region}: subnet {s['SubnetId']}")
        for g in ec2.describe_security_groups()["SecurityGroups"]:
            if g.get("VpcId") not in default_vpcs:
                add(f"ec2 {region}: security group {g['GroupId']} ({g['GroupName']})")
        for rt in ec2.describe_route_tables()["RouteTables"]:
            if rt["VpcId"] not in default_vpcs:
                add(f"ec2 {region}: route table {rt['RouteTableId']}")
        for igw in ec2.describe_internet_gateways()["InternetGateways"]:
            if not any(a.get("VpcId") in default_vpcs for a in igw.get("Attachments", [])):
                add(f"ec2 {region}: internet gateway {igw['InternetGatewayId']}")
        for asg in cloud.client("autoscaling", region).describe_auto_scaling_groups()["AutoScalingGroups"]:
            add(f"autoscaling {region}: group {asg['AutoScalingGroupName']}")
        for n in ec2.describe_nat_gateways()["NatGateways"]:
            if n.get("State") not in ("deleted", "deleting"):
                add(f"ec2 {region}: nat gateway {n['NatGatewayId']}")
        for a in ec2.describe_addresses()["Addresses"]:
            add(f"ec2 {region}: elastic ip {a.get('AllocationId')}")
        for e in ec2.describe_vpc_endpoints()["VpcEndpoints"]:
            if e.get("State", "").lower() not in ("deleted", "deleting"):
                add(f"ec2 {region}: vpc endpoint {e['VpcEndpointId']}")
        for f in ec2.describe_flow_logs()["FlowLogs"]:
            add(f"ec2 {region}: flow log {f['FlowLogId']}")
        for t in ec2.describe_launch_templates()["LaunchTemplates"]:
            add(f"ec2 {region}: launch template {t['LaunchTemplateId']}")
        rds = cloud.client("rds", region)
        for d in rds.describe_db_instances()["DBInstances"]:
            add(f"rds {region}: instance {d['DBInstanceIdentifier']}")
        for g in rds.describe_db_subnet_groups()["DBSubnetGroups"]:
            if g["DBSubnetGroupName"] != "default":
                add(f"rds {region}: subnet group {g['DBSubnetGroupName']}")
        for g in rds.describe_db_parameter_groups()["DBParameterGroups"]:
            if not g["DBParameterGroupName"].startswith("default."):
                add(f"rds {region}: parameter group {g['DBParameterGroupName']}")
        for s in rds.describe_db_snapshots()["DBSnapshots"]:
            add(f"rds {region}: snapshot {s['DBSnapshotIdentifier']}")
        ec = cloud.client("elasticache", region)
        for g in ec.describe_replication_groups()["ReplicationGroups"]:
            add(f"elasticache {region}: replication group {g['ReplicationGroupId']}")
        for g in ec.describe_cache_subnet_groups()["CacheSubnetGroups"]:
            if g["CacheSubnetGroupName"] != "default":
                add(f"elasticache {region}: subnet group {g['CacheSubnetGroupName']}")
        for c in cloud.client("eks", region).list_clusters()["clusters"]:
            add(f"eks {region}: cluster {c}")
        kms = cloud.client("kms", region)
        for k in _pages(kms, "list_keys", "Keys"):
            meta = kms.describe_key(KeyId=k["KeyId"])["KeyMetadata"]
            if meta.get("KeyManager") == "CUSTOMER" and meta.get("KeyState") != "PendingDeletion":
                add(f"kms {region}: key {k['KeyId']} ({meta.get('KeyState')})")
        for a in _pages(kms, "list_aliases", "Aliases"):
            if not a["AliasName"].startswith("alias/aws/"):
                add(f"kms {region}: alias {a['AliasName']}")
        for g in _pages(cloud.client("logs", region), "describe_log_groups", "logGroups"):
            add(f"logs {region}: log group {g['logGroupName']}")
        sns = cloud.client("sns", region)
        for t in _pages(sns, "list_topics", "Topics"):
            add(f"sns {region}: topic {t['TopicArn']}")
        for s in _pages(sns, "list_subscriptions", "Subscriptions"):
            add(f"sns {region}: subscription {s['SubscriptionArn']}")
        cw = cloud.client("cloudwatch", region)
        alarms = cw.describe_alarms()
        for a in [*alarms.get("MetricAlarms", []), *alarms.get("CompositeAlarms", [])]:
            add(f"cloudwatch {region}: alarm {a['AlarmName']}")
        for d in cw.list_dashboards().get("DashboardEntries", []):
            add(f"cloudwatch {region}: dashboard {d['DashboardName']}")
        for rule in cloud.client("events", region).list_rules().get("Rules", []):
            add(f"events {region}: rule {rule['Name']}")
        backup = cloud.client("backup", region)
        for v in backup.list_backup_vaults().get("BackupVaultList", []):
            add(f"backup {region}: vault {v['BackupVaultName']}")
        for p in backup.list_backup_plans().get("BackupPlansList", []):
            add(f"backup {region}: plan {p['BackupPlanId']}")
    return out


def regions_of(graph: Graph) -> set[str]:
    return {n.region for n in graph.nodes if n.region} | ({graph.region} if graph.region else set())


def write_objects(cloud: EmbeddedCloud, graph: Graph, per_bucket: int = 3) -> int:
    """Fill every bucket of a deployment as use would: objects, overwrites (versions), a delete marker."""
    written = 0
    for node in graph.by_type("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2"):
        s3 = cloud.client("s3", node.region or graph.region or "us-east-1")
        for i in range(per_bucket):
            for body in (b"v1", b"v2"):
                s3.put_object(Bucket=node.id, Key=f"objects/{i}.txt", Body=body)
                written += 1
        s3.delete_object(Bucket=node.id, Key="objects/0.txt")
    return written


