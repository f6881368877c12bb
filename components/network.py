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
from typing import Literal

import pulumi
import pulumi_aws as aws

from components import kms
from components.settings import ExistingNetwork


@dataclass
class NetworkArgs:
    cidr: str = "10.0.0.0/16"
    az_count: int = 3
    nat_gateways: Literal["single", "one_per_az"] = "one_per_az"
    flow_logs_retention_days: int = 90
    tags: dict[str, str] = field(default_factory=dict)
    # Build in this region instead of the provider's (pulumi-aws v7 per-resource region).
    region: str | None = None
    # Use this VPC and its subnets instead of creating any (nothing is created, nothing is
    # deleted on destroy: the network belongs to the stack that made it).
    existing: ExistingNetwork | None = None

    def __post_init__(self) -> None:
        if self.existing is not None:
            if self.existing.cidr != self.cidr:
                raise ValueError(f"cidr {self.cidr} differs from the existing VPC's {self.existing.cidr}")
            return
        if not 2 <= self.az_count <= 3:
            raise ValueError(f"az_count must be 2 or 3, got {self.az_count}")
        net = ipaddress.IPv4Network(self.cidr)
        if net.prefixlen > 24:
            raise ValueError(f"cidr {self.cidr} is too small; use /24 or larger")


def plan_subnets(cidr: str, az_count: int) -> tuple[list[str], list[str]]:
    """Private and public subnet ranges: eighths of the VPC, private first (they hold pods)."""
    blocks = list(ipaddress.IPv4Network(cidr).subnets(prefixlen_diff=3))
    private = [str(b) for b in blocks[:az_count]]
    public = [str(b) for b in blocks[4 : 4 + az_count]]
    return private, public


class Network(pulumi.ComponentResource):
    """VPC, subnets over 2-3 AZs, IGW, NAT, route tables, S3 endpoint, flow logs."""

    vpc_id: pulumi.Output[str]
    vpc_cidr: str
    azs: list[str]
    public_subnet_ids: list[pulumi.Output[str]]
    private_subnet_ids: list[pulumi.Output[str]]
    private_route_table_ids: list[pulumi.Output[str]]
    flow_log_group_name: pulumi.Output[str] | None

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("berth:network:Network", name, None, opts)
        if args.existing is not None:
            self._adopt(args.existing)
            return
        child = pulumi.ResourceOptions(parent=self)
        region_kw = {"region": args.region} if args.region else {}
        tags = args.tags

        def named(suffix: str) -> dict[str, str]:
            return {**tags, "Name": f"{name}-{suffix}"}

        invoke_opts = pulumi.InvokeOptions(parent=self)
        zones = aws.get_availability_zones(state="available", opts=invoke_opts, **region_kw)
        if len(zones.names) < args.az_count:
            raise ValueError(f"region has {len(zones.names)} availability zones, {args.az_count} requested")
        self.azs = list(zones.names[: args.az_count])
        identity = aws.get_caller_identity(opts=invoke_opts)
        partition = aws.get_partition(opts=invoke_opts).partition
        region = args.region or aws.get_region(opts=invoke_opts).region

        vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=args.cidr,
            enable_dns_hostnames=True,
            enable_dns_support=True,
            tags=named("vpc"),
            opts=child,
            **region_kw,
        )
        self.vpc_id = vpc.id
        self.vpc_cidr = args.cidr

        # An emptied default security group: nothing can silently fall back onto it.
        aws.ec2.DefaultSecurityGroup(
            f"{name}-default-sg",
            vpc_id=vpc.id,
            ingress=[],
            egress=[],
            tags=named("default-sg-unused"),
            opts=child,
            **region_kw,
        )

        igw = aws.ec2.InternetGateway(f"{name}-igw", vpc_id=vpc.id, tags=named("igw"), opts=child, **region_kw)

        private_cidrs, public_cidrs = plan_subnets(args.cidr, args.az_count)
        public_subnets = []
        private_subnets = []
        for i, az in enumerate(self.azs):
            public_subnets.append(
                aws.ec2.Subnet(
                    f"{name}-public-{az[-1]}",
                    vpc_id=vpc.id,
                    cidr_block=public_cidrs[i],
                    availability_zone=az,
                    map_public_ip_on_launch=False,
                    tags={**named(f"public-{az}"), "Tier": "public", "kubernetes.io/role/elb": "1"},
                    opts=child,
                    **region_kw,
                )
            )
            private_subnets.append(
                aws.ec2.Subnet(
                    f"{name}-private-{az[-1]}",
                    vpc_id=vpc.id,
                    cidr_block=private_cidrs[i],
                    availability_zone=az,
                    map_public_ip_on_launch=False,
                    tags={**named(f"private-{az}"), "Tier": "private", "kubernetes.io/role/internal-elb": "1"},
                    opts=child,
                    **region_kw,
                )
            )
        self.public_subnet_ids = [s.id for s in public_subnets]
        self.private_subnet_ids = [s.id for s in private_subnets]

        public_rt = aws.ec2.RouteTable(f"{name}-public-rt", vpc_id=vpc.id, tags=named("public-rt"),
                                       opts=child, **region_kw)
        aws.ec2.Route(
            f"{name}-public-default",
            route_table_id=public_rt.id,
            destination_cidr_block="0.0.0.0/0",
            gateway_id=igw.id,
            opts=child,
            **region_kw,
        )
        for subnet, az in zip(public_subnets, self.azs, strict=True):
            aws.ec2.RouteTableAssociation(
                f"{name}-public-{az[-1]}-rta", subnet_id=subnet.id, route_table_id=public_rt.id,
                opts=child, **region_kw,
            )

        nat_azs = self.azs if args.nat_gateways == "one_per_az" else self.azs[:1]
        nats = []
        for i, az in enumerate(nat_azs):
            eip = aws.ec2.Eip(f"{name}-nat-{az[-1]}-eip", domain="vpc", tags=named(f"nat-{az}"),
                              opts=child, **region_kw)
            nats.append(
                aws.ec2.NatGateway(
                    f"{name}-nat-{az[-1]}",
                    allocation_id=eip.allocation_id,
                    subnet_id=public_subnets[i].id,
                    connectivity_type="public",
                    tags=named(f"nat-{az}"),
                    opts=pulumi.ResourceOptions(parent=self, depends_on=[igw]),
                    **region_kw,
                )
            )

        private_rts = []
        for i, (subnet, az) in enumerate(zip(private_subnets, self.azs, strict=True)):
            rt = aws.ec2.RouteTable(f"{name}-private-{az[-1]}-rt", vpc_id=vpc.id,
                                    tags=named(f"private-{az}-rt"), opts=child, **region_kw)
            aws.ec2.Route(
                f"{name}-private-{az[-1]}-egress",
                route_table_id=rt.id,
                destination_cidr_block="0.0.0.0/0",
                nat_gateway_id=nats[i if len(nats) > 1 else 0].id,
                opts=child,
                **region_kw,
            )
            aws.ec2.RouteTableAssociation(f"{name}-private-{az[-1]}-rta", subnet_id=subnet.id,
                                          route_table_id=rt.id, opts=child, **region_kw)
            private_rts.append(rt)
        self.private_route_table_ids = [rt.id for rt in private_rts]

        aws.ec2.VpcEndpoint(
            f"{name}-s3-endpoint",
            vpc_id=vpc.id,
            service_name=f"com.amazonaws.{region}.s3",
            vpc_endpoint_type="Gateway",
            route_table_ids=[public_rt.id, *[rt.id for rt in private_rts]],
            tags=named("s3-endpoint"),
            opts=child,
            **region_kw,
        )

        # Flow logs: encrypted with a key whose policy lets only this region's CloudWatch Logs use it.
        log_group_name = f"/berth/{name}/vpc-flow-logs"
        key = aws.kms.Key(
            f"{name}-flow-logs-key",
            description=f"{name} VPC flow logs",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=kms.key_policy(
                kms.account_admin(partition, identity.account_id),
                kms.logs_for_group(partition, region, identity.account_id, log_group_name),
            ),
            tags=named("flow-logs-key"),
            opts=child,
            **region_kw,
        )
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-flow-logs",
            name=log_group_name,
            retention_in_days=args.flow_logs_retention_days,
            kms_key_id=key.arn,
            tags=named("flow-logs"),
            opts=child,
            **region_kw,
        )
        self.flow_log_group_name = log_group.name
        role = aws.iam.Role(
            f"{name}-flow-logs-role",
            assume_role_policy=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "vpc-flow-logs.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                            "Condition": {"StringEquals": {"aws:SourceAccount": identity.account_id}},
                        }
                    ],
                }
            ),
            tags=named("flow-logs-role"),
            opts=child,
        )
        aws.iam.RolePolicy(
            f"{name}-flow-logs-write",
            role=role.id,
            policy=log_group.arn.apply(
                lambda arn: json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Action": ["logs:CreateLogStream", "logs:PutLogEvents",
                                           "logs:DescribeLogGroups", "logs:DescribeLogStreams"],
                                "Resource": [arn, f"{arn}:*"],
                            }
                        ],
                    }
                )
            ),
            opts=child,
        )
        aws.ec2.FlowLog(
            f"{name}-flow-log",
            vpc_id=vpc.id,
            traffic_type="ALL",
            log_destination_type="cloud-watch-logs",
            log_destination=log_group.arn,
            iam_role_arn=role.arn,
            max_aggregation_interval=60,
            tags=named("flow-log"),
            opts=child,
            **region_kw,
        )

        self.register_outputs(
            {
                "vpcId": self.vpc_id,
                "vpcCidr": self.vpc_cidr,
                "azs": self.azs,
                "publicSubnetIds": self.public_subnet_ids,
                "privateSubnetIds": self.private_subnet_ids,
            }
        )

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
