"""Embedded cloud room: data sources (invokes) answered from moto."""

from __future__ import annotations

import json
from typing import Any

from embedded_cloud.handlers import Ctx, invoke


@invoke("aws:index/getAvailabilityZones:getAvailabilityZones")
def availability_zones(ctx: Ctx, args: dict[str, Any], region: str) -> dict[str, Any]:
    """The region's zones as this account sees them: moto's, with the account's own name -> ID
    mapping where the run was given one (`zone_ids`), less what the program excludes."""
    filters = [{"Name": "state", "Values": [args["state"]]}] if args.get("state") else []
    zones = ctx.client("ec2", region).describe_availability_zones(Filters=filters)["AvailabilityZones"]
    zones = [{**z, "ZoneId": ctx.zone_id(z["ZoneName"], z["ZoneId"])} for z in zones]
    zones = [z for z in zones if z["ZoneName"] not in (args.get("excludeNames") or [])
             and z["ZoneId"] not in (args.get("excludeZoneIds") or [])]
    zones.sort(key=lambda z: z["ZoneName"])
    return {
        "id": region,
        "names": [z["ZoneName"] for z in zones],
        "zoneIds": [z["ZoneId"] for z in zones],
        "groupNames": [z.get("GroupName", region) for z in zones],
        "region": region,
    }


@invoke("aws:index/getCallerIdentity:getCallerIdentity", pure=True)
def caller_identity(ctx: Ctx, args: dict[str, Any], region: str) -> dict[str, Any]:
    who = ctx.client("sts", region).get_caller_identity()
    return {"accountId": who["Account"], "arn": who["Arn"], "userId": who["UserId"], "id": who["Account"]}


@invoke("aws:index/getRegion:getRegion", pure=True)
def get_region(ctx: Ctx, args: dict[str, Any], region: str) -> dict[str, Any]:
    name = args.get("region") or region
    regions = ctx.client("ec2", region).describe_regions(RegionNames=[name])["Regions"]
    return {
        "id": name,
        "name": name,
        "region": name,
        "endpoint": regions[0]["Endpoint"],
        "description": name,
    }


@invoke("aws:index/getPartition:getPartition", pure=True)
def get_partition(ctx: Ctx, args: dict[str, Any], region: str) -> dict[str, Any]:
    return {"id": "aws", "partition": "aws", "dnsSuffix": "amazonaws.com", "reverseDnsPrefix": "com.amazonaws"}


def _principals(items: list[dict[str, Any]] | None) -> dict[str, Any] | None:
    if not items:
        return None
    out: dict[str, Any] = {}
    for p in items:
        ids = p.get("identifiers") or []
        out[p["type"]] = ids[0] if len(ids) == 1 else sorted(ids)
    return out


def _one_or_many(v: list[str] | None) -> Any:
    if not v:
        return None
    return v[0] if len(v) == 1 else v


@invoke("aws:iam/getPolicyDocument:getPolicyDocument")
def policy_document(ctx: Ctx, args: dict[str, Any], region: str) -> dict[str, Any]:
    """Render the document as the provider does (the same JSON shape IAM accepts)."""
    doc: dict[str, Any] = {"Version": args.get("version") or "2012-10-17", "Statement": []}
    for st in args.get("statements") or []:
        out: dict[str, Any] = {}
        if st.get("sid"):
            out["Sid"] = st["sid"]
        out["Effect"] = st.get("effect") or "Allow"
        for key, wire in (("actions", "Action"), ("notActions", "NotAction"),
                          ("resources", "Resource"), ("notResources", "NotResource")):
            if st.get(key):
                out[wire] = _one_or_many(st[key])
        if st.get("principals"):
            principals = _principals(st["principals"])
            out["Principal"] = "*" if principals == {"*": "*"} else principals
        if st.get("notPrincipals"):
            out["NotPrincipal"] = _principals(st["notPrincipals"])
        if st.get("conditions"):
            cond: dict[str, Any] = {}
            for c in st["conditions"]:
                cond.setdefault(c["test"], {})[c["variable"]] = _one_or_many(c["values"])
            out["Condition"] = cond
        doc["Statement"].append(out)
    text = json.dumps(doc, indent=2)
    return {"id": str(abs(hash(text))), "json": text, "minifiedJson": json.dumps(doc, separators=(",", ":"))}
