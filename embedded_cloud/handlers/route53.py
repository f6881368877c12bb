"""Embedded cloud room: Route 53 in moto -- the account's public zones, records, and the DNS
validation that ACM waits for.

A stack does not own its zone (it is created and delegated once, per account): `seed_zones`
creates the zones a stack's config names before the run, standing in for that prerequisite,
and `getZone` answers from moto as the provider's data source does (and fails the same way when
the zone is absent). Records are written into moto, so tests can resolve what a stack publishes.
A certificate's validation passes only when its validation record exists in a zone: for real,
the provider would otherwise wait out its 75-minute timeout for an ISSUED that never comes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from embedded_cloud.handlers import Ctx, Out, Res, invoke, resource


def _dot(name: str) -> str:
    return name if name.endswith(".") else name + "."


def _undot(name: str) -> str:
    return name[:-1] if name.endswith(".") else name


def zones(ctx: Ctx) -> list[dict[str, Any]]:
    return ctx.client("route53", "us-east-1").list_hosted_zones()["HostedZones"]


def zone_by_name(ctx: Ctx, name: str, private: bool = False) -> dict[str, Any] | None:
    for z in zones(ctx):
        if z["Name"] == _dot(name) and bool(z.get("Config", {}).get("PrivateZone")) == private:
            return z
    return None


def seed_zones(ctx: Ctx, config: Mapping[str, Any]) -> list[str]:
    """Create the public zones `berth:dns.zone` names, as an account would already hold them."""
    zone = (config.get("berth:dns") or {}).get("zone") if isinstance(config.get("berth:dns"), Mapping) else None
    if not isinstance(zone, str) or zone_by_name(ctx, zone) is not None:
        return []
    ctx.client("route53", "us-east-1").create_hosted_zone(Name=zone, CallerReference=f"berth-seed-{zone}")
    return [zone]


@invoke("aws:route53/getZone:getZone")
def get_zone(ctx: Ctx, args: dict[str, Any], region: str) -> dict[str, Any]:
    name = args.get("name")
    z = None
    if args.get("zoneId"):
        z = next((x for x in zones(ctx) if x["Id"].rsplit("/", 1)[-1] == args["zoneId"]), None)
    elif isinstance(name, str):
        z = zone_by_name(ctx, name, bool(args.get("privateZone")))
    if z is None:
        # The provider's own words when the lookup finds nothing.
        raise ValueError(f"no matching Route 53 Hosted Zone found (name {name!r}): the zone is a prerequisite "
                         "of the stack -- create and delegate it first")
    zone_id = z["Id"].rsplit("/", 1)[-1]
    return {"id": zone_id, "zoneId": zone_id, "name": _undot(z["Name"]), "privateZone": False,
            "arn": f"arn:aws:route53:::hostedzone/{zone_id}", "nameServers": [],
            "resourceRecordSetCount": z.get("ResourceRecordSetCount", 0), "comment": "", "callerReference": "",
            "tags": {}, "linkedServiceDescription": "", "linkedServicePrincipal": "", "primaryNameServer": ""}


@resource("aws:route53/record:Record")
def record(ctx: Ctx, r: Res) -> Out:
    r53 = ctx.client("route53", "us-east-1")
    zone_id = str(r.inputs["zoneId"])
    zone = next((z for z in zones(ctx) if z["Id"].rsplit("/", 1)[-1] == zone_id), None)
    if zone is None:
        raise ValueError(f"no hosted zone {zone_id}")
    name = str(r.inputs["name"])
    fqdn = _undot(name) if _undot(name).endswith(_undot(zone["Name"])) else f"{_undot(name)}.{_undot(zone['Name'])}"
    rrset: dict[str, Any] = {"Name": _dot(fqdn), "Type": r.inputs["type"]}
    if r.inputs.get("aliases"):
        alias = r.inputs["aliases"][0]
        rrset["AliasTarget"] = {"HostedZoneId": alias["zoneId"], "DNSName": alias["name"],
                                "EvaluateTargetHealth": bool(alias.get("evaluateTargetHealth"))}
    else:
        rrset["TTL"] = int(r.inputs.get("ttl") or 300)
        rrset["ResourceRecords"] = [{"Value": v} for v in r.inputs.get("records") or []]
    existing = [x for x in r53.list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]
                if x["Name"] == rrset["Name"] and x["Type"] == rrset["Type"]]
    if existing and not r.inputs.get("allowOverwrite"):
        # What Route 53 answers to a CREATE of a name that is taken (the provider's default).
        raise ValueError(f"InvalidChangeBatch: Tried to create resource record set [name='{rrset['Name']}', "
                         f"type='{rrset['Type']}'] but it already exists")
    r53.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={
        "Changes": [{"Action": "UPSERT", "ResourceRecordSet": rrset}]})
    return f"{zone_id}_{fqdn}_{rrset['Type']}", {"fqdn": fqdn, "name": fqdn}


def published(ctx: Ctx, name: str, type_: str) -> list[str]:
    """The values of a record published in any zone of the account."""
    r53 = ctx.client("route53", "us-east-1")
    out: list[str] = []
    for z in zones(ctx):
        for rr in r53.list_resource_record_sets(HostedZoneId=z["Id"])["ResourceRecordSets"]:
            if rr["Name"] == _dot(name) and rr["Type"] == type_:
                out += [v["Value"] for v in rr.get("ResourceRecords", [])]
    return out
