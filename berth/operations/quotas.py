"""Operations room: the AWS quotas a stack needs, and whether the account has room for them.

A fresh account's defaults (5 VPCs, 5 Elastic IPs, 5 vCPUs of On-Demand Standard instances per
Region...) hold less than one might think: prod + staging + one review environment, and the
next `up` fails half-way with AddressLimitExceeded. Nothing here changes anything:

- `needs(graph)`: per quota (and Region, or Availability Zone), how many the stack creates, from
  its offline graph: VPCs, internet gateways, NAT gateways per AZ, Elastic IPs, Standard vCPUs
  at the node group's maximum (On-Demand or Spot), EKS clusters, RDS instances, ElastiCache
  nodes, network load balancers (the app's LoadBalancer Service), CloudFront distributions.
  `berth preview` writes them to build/STACK/quotas.json with each quota's code and AWS's default.
- `account_check(needs, client, stack)`: the account's applied value (Service Quotas
  GetServiceQuota, falling back to GetAWSDefaultServiceQuota, then to the documented default)
  against what is in use now (describe calls, not counting what this stack already owns, by its
  `Stack` tag or its names), naming each quota that will not fit and the request that would make
  it fit; and a warning when the account holds no CloudFront distribution (new accounts may need
  AWS's verification before CloudFront accepts one).

The quota catalogue (codes, names, defaults, sources) is embedded_cloud/quotas.py's AWS_QUOTAS:
the same table teaches the embedded cloud's Service Quotas (handlers/servicequotas.py).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from berth.operations.errors import OpsError
from berth.operations.preflight import Finding
from embedded_cloud import EmbeddedCloud, ProgramError, run_isolated
from embedded_cloud.graph import Graph, Node
from embedded_cloud.quotas import AWS_QUOTAS, AwsQuota
from embedded_cloud.runner import REPO as PROGRAM
from stacks.config import instance_vcpus

ClientFactory = Callable[[str, str], Any]
QUOTAS_FILE = "quotas.json"
# EC2's Standard vCPU quotas cover these instance families (the quota's own name).
STANDARD_FAMILIES = set("acdhimrtz")
# CloudFront's control plane lives in us-east-1.
GLOBAL_REGION = "us-east-1"
NEW_ACCOUNT_CDN = ("the account holds no CloudFront distribution: a new account may need AWS's verification "
                   "before CloudFront accepts one (CreateDistribution is refused until then) -- open a case with "
                   "AWS Support first; the CDN starts in the first minutes of `up`, so a refusal shows early")


@dataclass
class Need:
    """What a stack creates against one quota, in one Region (and zone, for per-AZ quotas)."""

    quota: str
    region: str
    count: int
    zone: str | None = None
    resources: list[str] = field(default_factory=list)

    @property
    def spec(self) -> AwsQuota:
        return AWS_QUOTAS[self.quota]

    def to_dict(self) -> dict[str, Any]:
        q = self.spec
        return {"quota": self.quota, "name": q.name, "serviceCode": q.service_code, "quotaCode": q.quota_code,
                "awsDefault": q.default, "scope": q.scope, "region": self.region, "zone": self.zone,
                "needed": self.count, "resources": self.resources, "source": q.source}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Need:
        return cls(d["quota"], d["region"], int(d["needed"]), d.get("zone"), list(d.get("resources") or []))


def _by_id(graph: Graph) -> dict[str, Node]:
    return {str(n.id): n for n in graph.nodes if n.id}


def _vcpus(node: Node) -> tuple[str, int] | None:
    """(quota, vCPUs) of a node group at its maximum size: the largest of its instance types."""
    types = list(node.inputs.get("instanceTypes") or [])
    size = int((node.inputs.get("scalingConfig") or {}).get("maxSize") or 0)
    standard = [t for t in types if t[:1] in STANDARD_FAMILIES]
    if not standard or not size:
        return None
    per_node = max(instance_vcpus(t) or 0 for t in standard)
    if per_node == 0:
        raise ValueError(f"{node.name}: no vCPU figure for {', '.join(standard)} (components/capacity.py)")
    quota = "spot-vcpus" if node.inputs.get("capacityType") == "SPOT" else "on-demand-vcpus"
    return quota, size * per_node


def needs(graph: Graph) -> list[Need]:
    """Per quota, Region and (for NAT gateways) zone: how many the stack creates."""
    region_of = {n.urn: n.region or graph.region or GLOBAL_REGION for n in graph.nodes}
    by_id = _by_id(graph)
    out: dict[tuple[str, str, str | None], Need] = {}

    def add(quota: str, region: str, n: Node, count: int = 1, zone: str | None = None) -> None:
        need = out.setdefault((quota, region, zone), Need(quota, region, 0, zone))
        need.count += count
        need.resources.append(n.name)

    simple = {"aws:ec2/vpc:Vpc": "vpcs", "aws:ec2/internetGateway:InternetGateway": "internet-gateways",
              "aws:ec2/eip:Eip": "elastic-ips", "aws:eks/cluster:Cluster": "eks-clusters",
              "aws:rds/instance:Instance": "rds-instances"}
    for n in graph.nodes:
        if not n.custom:
            continue
        region = region_of[n.urn]
        if n.type in simple:
            add(simple[n.type], region, n)
        elif n.type == "aws:ec2/natGateway:NatGateway":
            subnet = by_id.get(str(n.inputs.get("subnetId")))
            add("nat-gateways", region, n, zone=(subnet.inputs.get("availabilityZone") if subnet else None) or "?")
        elif n.type == "aws:eks/nodeGroup:NodeGroup":
            found = _vcpus(n)
            if found:
                add(found[0], region, n, found[1])
        elif n.type == "aws:elasticache/replicationGroup:ReplicationGroup":
            i = n.inputs
            nodes = i.get("numCacheClusters") or (int(i.get("numNodeGroups") or 1) * (int(i.get("replicasPerNodeGroup") or 0) + 1))
            add("elasticache-nodes", region, n, int(nodes))
        elif n.type == "aws:cloudfront/distribution:Distribution":
            add("cloudfront-distributions", GLOBAL_REGION, n)
        elif n.type == "kubernetes:core/v1:Service" and (n.inputs.get("spec") or {}).get("type") == "LoadBalancer":
            # EKS's service controller makes an NLB in the cluster's Region for it.
            add("network-load-balancers", graph.region or GLOBAL_REGION, n)
    return sorted(out.values(), key=lambda d: (d.quota, d.region, d.zone or ""))


def config_digest(config: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()[:16]


@dataclass
class StackNeeds:
    """A stack's needs, and the names AWS knows its resources by (so a re-`up` does not count them twice)."""

    stack: str
    needs: list[Need]
    own_names: set[str]

    @classmethod
    def of(cls, graph: Graph) -> StackNeeds:
        return cls(graph.stack, needs(graph), own_names(graph))


def write(graph: Graph, out_dir: Path) -> Path:
    """build/STACK/quotas.json: what the stack needs per quota, with the codes and AWS's defaults."""
    path = out_dir / QUOTAS_FILE
    path.write_text(json.dumps({"stack": graph.stack, "configDigest": config_digest(graph.config),
                                "quotas": [n.to_dict() for n in needs(graph)],
                                "ownNames": sorted(own_names(graph))}, indent=1))
    return path


def read(path: Path, config: dict[str, Any] | None = None) -> StackNeeds | None:
    """The needs recorded in a quotas.json (None when absent, or written for another config)."""
    if not path.exists():
        return None
    data = json.loads(path.read_text())
    if config is not None and data.get("configDigest") != config_digest(config):
        return None
    return StackNeeds(data["stack"], [Need.from_dict(d) for d in data.get("quotas", [])], set(data.get("ownNames", [])))


def for_config(stack: str, config: dict[str, Any], build_root: Path | None = None) -> StackNeeds:
    """A stack's needs: build_root/STACK/quotas.json when `berth preview` wrote it for this very
    config, else from an offline run of the program with that config (the stack file need not exist)."""
    if build_root is not None:
        recorded = read(build_root / stack / QUOTAS_FILE, config)
        if recorded is not None:
            return recorded
    try:
        with EmbeddedCloud.serve() as cloud:
            graph = run_isolated(stack, endpoint_url=cloud.endpoint_url or "", config=config, repo=PROGRAM)
    except ProgramError as exc:
        raise OpsError(f"could not work out what {stack} needs: its offline run failed:\n{exc}") from None
    return StackNeeds.of(graph)


# ---- the account ---------------------------------------------------------------------------------
@dataclass
class Applied:
    value: float
    origin: str  # "applied", "AWS default" or "documented default"


def applied(client: ClientFactory, spec: AwsQuota, region: str) -> Applied:
    """The account's value for a quota: applied, else AWS's default for it, else the documented default."""
    sq = client("service-quotas", region)
    try:
        return Applied(float(sq.get_service_quota(ServiceCode=spec.service_code, QuotaCode=spec.quota_code)
                             ["Quota"]["Value"]), "applied")
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "NoSuchResourceException":
            raise
    try:
        return Applied(float(sq.get_aws_default_service_quota(ServiceCode=spec.service_code,
                                                              QuotaCode=spec.quota_code)["Quota"]["Value"]),
                       "AWS default")
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "NoSuchResourceException":
            raise
    return Applied(spec.default, "documented default")


def _tags(items: Iterable[dict[str, Any]] | None) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in items or []}


class Usage:
    """What the account uses now, per quota, not counting what `stack` (its tag, its names) owns."""

    def __init__(self, client: ClientFactory, stack: str, own_names: set[str]) -> None:
        self.client, self.stack, self.own = client, stack, own_names
        self._cache: dict[tuple[str, str], Any] = {}

    def _others(self, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [i for i in items if _tags(i.get("Tags")).get("Stack") != self.stack]

    def count(self, quota: str, region: str, zone: str | None) -> int:
        ec2 = self.client("ec2", region)
        if quota == "vpcs":
            return len(self._others(ec2.describe_vpcs()["Vpcs"]))
        if quota == "internet-gateways":
            return len(self._others(ec2.describe_internet_gateways()["InternetGateways"]))
        if quota == "elastic-ips":
            return len(self._others(ec2.describe_addresses()["Addresses"]))
        if quota == "nat-gateways":
            live = [g for g in ec2.describe_nat_gateways()["NatGateways"] if g.get("State") in ("pending", "available")]
            live = self._others(live)
            if not live:
                return 0
            subnets = {s["SubnetId"]: s["AvailabilityZone"] for s in ec2.describe_subnets(
                SubnetIds=sorted({g["SubnetId"] for g in live}))["Subnets"]}
            return sum(1 for g in live if subnets.get(g["SubnetId"]) == zone)
        if quota in ("on-demand-vcpus", "spot-vcpus"):
            return self._vcpus(region)[quota]
        if quota == "eks-clusters":
            return len([c for c in self.client("eks", region).list_clusters()["clusters"] if c not in self.own])
        if quota == "rds-instances":
            dbs = self.client("rds", region).describe_db_instances()["DBInstances"]
            return len([d for d in dbs if d["DBInstanceIdentifier"] not in self.own])
        if quota == "elasticache-nodes":
            clusters = self.client("elasticache", region).describe_cache_clusters()["CacheClusters"]
            return sum(int(c.get("NumCacheNodes") or 1) for c in clusters if c.get("ReplicationGroupId") not in self.own)
        if quota == "network-load-balancers":
            lbs = self.client("elbv2", region).describe_load_balancers()["LoadBalancers"]
            return len([lb for lb in lbs if lb.get("Type") == "network"])
        if quota == "cloudfront-distributions":
            return self.distributions()
        raise ValueError(f"no usage count for quota {quota!r}")

    def distributions(self) -> int:
        listing = self.client("cloudfront", GLOBAL_REGION).list_distributions()["DistributionList"]
        return int(listing.get("Quantity") or len(listing.get("Items") or []))

    def _vcpus(self, region: str) -> dict[str, int]:
        key = ("vcpus", region)
        if key not in self._cache:
            ec2 = self.client("ec2", region)
            running = [i for r in ec2.describe_instances(Filters=[{"Name": "instance-state-name",
                                                                  "Values": ["pending", "running"]}])["Reservations"]
                       for i in r["Instances"] if _tags(i.get("Tags")).get("Stack") != self.stack
                       and i["InstanceType"][:1] in STANDARD_FAMILIES]
            types = sorted({i["InstanceType"] for i in running})
            per = {t["InstanceType"]: t["VCpuInfo"]["DefaultVCpus"]
                   for t in (ec2.describe_instance_types(InstanceTypes=types)["InstanceTypes"] if types else [])}
            totals = {"on-demand-vcpus": 0, "spot-vcpus": 0}
            for i in running:
                kind = "spot-vcpus" if i.get("InstanceLifecycle") == "spot" else "on-demand-vcpus"
                totals[kind] += int(per.get(i["InstanceType"], 0))
            self._cache[key] = totals
        return self._cache[key]


@dataclass
class AccountReport:
    findings: list[Finding] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)
    # Why the account could not be read (credentials without service-quotas:Get* or a describe call):
    # `berth preflight` counts it as a problem; `berth up` and `berth env create` go on, warning.
    unreadable: str | None = None

    @property
    def ok(self) -> bool:
        return not self.findings


def account_check(stack_needs: StackNeeds, client: ClientFactory) -> AccountReport:
    """Each quota the stack's needs will not fit in (applied value vs usage + need), and the CDN warning."""
    report = AccountReport()
    stack, wanted = stack_needs.stack, stack_needs.needs
    usage = Usage(client, stack, stack_needs.own_names)
    try:
        for need in wanted:
            spec = need.spec
            where = need.region + (f" {need.zone}" if need.zone else "")
            value = applied(client, spec, need.region)
            used = usage.count(need.quota, need.region, need.zone)
            report.checked.append(f"{spec.name} ({where}): {used} in use + {need.count} needed <= {value.value:g} "
                                  f"({value.origin})")
            if used + need.count > value.value:
                wanted_value = used + need.count
                report.findings.append(Finding(
                    key=f"quota {spec.service_code}/{spec.quota_code}",
                    value=f"{spec.name} in {where}",
                    problem=(f"{stack} needs {need.count} ({', '.join(need.resources[:4])}"
                             f"{', ...' if len(need.resources) > 4 else ''}), {used} already in use, the account "
                             f"allows {value.value:g} ({value.origin}"
                             f"{f'; AWS default {spec.default:g}' if value.origin == 'applied' else ''}): "
                             "it will not fit"),
                    fix=(f"aws service-quotas request-service-quota-increase --region {need.region} --service-code "
                         f"{spec.service_code} --quota-code {spec.quota_code} --desired-value {wanted_value} "
                         "(or free what is in use)")))
        if any(n.quota == "cloudfront-distributions" for n in wanted) and usage.distributions() == 0:
            report.warnings.append(NEW_ACCOUNT_CDN)
    except (BotoCoreError, ClientError) as exc:
        report.unreadable = (f"could not read the account's quotas or usage for {stack} ({exc}): the credentials "
                             "need servicequotas:GetServiceQuota, servicequotas:GetAWSDefaultServiceQuota and the "
                             "describe/list calls (ec2, eks, rds, elasticache, elasticloadbalancing, cloudfront)")
        report.warnings.append(f"quotas not checked: {report.unreadable}")
    return report


def own_names(graph: Graph) -> set[str]:
    """Names AWS knows this stack's resources by (for the services whose listings carry no tags)."""
    out: set[str] = set()
    for n in graph.by_type("aws:eks/cluster:Cluster", "aws:rds/instance:Instance",
                           "aws:elasticache/replicationGroup:ReplicationGroup"):
        for key in ("name", "identifier", "replicationGroupId"):
            if isinstance(n.outputs.get(key), str):
                out.add(n.outputs[key])
        if n.id:
            out.add(str(n.id))
    return out

