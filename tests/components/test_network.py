"""Tests room (components): the network, asserted on moto's state and on the recorded graph."""

from __future__ import annotations

import ipaddress

import pytest

from components.zones import EKS_UNSUPPORTED_ZONE_IDS, choose_zones
from embedded_cloud import EmbeddedCloud, read_stack_config, run_isolated
from tests.conftest import Deployed


def vpc_id(d: Deployed) -> str:
    return d.graph.outputs["vpcId"]


def private_subnets(d: Deployed) -> list[dict]:
    ec2 = d.client("ec2")
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc_id(d)]}])["Subnets"]
    return [s for s in subnets if {"Key": "Tier", "Value": "private"} in s.get("Tags", [])]


@pytest.mark.parametrize(("stack", "nats"), [("staging", 1), ("prod", 3)])
def test_private_subnets_span_three_azs_and_nat_count_follows_config(
    request: pytest.FixtureRequest, stack: str, nats: int
) -> None:
    d: Deployed = request.getfixturevalue(stack)
    subnets = private_subnets(d)
    assert len(subnets) == 3
    assert len({s["AvailabilityZone"] for s in subnets}) == 3
    vpc_cidr = ipaddress.ip_network(d.client("ec2").describe_vpcs(VpcIds=[vpc_id(d)])["Vpcs"][0]["CidrBlock"])
    assert all(ipaddress.ip_network(s["CidrBlock"]).subnet_of(vpc_cidr) for s in subnets)
    gateways = d.client("ec2").describe_nat_gateways(Filters=[{"Name": "vpc-id", "Values": [vpc_id(d)]}])
    assert len(gateways["NatGateways"]) == nats


def test_prod_private_subnets_each_egress_through_the_nat_in_their_own_az(prod: Deployed) -> None:
    ec2 = prod.client("ec2")
    nat_az = {}
    for nat in ec2.describe_nat_gateways(Filters=[{"Name": "vpc-id", "Values": [vpc_id(prod)]}])["NatGateways"]:
        subnet = ec2.describe_subnets(SubnetIds=[nat["SubnetId"]])["Subnets"][0]
        nat_az[nat["NatGatewayId"]] = subnet["AvailabilityZone"]
    for s in private_subnets(prod):
        rt = ec2.describe_route_tables(Filters=[{"Name": "association.subnet-id", "Values": [s["SubnetId"]]}])
        default = [r for r in rt["RouteTables"][0]["Routes"] if r.get("DestinationCidrBlock") == "0.0.0.0/0"]
        assert nat_az[default[0]["NatGatewayId"]] == s["AvailabilityZone"]


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_no_private_subnet_routes_straight_to_the_internet_gateway(request: pytest.FixtureRequest, stack: str) -> None:
    d: Deployed = request.getfixturevalue(stack)
    ec2 = d.client("ec2")
    for s in private_subnets(d):
        tables = ec2.describe_route_tables(Filters=[{"Name": "association.subnet-id", "Values": [s["SubnetId"]]}])
        assert len(tables["RouteTables"]) == 1, "each private subnet has its own explicit route table"
        routes = tables["RouteTables"][0]["Routes"]
        assert not any(r.get("GatewayId", "").startswith("igw-") for r in routes)
        assert any(r.get("NatGatewayId", "").startswith("nat-") for r in routes)


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_flow_logs_go_to_an_encrypted_log_group(request: pytest.FixtureRequest, stack: str) -> None:
    d: Deployed = request.getfixturevalue(stack)
    logs = d.client("ec2").describe_flow_logs(Filters=[{"Name": "resource-id", "Values": [vpc_id(d)]}])["FlowLogs"]
    assert len(logs) == 1 and logs[0]["TrafficType"] == "ALL"
    assert logs[0]["LogDestinationType"] == "cloud-watch-logs"
    name = logs[0].get("LogGroupName") or logs[0]["LogDestination"].split(":log-group:")[1].removesuffix(":*")
    group = d.client("logs").describe_log_groups(logGroupNamePrefix=name)["logGroups"][0]
    assert group["kmsKeyId"].startswith("arn:aws:kms:")
    key = d.client("kms").describe_key(KeyId=group["kmsKeyId"])["KeyMetadata"]
    assert key["Enabled"] and d.client("kms").get_key_rotation_status(KeyId=key["KeyId"])["KeyRotationEnabled"]
    expected = 365 if stack == "prod" else 30
    assert group["retentionInDays"] == expected


def test_default_security_group_is_emptied_and_s3_stays_on_a_gateway_endpoint(prod: Deployed) -> None:
    ec2 = prod.client("ec2")
    sg = ec2.describe_security_groups(
        Filters=[{"Name": "vpc-id", "Values": [vpc_id(prod)]}, {"Name": "group-name", "Values": ["default"]}]
    )["SecurityGroups"][0]
    assert sg["IpPermissions"] == [] and sg["IpPermissionsEgress"] == []
    eps = ec2.describe_vpc_endpoints(Filters=[{"Name": "vpc-id", "Values": [vpc_id(prod)]}])["VpcEndpoints"]
    assert [e["ServiceName"] for e in eps if e["VpcEndpointType"] == "Gateway"] == ["com.amazonaws.us-east-1.s3"]


def test_graph_records_parents_and_dependencies(prod: Deployed) -> None:
    g = prod.graph
    networks = g.by_type("berth:network:Network")
    assert sorted(n.name for n in networks) == ["berth-prod", "berth-prod-recovery"]
    for network in networks:
        (vpc,) = [n for n in g.descendants(network.urn) if n.type == "aws:ec2/vpc:Vpc"]
        subnets = [n for n in g.descendants(network.urn) if n.type == "aws:ec2/subnet:Subnet"]
        assert len(subnets) == 6
        for subnet in subnets:
            assert vpc.urn in subnet.dependencies
            assert vpc.urn in subnet.property_dependencies["vpcId"]
        for node in g.descendants(network.urn):
            assert network in g.ancestors(node)
    network_types = {
        "aws:ec2/vpc:Vpc", "aws:ec2/subnet:Subnet", "aws:ec2/routeTable:RouteTable", "aws:ec2/route:Route",
        "aws:ec2/routeTableAssociation:RouteTableAssociation", "aws:ec2/internetGateway:InternetGateway",
        "aws:ec2/natGateway:NatGateway", "aws:ec2/eip:Eip", "aws:ec2/flowLog:FlowLog",
        "aws:ec2/vpcEndpoint:VpcEndpoint", "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup",
    }
    in_network = {n.urn for network in networks for n in g.descendants(network.urn)}
    network_resources = {n.urn for n in g.resources if n.type in network_types}
    assert network_resources and network_resources <= in_network


def test_prod_keeps_a_recovery_vpc_in_its_dr_region_and_staging_does_not(staging: Deployed, prod: Deployed) -> None:
    ec2 = prod.client("ec2", "us-west-2")
    vpc = ec2.describe_vpcs(VpcIds=[prod.graph.outputs["recoveryVpcId"]])["Vpcs"][0]
    assert vpc["CidrBlock"] == prod.graph.config["berth:dr"]["rebuildCidr"]
    assert {"Key": "Name", "Value": "berth-prod-recovery-vpc"} in vpc["Tags"]
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}])["Subnets"]
    assert len({s["AvailabilityZone"] for s in subnets}) == 3 and len(subnets) == 6
    # One NAT gateway: a rebuilt cluster can pull images on day one, at the cost of one gateway.
    nats = ec2.describe_nat_gateways(Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}])["NatGateways"]
    assert len(nats) == 1
    assert staging.graph.outputs["recoveryVpcId"] is None
    assert len(staging.graph.by_type("berth:network:Network")) == 1


@pytest.mark.slow
def test_an_existing_network_creates_nothing_and_carries_the_stack() -> None:
    with EmbeddedCloud.serve() as cloud:
        ec2 = cloud.client("ec2", "us-east-1")
        vpc = ec2.create_vpc(CidrBlock="10.10.0.0/16")["Vpc"]["VpcId"]
        azs = ["us-east-1a", "us-east-1b", "us-east-1c"]
        private = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.10.{i}.0/24", AvailabilityZone=az)["Subnet"]["SubnetId"]
                   for i, az in enumerate(azs)]
        public = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.10.{10 + i}.0/24", AvailabilityZone=az)["Subnet"][
            "SubnetId"] for i, az in enumerate(azs)]
        existing = {"vpcId": vpc, "cidr": "10.10.0.0/16", "availabilityZones": azs, "privateSubnetIds": private,
                    "publicSubnetIds": public}
        graph = run_isolated("adopted", endpoint_url=cloud.endpoint_url or "", config=read_stack_config("staging"),
                             overrides={"berth:network.existing": existing})
        (network,) = graph.by_type("berth:network:Network")
        assert list(graph.descendants(network.urn)) == []
        assert graph.outputs["vpcId"] == vpc
        (eks,) = graph.by_type("aws:eks/cluster:Cluster")
        assert eks.inputs["vpcConfig"]["subnetIds"] == private
        db = cloud.client("rds", "us-east-1").describe_db_instances(
            DBInstanceIdentifier="berth-adopted-primary")["DBInstances"][0]
        assert db["DBSubnetGroup"]["VpcId"] == vpc


def test_zones_are_chosen_by_id_in_name_order_skipping_those_eks_refuses() -> None:
    names = ["us-east-1c", "us-east-1a", "us-east-1b", "us-east-1d"]
    ids = ["use1-az2", "use1-az3", "use1-az1", "use1-az4"]
    assert choose_zones(names, ids, 3, "us-east-1") == ["us-east-1b", "us-east-1c", "us-east-1d"]
    # The same answer every run, whatever order the API lists them in.
    assert choose_zones(list(reversed(names)), list(reversed(ids)), 3, "us-east-1") == choose_zones(
        names, ids, 3, "us-east-1")
    assert {"use1-az3", "usw1-az2", "cac1-az3"} == EKS_UNSUPPORTED_ZONE_IDS
    with pytest.raises(ValueError, match=r"us-west-1 has 1 availability zones EKS accepts, 2 requested "
                                         r"\(us-west-1c \(usw1-az2\) excluded"):
        choose_zones(["us-west-1b", "us-west-1c"], ["usw1-az1", "usw1-az2"], 2, "us-west-1")


def test_an_account_where_us_east_1a_is_use1_az3_gets_its_subnets_elsewhere(deploy) -> None:
    """In this account us-east-1a is the zone EKS refuses: the network takes b, c and d, and the
    cluster (which the embedded cloud's EKS refuses in use1-az3) is created."""
    d = deploy("azmap", config=read_stack_config("staging"),
               zone_ids={"us-east-1a": "use1-az3", "us-east-1e": "use1-az6"})
    zones = {s["AvailabilityZone"] for s in private_subnets(d)}
    assert zones == {"us-east-1b", "us-east-1c", "us-east-1d"}
    subnets = d.graph.by_type("aws:ec2/subnet:Subnet")
    assert len(subnets) == 6 and "us-east-1a" not in {n.inputs["availabilityZone"] for n in subnets}
    assert d.graph.by_type("aws:eks/cluster:Cluster")


def test_the_default_zone_mapping_keeps_the_first_three_zones(staging: Deployed) -> None:
    """moto's (and most accounts') us-east-1a..c are supported IDs: existing stacks' subnets stay put."""
    assert {n.inputs["availabilityZone"] for n in staging.graph.by_type("aws:ec2/subnet:Subnet")} == {
        "us-east-1a", "us-east-1b", "us-east-1c"}
