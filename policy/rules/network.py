"""Policy room: security-group guardrails.

Ingress from anywhere (0.0.0.0/0 or ::/0) is allowed only on the load-balancer ports
80 and 443 over TCP. All three ways to write a rule are judged: inline `ingress` blocks,
aws:ec2/securityGroupRule (type ingress) and aws:vpc/securityGroupIngressRule.
"""

from __future__ import annotations

from typing import Any

from policy.core import Ctx, get, is_unknown, items, number, resource_rule

SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
DEFAULT_SECURITY_GROUP = "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"
SG_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"

WORLD = ("0.0.0.0/0", "::/0")
LB_PORTS = (80, 443)


def _world_violation(where: str, cidrs: list[Any], protocol: Any, from_port: Any, to_port: Any) -> str | None:
    open_ = [c for c in cidrs if c in WORLD]
    if not open_:
        return None
    if is_unknown(protocol) or is_unknown(from_port) or is_unknown(to_port):
        return None
    proto = str(protocol).lower()
    lo, hi = number(from_port), number(to_port)
    if proto in ("tcp", "6") and lo is not None and lo == hi and int(lo) in LB_PORTS:
        return None
    ports = "all ports" if proto in ("-1", "all") else f"{proto} {from_port}-{to_port}"
    return f"{where} admits {', '.join(open_)} on {ports}; only tcp 80/443 may be open to the world"


@resource_rule(
    "sg-no-world-ingress",
    types=[SECURITY_GROUP, DEFAULT_SECURITY_GROUP, SG_RULE, INGRESS_RULE],
    description="No security group admits the whole internet except on load-balancer ports tcp/80 and tcp/443.",
    severity="critical",
    remediation="Replace 0.0.0.0/0 with the source security group (referenced_security_group_id) or the "
    "VPC/operator CIDRs; only the load balancer's listener ports may face the internet.",
)
def no_world_ingress(props: dict[str, Any], ctx: Ctx) -> list[str]:
    out = []
    if "ingress" in props or "egress" in props:  # a SecurityGroup with inline rules
        for i, rule in enumerate(items(props.get("ingress"))):
            cidrs = [*items(get(rule, "cidrBlocks")), *items(get(rule, "ipv6CidrBlocks"))]
            msg = _world_violation(f"ingress[{i}]", cidrs, get(rule, "protocol"), get(rule, "fromPort"),
                                   get(rule, "toPort"))
            if msg:
                out.append(msg)
    if props.get("type") == "ingress":  # aws:ec2/securityGroupRule
        cidrs = [*items(props.get("cidrBlocks")), *items(props.get("ipv6CidrBlocks"))]
        msg = _world_violation("rule", cidrs, props.get("protocol"), props.get("fromPort"), props.get("toPort"))
        if msg:
            out.append(msg)
    if "ipProtocol" in props:  # aws:vpc/securityGroupIngressRule
        cidrs = [c for c in (props.get("cidrIpv4"), props.get("cidrIpv6")) if isinstance(c, str)]
        msg = _world_violation("ingress rule", cidrs, props.get("ipProtocol"), props.get("fromPort"),
                               props.get("toPort"))
        if msg:
            out.append(msg)
    return out
