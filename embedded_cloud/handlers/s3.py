"""Embedded cloud room: S3 buckets and their configuration resources in moto.

pulumi-aws v7 splits a bucket into one resource per concern (public access block,
ownership, ACL, encryption, versioning, lifecycle, policy); each handler applies its
piece to the moto bucket so that `s3.get_*` answers what the program declared.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from embedded_cloud.handlers import Ctx, Out, Res, invoke, resource, tag_list

# S3 website/alias hosted zone of us-east-1 buckets; other regions have their own (unused here).
_S3_ZONE = "Z3AQBSTGFYJSTF"


def _one(v: Any) -> Any:
    """A nested block as an object, whether the wire carried it as an object or a 1-list."""
    if isinstance(v, list):
        return v[0] if v else None
    return v


@resource("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
def bucket(ctx: Ctx, r: Res) -> Out:
    s3 = ctx.client("s3", r.region)
    name = r.physical_name("bucket", max_len=63).lower()
    kw: dict[str, Any] = {"Bucket": name}
    if r.region != "us-east-1":
        kw["CreateBucketConfiguration"] = {"LocationConstraint": r.region}
    if r.inputs.get("objectLockEnabled"):
        kw["ObjectLockEnabledForBucket"] = True
    s3.create_bucket(**kw)
    if r.tags():
        s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": tag_list(r.tags())})
    return name, {
        "bucket": name,
        "arn": f"arn:aws:s3:::{name}",
        "bucketDomainName": f"{name}.s3.amazonaws.com",
        "bucketRegionalDomainName": f"{name}.s3.{r.region}.amazonaws.com",
        "region": r.region,
        "hostedZoneId": _S3_ZONE,
    }


@resource("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
def public_access_block(ctx: Ctx, r: Res) -> Out:
    keys = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    ctx.client("s3", r.region).put_public_access_block(
        Bucket=r.inputs["bucket"],
        PublicAccessBlockConfiguration={k[0].upper() + k[1:]: bool(r.inputs.get(k)) for k in keys},
    )
    return r.inputs["bucket"], {}


@resource("aws:s3/bucketOwnershipControls:BucketOwnershipControls")
def ownership_controls(ctx: Ctx, r: Res) -> Out:
    rule = _one(r.inputs["rule"])
    ctx.client("s3", r.region).put_bucket_ownership_controls(
        Bucket=r.inputs["bucket"],
        OwnershipControls={"Rules": [{"ObjectOwnership": rule["objectOwnership"]}]},
    )
    return r.inputs["bucket"], {}


@resource("aws:s3/bucketAcl:BucketAcl", "aws:s3/bucketAclV2:BucketAclV2")
def bucket_acl(ctx: Ctx, r: Res) -> Out:
    s3 = ctx.client("s3", r.region)
    policy = _one(r.inputs.get("accessControlPolicy"))
    if policy:
        grants = []
        for g in policy.get("grants") or []:
            grantee = _one(g["grantee"])
            wire: dict[str, Any] = {"Type": grantee["type"]}
            if grantee.get("id"):
                wire["ID"] = grantee["id"]
            if grantee.get("uri"):
                wire["URI"] = grantee["uri"]
            grants.append({"Grantee": wire, "Permission": g["permission"]})
        owner = _one(policy["owner"])
        s3.put_bucket_acl(Bucket=r.inputs["bucket"],
                          AccessControlPolicy={"Grants": grants, "Owner": {"ID": owner["id"]}})
    else:
        s3.put_bucket_acl(Bucket=r.inputs["bucket"], ACL=r.inputs.get("acl") or "private")
    return r.inputs["bucket"], {}


@resource(
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
)
def encryption(ctx: Ctx, r: Res) -> Out:
    rules = []
    for rule in r.inputs["rules"]:
        default = _one(rule.get("applyServerSideEncryptionByDefault")) or {}
        wire: dict[str, Any] = {
            "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": default.get("sseAlgorithm", "AES256")}
        }
        if default.get("kmsMasterKeyId"):
            wire["ApplyServerSideEncryptionByDefault"]["KMSMasterKeyID"] = default["kmsMasterKeyId"]
        if rule.get("bucketKeyEnabled") is not None:
            wire["BucketKeyEnabled"] = bool(rule["bucketKeyEnabled"])
        rules.append(wire)
    ctx.client("s3", r.region).put_bucket_encryption(
        Bucket=r.inputs["bucket"], ServerSideEncryptionConfiguration={"Rules": rules}
    )
    return r.inputs["bucket"], {}


@resource("aws:s3/bucketVersioning:BucketVersioning", "aws:s3/bucketVersioningV2:BucketVersioningV2")
def versioning(ctx: Ctx, r: Res) -> Out:
    conf = _one(r.inputs["versioningConfiguration"])
    ctx.client("s3", r.region).put_bucket_versioning(
        Bucket=r.inputs["bucket"], VersioningConfiguration={"Status": conf["status"]}
    )
    return r.inputs["bucket"], {}


def _lifecycle_rule(rule: dict[str, Any]) -> dict[str, Any]:
    wire: dict[str, Any] = {"ID": rule["id"], "Status": rule["status"]}
    flt = _one(rule.get("filter"))
    wire["Filter"] = {"Prefix": flt.get("prefix") or ""} if flt else {"Prefix": rule.get("prefix") or ""}
    exp = _one(rule.get("expiration"))
    if exp and exp.get("days"):
        wire["Expiration"] = {"Days": int(exp["days"])}
    nce = _one(rule.get("noncurrentVersionExpiration"))
    if nce:
        wire["NoncurrentVersionExpiration"] = {"NoncurrentDays": int(nce["noncurrentDays"])}
        if nce.get("newerNoncurrentVersions"):
            wire["NoncurrentVersionExpiration"]["NewerNoncurrentVersions"] = int(nce["newerNoncurrentVersions"])
    abort = _one(rule.get("abortIncompleteMultipartUpload"))
    if abort:
        wire["AbortIncompleteMultipartUpload"] = {"DaysAfterInitiation": int(abort["daysAfterInitiation"])}
    return wire


@resource(
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
    "aws:s3/bucketLifecycleConfigurationV2:BucketLifecycleConfigurationV2",
)
def lifecycle(ctx: Ctx, r: Res) -> Out:
    ctx.client("s3", r.region).put_bucket_lifecycle_configuration(
        Bucket=r.inputs["bucket"],
        LifecycleConfiguration={"Rules": [_lifecycle_rule(rule) for rule in r.inputs["rules"]]},
    )
    return r.inputs["bucket"], {}


@resource("aws:s3/bucketLogging:BucketLogging", "aws:s3/bucketLoggingV2:BucketLoggingV2")
def bucket_logging(ctx: Ctx, r: Res) -> Out:
    """Server access logging; moto checks that the target bucket exists and lets S3 write to it."""
    ctx.client("s3", r.region).put_bucket_logging(
        Bucket=r.inputs["bucket"],
        BucketLoggingStatus={"LoggingEnabled": {"TargetBucket": r.inputs["targetBucket"],
                                                "TargetPrefix": r.inputs.get("targetPrefix") or ""}},
    )
    return r.inputs["bucket"], {}


@resource("aws:s3/bucketPolicy:BucketPolicy")
def bucket_policy(ctx: Ctx, r: Res) -> Out:
    policy = r.inputs["policy"]
    if not isinstance(policy, str):
        policy = json.dumps(policy)
    ctx.client("s3", r.region).put_bucket_policy(Bucket=r.inputs["bucket"], Policy=policy)
    return r.inputs["bucket"], {}


@invoke("aws:s3/getCanonicalUserId:getCanonicalUserId")
def canonical_user_id(ctx: Ctx, args: dict[str, Any], region: str) -> dict[str, Any]:
    owner = ctx.client("s3", region).list_buckets()["Owner"]
    return {"id": owner["ID"], "displayName": owner.get("DisplayName", "")}


@resource("aws:s3/bucketObjectv2:BucketObjectv2", "aws:s3/bucketObject:BucketObject")
def bucket_object(ctx: Ctx, r: Res) -> Out:
    """The object put into its bucket (moto checks the bucket exists), its bytes from the asset or `content`."""
    i = r.inputs
    source = i.get("source")
    if source is not None and hasattr(source, "path"):
        body = Path(source.path).read_bytes()
    elif source is not None and hasattr(source, "text"):
        body = source.text.encode()
    else:
        body = str(i.get("content") or "").encode()
    kw: dict[str, Any] = {"Bucket": i["bucket"], "Key": i["key"], "Body": body}
    if i.get("serverSideEncryption"):
        kw["ServerSideEncryption"] = i["serverSideEncryption"]
    if i.get("kmsKeyId"):
        kw["SSEKMSKeyId"] = i["kmsKeyId"]
    if i.get("contentType"):
        kw["ContentType"] = i["contentType"]
    if r.tags():
        kw["Tagging"] = "&".join(f"{k}={v}" for k, v in r.tags().items())
    put = ctx.client("s3", r.region).put_object(**kw)
    return str(i["key"]), {"etag": put["ETag"].strip('"'), "versionId": put.get("VersionId") or "",
                           "arn": f"arn:aws:s3:::{i['bucket']}/{i['key']}"}
