"""Embedded cloud room: KMS keys and aliases in moto, in any region."""

from __future__ import annotations

from typing import Any

from stacks.offline.handlers import Ctx, Out, Res, resource, tag_list


@resource("aws:kms/key:Key")
def key(ctx: Ctx, r: Res) -> Out:
    kms = ctx.client("kms", r.region)
    kw: dict[str, Any] = {
        "Description": r.inputs.get("description") or "",
        "KeyUsage": r.inputs.get("keyUsage") or "ENCRYPT_DECRYPT",
        "KeySpec": r.inputs.get("customerMasterKeySpec") or "SYMMETRIC_DEFAULT",
        "MultiRegion": bool(r.inputs.get("multiRegion")),
    }
    if r.inputs.get("policy"):
        kw["Policy"] = r.inputs["policy"]
    if r.tags():
        kw["Tags"] = [{"TagKey": t["Key"], "TagValue": t["Value"]} for t in tag_list(r.tags())]
    meta = kms.create_key(**kw)["KeyMetadata"]
    if r.inputs.get("enableKeyRotation"):
        kms.enable_key_rotation(KeyId=meta["KeyId"])
    return meta["KeyId"], {"arn": meta["Arn"], "keyId": meta["KeyId"]}


@resource("aws:kms/alias:Alias")
def alias(ctx: Ctx, r: Res) -> Out:
    kms = ctx.client("kms", r.region)
    name = r.physical_name(max_len=256)
    if not name.startswith("alias/"):
        name = f"alias/{name}"
    kms.create_alias(AliasName=name, TargetKeyId=r.inputs["targetKeyId"])
    return name, {"name": name, "arn": ctx.arn("kms", r.region, name)}
