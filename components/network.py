"""Components room: the VPC every other tier lives in.

Public subnets hold load balancers and NAT gateways; private subnets hold the cluster
nodes, the database and the cache, and egress through NAT (one shared, or one per AZ so
an AZ outage cannot cut the others off). VPC flow logs go to a KMS-encrypted log group,
the default security group is emptied, and S3 traffic stays on a gateway endpoint.
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components import kms
from components.base import Component
from components.placement import locate
from components.settings import ExistingNetwork, NetworkSettings
from components.zones import EKS_UNSUPPORTED_ZONE_IDS, choose_zones


@dataclass
class NetworkArgs:
    # No wiring: the range, zones, NAT layout and flow logs (or `existing`: a VPC to use as is;
    # nothing is created, nothing deleted on destroy: the network belongs to the stack that made it).
    settings: NetworkSettings
    tags: dict[str, str] = field(default_factory=dict)
    # Build in this region instead of the provider's (pulumi-aws v7 per-resource region).
    region: str | None = None


def plan_subnets(cidr: str, az_count: int) -> tuple[list[str], list[str]]:
    """Private and public subnet ranges: eighths of the VPC, private first (they hold pods)."""
    blocks = list(ipaddress.IPv4Network(cidr).subnets(prefixlen_diff=3))
    private = [str(b) for b in blocks[:az_count]]
    public = [str(b) for b in blocks[4 : 4 + az_count]]
    return private, public


class Network(Component):
    """VPC, subnets over 2-3 AZs, IGW, NAT, route tables, S3 endpoint, flow logs."""

    vpc_id: pulumi.Output[str]
    vpc_cidr: str
    azs: list[str]
    public_subnet_ids: list[pulumi.Output[str]]
    private_subnet_ids: list[pulumi.Output[str]]
    private_route_table_ids: list[pulumi.Output[str]]
    flow_log_group_name: pulumi.Output[str] | None

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, opts, tags=args.tags)
        s = args.settings
        if s.existing is not None:
            self._adopt(s.existing)
            return
        self._where = locate(self, args.region)
        self.azs = self._zones(s.az_count)
        vpc = self._vpc(s.cidr)
        igw = aws.ec2.InternetGateway(f"{name}-igw", vpc_id=vpc.id, tags=self.named("igw"),
                                      opts=self.child(), **self._where.kw)
        public, private = self._subnets(vpc, s.cidr)
        public_rt = self._public_routes(vpc, igw, public)
        nats = self._nat_gateways(igw, public, s.nat_gateways)
        private_rts = self._private_routes(vpc, private, nats)
        self._s3_endpoint(vpc, [public_rt, *private_rts])
        self.flow_log_group_name = self._flow_logs(vpc, s.flow_logs_retention_days)
        self.register_outputs(
            {
                "vpcId": self.vpc_id,
                "vpcCidr": self.vpc_cidr,
                "azs": self.azs,
                "publicSubnetIds": self.public_subnet_ids,
                "privateSubnetIds": self.private_subnet_ids,
            }
        )

    # ---- steps, in dependency order --------------------------------------------------------
    def _zones(self, az_count: int) -> list[str]:
        """The zones by zone ID: EKS refuses control-plane subnets in some (components/zones.py)."""
        zones = aws.get_availability_zones(state="available", exclude_zone_ids=sorted(EKS_UNSUPPORTED_ZONE_IDS),
                                           opts=pulumi.InvokeOptions(parent=self), **self._where.kw)
        return choose_zones(zones.names, zones.zone_ids, az_count, self._where.region)

    def _vpc(self, cidr: str) -> aws.ec2.Vpc:
        """The VPC, and its default security group emptied: nothing can silently fall back onto it."""
        name, kw = self.prefix, self._where.kw
        vpc = aws.ec2.Vpc(f"{name}-vpc", cidr_block=cidr, enable_dns_hostnames=True, enable_dns_support=True,
                          tags=self.named("vpc"), opts=self.child(), **kw)
        self.vpc_id = vpc.id
        self.vpc_cidr = cidr
        aws.ec2.DefaultSecurityGroup(f"{name}-default-sg", vpc_id=vpc.id, ingress=[], egress=[],
                                     tags=self.named("default-sg-unused"), opts=self.child(), **kw)
        return vpc

    def _subnets(self, vpc: aws.ec2.Vpc, cidr: str) -> tuple[list[aws.ec2.Subnet], list[aws.ec2.Subnet]]:
        """One public and one private subnet per AZ, tagged for the load balancers EKS makes."""
        name, kw = self.prefix, self._where.kw
        private_cidrs, public_cidrs = plan_subnets(cidr, len(self.azs))
        public: list[aws.ec2.Subnet] = []
        private: list[aws.ec2.Subnet] = []
        for i, az in enumerate(self.azs):
            public.append(aws.ec2.Subnet(
                f"{name}-public-{az[-1]}", vpc_id=vpc.id, cidr_block=public_cidrs[i], availability_zone=az,
                map_public_ip_on_launch=False,
                tags={**self.named(f"public-{az}"), "Tier": "public", "kubernetes.io/role/elb": "1"},
                opts=self.child(), **kw,
            ))
            private.append(aws.ec2.Subnet(
                f"{name}-private-{az[-1]}", vpc_id=vpc.id, cidr_block=private_cidrs[i], availability_zone=az,
                map_public_ip_on_launch=False,
                tags={**self.named(f"private-{az}"), "Tier": "private", "kubernetes.io/role/internal-elb": "1"},
                opts=self.child(), **kw,
            ))
        self.public_subnet_ids = [s.id for s in public]
        self.private_subnet_ids = [s.id for s in private]
        return public, private

    def _public_routes(self, vpc: aws.ec2.Vpc, igw: aws.ec2.InternetGateway,
                       subnets: list[aws.ec2.Subnet]) -> aws.ec2.RouteTable:
        """One route table for every public subnet: the internet through the gateway."""
        name, kw = self.prefix, self._where.kw
        rt = aws.ec2.RouteTable(f"{name}-public-rt", vpc_id=vpc.id, tags=self.named("public-rt"),
                                opts=self.child(), **kw)
        aws.ec2.Route(f"{name}-public-default", route_table_id=rt.id, destination_cidr_block="0.0.0.0/0",
                      gateway_id=igw.id, opts=self.child(), **kw)
        for subnet, az in zip(subnets, self.azs, strict=True):
            aws.ec2.RouteTableAssociation(f"{name}-public-{az[-1]}-rta", subnet_id=subnet.id, route_table_id=rt.id,
                                          opts=self.child(), **kw)
        return rt

    def _nat_gateways(self, igw: aws.ec2.InternetGateway, public: list[aws.ec2.Subnet],
                      layout: str) -> list[aws.ec2.NatGateway]:
        """One NAT gateway per AZ ("one_per_az") or one shared ("single"), in the public subnets."""
        name, kw = self.prefix, self._where.kw
        nat_azs = self.azs if layout == "one_per_az" else self.azs[:1]
        nats = []
        for i, az in enumerate(nat_azs):
            eip = aws.ec2.Eip(f"{name}-nat-{az[-1]}-eip", domain="vpc", tags=self.named(f"nat-{az}"),
                              opts=self.child(), **kw)
            nats.append(aws.ec2.NatGateway(
                f"{name}-nat-{az[-1]}", allocation_id=eip.allocation_id, subnet_id=public[i].id,
                connectivity_type="public", tags=self.named(f"nat-{az}"), opts=self.child(depends_on=[igw]), **kw,
            ))
        return nats

    def _private_routes(self, vpc: aws.ec2.Vpc, private: list[aws.ec2.Subnet],
                        nats: list[aws.ec2.NatGateway]) -> list[aws.ec2.RouteTable]:
        """A route table per private subnet: egress through its AZ's NAT gateway (or the shared one)."""
        name, kw = self.prefix, self._where.kw
        tables = []
        for i, (subnet, az) in enumerate(zip(private, self.azs, strict=True)):
            rt = aws.ec2.RouteTable(f"{name}-private-{az[-1]}-rt", vpc_id=vpc.id,
                                    tags=self.named(f"private-{az}-rt"), opts=self.child(), **kw)
            aws.ec2.Route(f"{name}-private-{az[-1]}-egress", route_table_id=rt.id, destination_cidr_block="0.0.0.0/0",
                          nat_gateway_id=nats[i if len(nats) > 1 else 0].id, opts=self.child(), **kw)
            aws.ec2.RouteTableAssociation(f"{name}-private-{az[-1]}-rta", subnet_id=subnet.id, route_table_id=rt.id,
                                          opts=self.child(), **kw)
            tables.append(rt)
        self.private_route_table_ids = [rt.id for rt in tables]
        return tables

    def _s3_endpoint(self, vpc: aws.ec2.Vpc, tables: list[aws.ec2.RouteTable]) -> None:
        """S3 traffic stays on a gateway endpoint (no NAT charges, no internet path)."""
        aws.ec2.VpcEndpoint(
            f"{self.prefix}-s3-endpoint", vpc_id=vpc.id, service_name=f"com.amazonaws.{self._where.region}.s3",
            vpc_endpoint_type="Gateway", route_table_ids=[rt.id for rt in tables], tags=self.named("s3-endpoint"),
            opts=self.child(), **self._where.kw,
        )

    def _flow_logs(self, vpc: aws.ec2.Vpc, retention_days: int) -> pulumi.Output[str]:
        """Flow logs: encrypted with a key whose policy lets only this region's CloudWatch Logs use it."""
        name, kw, w = self.prefix, self._where.kw, self._where
        log_group_name = f"/berth/{name}/vpc-flow-logs"
        key = aws.kms.Key(
            f"{name}-flow-logs-key",
            description=f"{name} VPC flow logs",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=kms.key_policy(
                kms.account_admin(w.partition, w.account),
                kms.logs_for_group(w.partition, w.region, w.account, log_group_name),
            ),
            tags=self.named("flow-logs-key"),
            opts=self.child(),
            **kw,
        )
        log_group = aws.cloudwatch.LogGroup(f"{name}-flow-logs", name=log_group_name, retention_in_days=retention_days,
                                            kms_key_id=key.arn, tags=self.named("flow-logs"), opts=self.child(), **kw)
        role = aws.iam.Role(
            f"{name}-flow-logs-role",
            assume_role_policy=json.dumps({
                "Version": "2012-10-17",
                "Statement": [{
                    "Effect": "Allow",
                    "Principal": {"Service": "vpc-flow-logs.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                    "Condition": {"StringEquals": {"aws:SourceAccount": w.account}},
                }],
            }),
            tags=self.named("flow-logs-role"),
            opts=self.child(),
        )
        aws.iam.RolePolicy(
            f"{name}-flow-logs-write",
            role=role.id,
            policy=log_group.arn.apply(lambda arn: json.dumps({
                "Version": "2012-10-17",
                "Statement": [{
                    "Effect": "Allow",
                    "Action": ["logs:CreateLogStream", "logs:PutLogEvents",
                               "logs:DescribeLogGroups", "logs:DescribeLogStreams"],
                    "Resource": [arn, f"{arn}:*"],
                }],
            })),
            opts=self.child(),
        )
        aws.ec2.FlowLog(f"{name}-flow-log", vpc_id=vpc.id, traffic_type="ALL", log_destination_type="cloud-watch-logs",
                        log_destination=log_group.arn, iam_role_arn=role.arn, max_aggregation_interval=60,
                        tags=self.named("flow-log"), opts=self.child(), **kw)
        return log_group.name

    def _adopt(self, e: ExistingNetwork) -> None:
        """Expose an existing VPC as if this component had made it."""
        self.vpc_id = pulumi.Output.from_input(e.vpc_id)
        self.vpc_cidr = e.cidr
        self.azs = list(e.availability_zones)
        self.public_subnet_ids = [pulumi.Output.from_input(i) for i in e.public_subnet_ids]
        self.private_subnet_ids = [pulumi.Output.from_input(i) for i in e.private_subnet_ids]
        self.private_route_table_ids = []
        self.flow_log_group_name = None
        self.register_outputs({"vpcId": self.vpc_id, "existing": True})
