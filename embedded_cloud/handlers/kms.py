"""Embedded cloud room: KMS keys and aliases in moto, in any region.

Lazy pulumi/moto imports here: see embedded_cloud/__init__.py.
"""

from __future__ import annotations

import functools
from typing import Any

from embedded_cloud.handlers import Ctx, Out, Res, resource, tag_list


def teach_moto() -> None:
    """Stop moto generating an RSA-2048 key pair for every symmetric key (idempotent).

    moto builds a signing key for each CreateKey whatever its spec; symmetric keys never sign,
    and ten of them cost over half a second of a prod run. They now share one key pair, made
    on first use; asymmetric specs still get their own. Runs where moto runs (in-process or
    the server process imports every handler module).
    """

    from moto.kms import models

    if getattr(models.generate_private_key, "_berth_shared", False):
        return
    original = models.generate_private_key
    shared = functools.lru_cache(maxsize=1)(lambda: original("SYMMETRIC_DEFAULT"))

    def generate(key_spec: str) -> Any:
        if key_spec in ("SYMMETRIC_DEFAULT", "HMAC_224", "HMAC_256", "HMAC_384", "HMAC_512"):
            return shared()
        return original(key_spec)

    generate._berth_shared = True  # type: ignore[attr-defined]
    models.generate_private_key = generate  # type: ignore[assignment]


def teach_moto_aws_managed_ebs_key() -> None:
    """The `aws/ebs` key EC2 makes on the first encrypted volume is AWS managed (idempotent).

    moto creates it as a customer key; on AWS it is `KeyManager: AWS`, nobody's to delete, and
    a tear-down that lists what is left must not find it (the node group's instances create it).
    """
    from moto.ec2.models import elastic_block_store as ebs
    from moto.kms import kms_backends

    original = ebs.EBSBackend._create_default_encryption_key
    if getattr(original, "_berth_aws_managed", False):
        return

    def create(self: Any) -> str:
        arn = original(self)
        kms_backends[self.account_id][self.region_name].describe_key(arn).key_manager = "AWS"  # type: ignore[attr-defined]
        return arn

    create._berth_aws_managed = True  # type: ignore[attr-defined]
    ebs.EBSBackend._create_default_encryption_key = create  # type: ignore[method-assign]


teach_moto()
teach_moto_aws_managed_ebs_key()


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
