"""Components room: the one hardened S3 bucket every component builds its buckets from.

`HardenedBucket` is a part, not a ComponentResource: its resources are children of the component
that owns the bucket (their URNs stay the owner's), named `<logical>-<what>`. Creating it makes
the bucket (guarded like every stateful resource of the owner), blocks public access and sets
the object ownership; the owner then adds, in the order its dependencies allow (a key policy
that names a distribution, a log target's policy): encryption (SSE-S3 or a KMS key),
versioning, a lifecycle (which always aborts incomplete multipart uploads), the bucket policy
(which always ends by denying insecure transport) and server access logs.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pulumi
import pulumi_aws as aws

from components.base import Component

# Parts of an interrupted upload are billed until aborted: every bucket aborts them after this.
ABORT_INCOMPLETE_UPLOADS_DAYS = 7


def deny_insecure_transport(bucket_arn: str) -> dict[str, Any]:
    """The statement refusing every request to the bucket or its objects that is not over TLS."""
    return {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [bucket_arn, f"{bucket_arn}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def with_abort_incomplete_uploads(rules: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """`rules`, aborting incomplete multipart uploads: in every rule that covers the whole bucket
    (an empty prefix) and lacks it, else in a rule of its own."""
    out: list[dict[str, Any]] = []
    covered = False
    abort = {"days_after_initiation": ABORT_INCOMPLETE_UPLOADS_DAYS}
    for rule in rules:
        rule = dict(rule)
        if rule.get("filter", {}).get("prefix") == "":
            rule.setdefault("abort_incomplete_multipart_upload", abort)
            covered = True
        out.append(rule)
    if not covered:
        out.append({"id": "abort-incomplete-uploads", "status": "Enabled", "filter": {"prefix": ""},
                    "abort_incomplete_multipart_upload": abort})
    return out


class HardenedBucket:
    """A private bucket owned by a component: created with its public-access block and ownership
    controls; encryption, versioning, lifecycle, policy and access logs added by the owner."""

    def __init__(self, owner: Component, logical: str, *, bucket_name: pulumi.Input[str],
                 force_destroy: bool, tags: Mapping[str, str], object_ownership: str = "BucketOwnerEnforced",
                 region_kw: Mapping[str, str] | None = None) -> None:
        self._owner, self.logical, self._kw = owner, logical, dict(region_kw or {})
        self.bucket = aws.s3.Bucket(logical, bucket=bucket_name, force_destroy=force_destroy, tags=dict(tags),
                                    opts=owner.stateful(), **self._kw)
        self.public_access_block = aws.s3.BucketPublicAccessBlock(
            f"{logical}-public-access",
            bucket=self.bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=owner.child(),
            **self._kw,
        )
        # BucketOwnerEnforced turns ACLs off; a bucket written through ACLs (CloudFront's standard
        # logs) needs ObjectWriter.
        self.ownership = aws.s3.BucketOwnershipControls(
            f"{logical}-ownership", bucket=self.bucket.id, rule={"object_ownership": object_ownership},
            opts=owner.child(), **self._kw,
        )

    @property
    def id(self) -> pulumi.Output[str]:
        return self.bucket.id

    @property
    def arn(self) -> pulumi.Output[str]:
        return self.bucket.arn

    def encrypt(self, kms_key_arn: pulumi.Input[str] | None = None, *,
                bucket_key: bool | None = None) -> aws.s3.BucketServerSideEncryptionConfiguration:
        """Default encryption: SSE-KMS with `kms_key_arn`, else SSE-S3; `bucket_key` (S3 Bucket Keys:
        fewer KMS calls) is stated only when given."""
        default: dict[str, Any] = ({"sse_algorithm": "aws:kms", "kms_master_key_id": kms_key_arn}
                                   if kms_key_arn is not None else {"sse_algorithm": "AES256"})
        rule: dict[str, Any] = {"apply_server_side_encryption_by_default": default}
        if bucket_key is not None:
            rule["bucket_key_enabled"] = bucket_key
        return aws.s3.BucketServerSideEncryptionConfiguration(
            f"{self.logical}-sse", bucket=self.bucket.id, rules=[rule], opts=self._owner.child(), **self._kw)

    def version(self) -> aws.s3.BucketVersioning:
        """Keep every version of every object."""
        return aws.s3.BucketVersioning(
            f"{self.logical}-versioning", bucket=self.bucket.id, versioning_configuration={"status": "Enabled"},
            opts=self._owner.child(), **self._kw)

    def lifecycle(self, rules: Sequence[Mapping[str, Any]], *,
                  depends_on: Sequence[pulumi.Resource] = ()) -> aws.s3.BucketLifecycleConfiguration:
        """The owner's expiry rules, and incomplete multipart uploads always aborted
        (`with_abort_incomplete_uploads`)."""
        return aws.s3.BucketLifecycleConfiguration(
            f"{self.logical}-lifecycle", bucket=self.bucket.id, rules=with_abort_incomplete_uploads(rules),
            opts=self._owner.child(depends_on=list(depends_on)),
            **self._kw)

    def policy(self, statements: Callable[..., list[dict[str, Any]]] | None = None, *,
               arn: pulumi.Input[str] | None = None, others: Sequence[pulumi.Input[str]] = (),
               depends_on: Sequence[pulumi.Resource] = ()) -> aws.s3.BucketPolicy:
        """The bucket policy: `statements(arn, *others)` (the owner's grants) followed by
        DenyInsecureTransport. `arn` is the bucket's (its output unless the owner knows it as a
        plain string: then the document is one too, and waits on nothing)."""
        arn = self.bucket.arn if arn is None else arn

        def document(values: Sequence[str]) -> str:
            granted = statements(*values) if statements is not None else []
            return json.dumps({"Version": "2012-10-17",
                               "Statement": [*granted, deny_insecure_transport(values[0])]})

        if isinstance(arn, str) and not others:
            policy: pulumi.Input[str] = document([arn])
        else:
            policy = pulumi.Output.all(arn, *others).apply(document)
        return aws.s3.BucketPolicy(
            f"{self.logical}-policy", bucket=self.bucket.id, policy=policy,
            opts=self._owner.child(depends_on=list(depends_on)),
            **self._kw)

    def access_logs(self, target: HardenedBucket, prefix: str, *,
                    depends_on: Sequence[pulumi.Resource] = ()) -> aws.s3.BucketLogging:
        """Server access logs into `target` under `prefix` (S3 refuses until the target's policy lets
        the logging service write: pass that policy in `depends_on`)."""
        return aws.s3.BucketLogging(
            f"{self.logical}-logging", bucket=self.bucket.id, target_bucket=target.id, target_prefix=prefix,
            opts=self._owner.child(depends_on=list(depends_on)),
            **self._kw)
