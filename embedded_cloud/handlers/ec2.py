"""Embedded cloud room: VPC resources created in moto's EC2."""

from __future__ import annotations

from typing import Any

from embedded_cloud.handlers import Ctx, Out, Res, resource, tag_list, tag_spec


@resource("aws:ec2/vpc:Vpc")
def vpc(ctx: Ctx, r: Res) -> Out:
    ec2 = ctx.client("ec2", r.region)
    v = ec2.create_vpc(CidrBlock=r.inputs["cidrBlock"], TagSpecifications=tag_spec("vpc", r.tags()))["Vpc"]
    for attr in ("enableDnsHostnames", "enableDnsSupport"):
        if attr in r.inputs:
            ec2.modify_vpc_attribute(VpcId=v["VpcId"], **{attr[0].upper() + attr[1:]: {"Value": r.inputs[attr]}})
    default_sg = ec2.describe_security_groups(
        Filters=[{"Name": "vpc-id", "Values": [v["VpcId"]]}, {"Name": "group-name", "Values": ["default"]}]
    )["SecurityGroups"][0]["GroupId"]
    main_rt = ec2.describe_route_tables(
        Filters=[{"Name": "vpc-id", "Values": [v["VpcId"]]}, {"Name": "association.main", "Values": ["true"]}]
    )["RouteTables"][0]["RouteTableId"]
    return v["VpcId"], {
        "arn": ctx.arn("ec2", r.region, f"vpc/{v['VpcId']}"),
        "defaultSecurityGroupId": default_sg,
        "mainRouteTableId": main_rt,
        "ownerId": ctx.account_id,
    }


@resource("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup")
def default_security_group(ctx: Ctx, r: Res) -> Out:
    """Adopt the VPC's default group and make its rules exactly the declared ones."""
    ec2 = ctx.client("ec2", r.region)
    sg = ec2.describe_security_groups(
        Filters=[{"Name": "vpc-id", "Values": [r.inputs["vpcId"]]}, {"Name": "group-name", "Values": ["default"]}]
    )["SecurityGroups"][0]
    if sg.get("IpPermissions"):
        ec2.revoke_security_group_ingress(GroupId=sg["GroupId"], IpPermissions=sg["IpPermissions"])
    if sg.get("IpPermissionsEgress"):
        ec2.revoke_security_group_egress(GroupId=sg["GroupId"], IpPermissions=sg["IpPermissionsEgress"])
    if r.tags():
        ec2.create_tags(Resources=[sg["GroupId"]], Tags=tag_list(r.tags()))
    return sg["GroupId"], {"arn": ctx.arn("ec2", r.region, f"security-group/{sg['GroupId']}"), "name": "default"}


@resource("aws:ec2/internetGateway:InternetGateway")
def internet_gateway(ctx: Ctx, r: Res) -> Out:
    ec2 = ctx.client("ec2", r.region)
    igw = ec2.create_internet_gateway(TagSpecifications=tag_spec("internet-gateway", r.tags()))["InternetGateway"]
    if r.inputs.get("vpcId"):
        ec2.attach_internet_gateway(InternetGatewayId=igw["InternetGatewayId"], VpcId=r.inputs["vpcId"])
    return igw["InternetGatewayId"], {"arn": ctx.arn("ec2", r.region, f"internet-gateway/{igw['InternetGatewayId']}")}


@resource("aws:ec2/subnet:Subnet")
def subnet(ctx: Ctx, r: Res) -> Out:
    ec2 = ctx.client("ec2", r.region)
    kw: dict[str, Any] = {"VpcId": r.inputs["vpcId"], "CidrBlock": r.inputs["cidrBlock"]}
    if r.inputs.get("availabilityZone"):
        kw["AvailabilityZone"] = r.inputs["availabilityZone"]
    s = ec2.create_subnet(**kw, TagSpecifications=tag_spec("subnet", r.tags()))["Subnet"]
    if r.inputs.get("mapPublicIpOnLaunch"):
        ec2.modify_subnet_attribute(SubnetId=s["SubnetId"], MapPublicIpOnLaunch={"Value": True})
    return s["SubnetId"], {
        "arn": ctx.arn("ec2", r.region, f"subnet/{s['SubnetId']}"),
        "availabilityZone": s["AvailabilityZone"],
        "availabilityZoneId": s.get("AvailabilityZoneId"),
    }


@resource("aws:ec2/eip:Eip")
def eip(ctx: Ctx, r: Res) -> Out:
    ec2 = ctx.client("ec2", r.region)
    a = ec2.allocate_address(Domain=r.inputs.get("domain") or "vpc", TagSpecifications=tag_spec("elastic-ip", r.tags()))
    return a["AllocationId"], {
        "allocationId": a["AllocationId"],
        "publicIp": a["PublicIp"],
        "arn": ctx.arn("ec2", r.region, f"elastic-ip/{a['AllocationId']}"),
    }


@resource("aws:ec2/natGateway:NatGateway")
def nat_gateway(ctx: Ctx, r: Res) -> Out:
    ec2 = ctx.client("ec2", r.region)
    kw: dict[str, Any] = {"SubnetId": r.inputs["subnetId"],
                          "ConnectivityType": r.inputs.get("connectivityType") or "public"}
    if r.inputs.get("allocationId"):
        kw["AllocationId"] = r.inputs["allocationId"]
    n = ec2.create_nat_gateway(**kw, TagSpecifications=tag_spec("natgateway", r.tags()))["NatGateway"]
    addr = (n.get("NatGatewayAddresses") or [{}])[0]
    return n["NatGatewayId"], {"publicIp": addr.get("PublicIp"), "privateIp": addr.get("PrivateIp"),
                               "vpcId": n.get("VpcId")}


@resource("aws:ec2/routeTable:RouteTable")
def route_table(ctx: Ctx, r: Res) -> Out:
    ec2 = ctx.client("ec2", r.region)
    rt = ec2.create_route_table(VpcId=r.inputs["vpcId"], TagSpecifications=tag_spec("route-table", r.tags()))
    rt_id = rt["RouteTable"]["RouteTableId"]
    for route in r.inputs.get("routes") or []:
        _create_route(ec2, rt_id, route)
    return rt_id, {"arn": ctx.arn("ec2", r.region, f"route-table/{rt_id}"), "ownerId": ctx.account_id}


def _create_route(ec2: Any, rt_id: str, route: dict[str, Any]) -> None:
    kw: dict[str, Any] = {"RouteTableId": rt_id}
    mapping = {
        "destinationCidrBlock": "DestinationCidrBlock",
        "cidrBlock": "DestinationCidrBlock",
        "gatewayId": "GatewayId",
        "natGatewayId": "NatGatewayId",
        "vpcPeeringConnectionId": "VpcPeeringConnectionId",
        "transitGatewayId": "TransitGatewayId",
        "networkInterfaceId": "NetworkInterfaceId",
    }
    for k, wire in mapping.items():
        if route.get(k):
            kw[wire] = route[k]
    ec2.create_route(**kw)


@resource("aws:ec2/route:Route")
def route(ctx: Ctx, r: Res) -> Out:
    ec2 = ctx.client("ec2", r.region)
    _create_route(ec2, r.inputs["routeTableId"], r.inputs)
    return f"r-{r.inputs['routeTableId']}{abs(hash(r.inputs.get('destinationCidrBlock'))) % 10**9}", {}


@resource("aws:ec2/routeTableAssociation:RouteTableAssociation")
def route_table_association(ctx: Ctx, r: Res) -> Out:
    ec2 = ctx.client("ec2", r.region)
    kw = {"RouteTableId": r.inputs["routeTableId"]}
    if r.inputs.get("subnetId"):
        kw["SubnetId"] = r.inputs["subnetId"]
    if r.inputs.get("gatewayId"):
        kw["GatewayId"] = r.inputs["gatewayId"]
    assoc = ec2.associate_route_table(**kw)
    return assoc["AssociationId"], {}


@resource("aws:ec2/vpcEndpoint:VpcEndpoint")
def vpc_endpoint(ctx: Ctx, r: Res) -> Out:
    ec2 = ctx.client("ec2", r.region)
    kw: dict[str, Any] = {
        "VpcId": r.inputs["vpcId"],
        "ServiceName": r.inputs["serviceName"],
        "VpcEndpointType": r.inputs.get("vpcEndpointType") or "Gateway",
    }
    for k, wire in (("routeTableIds", "RouteTableIds"), ("subnetIds", "SubnetIds"),
                    ("securityGroupIds", "SecurityGroupIds")):
        if r.inputs.get(k):
            kw[wire] = r.inputs[k]
    if r.inputs.get("privateDnsEnabled") is not None and kw["VpcEndpointType"] == "Interface":
        kw["PrivateDnsEnabled"] = r.inputs["privateDnsEnabled"]
    ep = ec2.create_vpc_endpoint(**kw, TagSpecifications=tag_spec("vpc-endpoint", r.tags()))["VpcEndpoint"]
    return ep["VpcEndpointId"], {"arn": ctx.arn("ec2", r.region, f"vpc-endpoint/{ep['VpcEndpointId']}"),
                                 "state": ep.get("State"), "prefixListId": ep.get("PrefixListId") or "pl-63a5400a"}


@resource("aws:ec2/flowLog:FlowLog")
def flow_log(ctx: Ctx, r: Res) -> Out:
    ec2 = ctx.client("ec2", r.region)
    resource_id = r.inputs.get("vpcId") or r.inputs.get("subnetId") or r.inputs.get("eniId")
    rtype = "VPC" if r.inputs.get("vpcId") else "Subnet" if r.inputs.get("subnetId") else "NetworkInterface"
    kw: dict[str, Any] = {
        "ResourceIds": [resource_id],
        "ResourceType": rtype,
        "TrafficType": r.inputs.get("trafficType") or "ALL",
        "LogDestinationType": r.inputs.get("logDestinationType") or "cloud-watch-logs",
        "LogDestination": r.inputs["logDestination"],
    }
    if r.inputs.get("iamRoleArn"):
        kw["DeliverLogsPermissionArn"] = r.inputs["iamRoleArn"]
    if r.inputs.get("maxAggregationInterval"):
        kw["MaxAggregationInterval"] = r.inputs["maxAggregationInterval"]
    resp = ec2.create_flow_logs(**kw, TagSpecifications=tag_spec("vpc-flow-log", r.tags()))
    if resp.get("Unsuccessful"):
        raise ValueError(resp["Unsuccessful"][0]["Error"]["Message"])
    fl_id = resp["FlowLogIds"][0]
    return fl_id, {"arn": ctx.arn("ec2", r.region, f"vpc-flow-log/{fl_id}")}


@resource("aws:ec2/securityGroup:SecurityGroup")
def security_group(ctx: Ctx, r: Res) -> Out:
    ec2 = ctx.client("ec2", r.region)
    name = r.physical_name(max_len=255)
    sg = ec2.create_security_group(
        GroupName=name,
        Description=r.inputs.get("description") or "Managed by Pulumi",
        VpcId=r.inputs["vpcId"],
        TagSpecifications=tag_spec("security-group", r.tags()),
    )
    gid = sg["GroupId"]
    # The provider always removes AWS's default allow-all egress on create (only declared
    # rules remain, inline or as separate rule resources); so does the embedded cloud.
    current = ec2.describe_security_groups(GroupIds=[gid])["SecurityGroups"][0]
    if current.get("IpPermissionsEgress"):
        ec2.revoke_security_group_egress(GroupId=gid, IpPermissions=current["IpPermissionsEgress"])
    for rule in r.inputs.get("ingress") or []:
        ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=[_inline_rule(rule)])
    for rule in r.inputs.get("egress") or []:
        ec2.authorize_security_group_egress(GroupId=gid, IpPermissions=[_inline_rule(rule)])
    return gid, {"arn": ctx.arn("ec2", r.region, f"security-group/{gid}"), "name": name,
                 "ownerId": ctx.account_id}


def _inline_rule(rule: dict[str, Any]) -> dict[str, Any]:
    perm: dict[str, Any] = {"IpProtocol": str(rule.get("protocol", "-1"))}
    if perm["IpProtocol"] != "-1":
        perm["FromPort"] = rule.get("fromPort")
        perm["ToPort"] = rule.get("toPort")
    if rule.get("cidrBlocks"):
        perm["IpRanges"] = [{"CidrIp": c} for c in rule["cidrBlocks"]]
    if rule.get("securityGroups"):
        perm["UserIdGroupPairs"] = [{"GroupId": g} for g in rule["securityGroups"]]
    return perm


def rule_permission(r: Res) -> dict[str, Any]:
    proto = str(r.inputs.get("ipProtocol", "-1"))
    perm: dict[str, Any] = {"IpProtocol": proto}
    if proto not in ("-1", "all"):
        perm["FromPort"] = r.inputs.get("fromPort")
        perm["ToPort"] = r.inputs.get("toPort")
    else:
        perm["IpProtocol"] = "-1"
    desc = r.inputs.get("description")
    if r.inputs.get("cidrIpv4"):
        perm["IpRanges"] = [{"CidrIp": r.inputs["cidrIpv4"], **({"Description": desc} if desc else {})}]
    if r.inputs.get("cidrIpv6"):
        perm["Ipv6Ranges"] = [{"CidrIpv6": r.inputs["cidrIpv6"]}]
    if r.inputs.get("referencedSecurityGroupId"):
        perm["UserIdGroupPairs"] = [{"GroupId": r.inputs["referencedSecurityGroupId"]}]
    if r.inputs.get("prefixListId"):
        perm["PrefixListIds"] = [{"PrefixListId": r.inputs["prefixListId"]}]
    return perm


@resource("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
def ingress_rule(ctx: Ctx, r: Res) -> Out:
    ec2 = ctx.client("ec2", r.region)
    resp = ec2.authorize_security_group_ingress(GroupId=r.inputs["securityGroupId"],
                                                IpPermissions=[rule_permission(r)])
    rid = (resp.get("SecurityGroupRules") or [{}])[0].get("SecurityGroupRuleId") or f"sgr-{r.name}"
    return rid, {"securityGroupRuleId": rid, "arn": ctx.arn("ec2", r.region, f"security-group-rule/{rid}")}


@resource("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule")
def egress_rule(ctx: Ctx, r: Res) -> Out:
    ec2 = ctx.client("ec2", r.region)
    resp = ec2.authorize_security_group_egress(GroupId=r.inputs["securityGroupId"],
                                               IpPermissions=[rule_permission(r)])
    rid = (resp.get("SecurityGroupRules") or [{}])[0].get("SecurityGroupRuleId") or f"sgr-{r.name}"
    return rid, {"securityGroupRuleId": rid, "arn": ctx.arn("ec2", r.region, f"security-group-rule/{rid}")}
