"""Embedded cloud room: ECR repositories and their lifecycle policies in moto (the bootstrap's app registry)."""

from __future__ import annotations

import json
from typing import Any

from embedded_cloud.handlers import Ctx, Out, Res, resource, tag_list


@resource("aws:ecr/repository:Repository")
def repository(ctx: Ctx, r: Res) -> Out:
    ecr = ctx.client("ecr", r.region)
    name = r.physical_name(max_len=256)
    kw: dict[str, Any] = {"repositoryName": name, "imageTagMutability": r.inputs.get("imageTagMutability") or "MUTABLE"}
    scan = r.inputs.get("imageScanningConfiguration")
    if scan:
        kw["imageScanningConfiguration"] = {"scanOnPush": bool(scan.get("scanOnPush"))}
    enc = (r.inputs.get("encryptionConfigurations") or [None])[0]
    if enc:
        kw["encryptionConfiguration"] = {"encryptionType": enc.get("encryptionType") or "AES256"}
        if enc.get("kmsKey"):
            # ECR creates a grant on the key when the repository is made: a key that does not exist
            # (or another region's) fails CreateRepository with KmsException.
            try:
                ctx.client("kms", r.region).describe_key(KeyId=enc["kmsKey"])
            except Exception as exc:
                raise ValueError(
                    f"KmsException: the repository's KMS key {enc['kmsKey']} is not usable in {r.region}: {exc}"
                ) from None
            kw["encryptionConfiguration"]["kmsKey"] = enc["kmsKey"]
    if r.tags():
        kw["tags"] = tag_list(r.tags())
    repo = ecr.create_repository(**kw)["repository"]
    return name, {
        "arn": repo["repositoryArn"],
        "name": name,
        "registryId": repo["registryId"],
        "repositoryUrl": repo["repositoryUri"],
    }


@resource("aws:ecr/lifecyclePolicy:LifecyclePolicy")
def lifecycle_policy(ctx: Ctx, r: Res) -> Out:
    ecr = ctx.client("ecr", r.region)
    policy = r.inputs["policy"]
    text = policy if isinstance(policy, str) else json.dumps(policy)
    # moto validates the rules as ECR does (selection, countType/countUnit, action).
    out = ecr.put_lifecycle_policy(repositoryName=r.inputs["repository"], lifecyclePolicyText=text)
    return r.inputs["repository"], {"registryId": out["registryId"]}
