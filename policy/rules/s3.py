"""Policy room: S3 guardrails.

pulumi-aws v7 configures a bucket through companion resources (public access block,
encryption, versioning) that name the bucket in their `bucket` input, so these are stack
rules: a bucket passes when a companion points at it, by value or by property dependency.
"""

from __future__ import annotations

from policy.core import Ctx, Finding, Resource, StackView, get, is_unknown, items, stack_rule, truthy

BUCKETS = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
ENCRYPTION = (
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
)
VERSIONING = ("aws:s3/bucketVersioning:BucketVersioning", "aws:s3/bucketVersioningV2:BucketVersioningV2")
BUCKET_LOGGING = ("aws:s3/bucketLogging:BucketLogging", "aws:s3/bucketLoggingV2:BucketLoggingV2")
DISTRIBUTION = "aws:cloudfront/distribution:Distribution"
LOG_DESTINATION = "aws:cloudwatch/logDeliveryDestination:LogDeliveryDestination"
CANARY = "aws:synthetics/canary:Canary"

PAB_FLAGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")


def points_at(companion: Resource, target: Resource, key: str = "bucket") -> bool | None:
    """True when companion.key names target; None when the value is unknown (cannot judge)."""
    value = companion.prop(key)
    if companion.depends_on(target, key):
        return True
    if is_unknown(value):
        return None
    if not isinstance(value, str):
        return False
    names = target.identifiers()
    return value in names or any(value.startswith(f"{n}.s3.") for n in names) or any(
        value == f"arn:aws:s3:::{n}" for n in names
    )


def companions(stack: StackView, bucket: Resource, types: tuple[str, ...] | str) -> tuple[list[Resource], bool]:
    """Companions of a bucket among `types`, and whether some companion's target is unknown."""
    found, unknown = [], False
    for c in stack.of_type(*((types,) if isinstance(types, str) else types)):
        hit = points_at(c, bucket)
        if hit:
            found.append(c)
        elif hit is None:
            unknown = True
    return found, unknown


@stack_rule(
    "s3-public-access-blocked",
    types=[*BUCKETS, PUBLIC_ACCESS_BLOCK],
    description="Every bucket has a public access block with all four settings on.",
    severity="critical",
    remediation="Add an aws.s3.BucketPublicAccessBlock for the bucket with block_public_acls, "
    "block_public_policy, ignore_public_acls and restrict_public_buckets all True.",
)
def public_access_blocked(stack: StackView, ctx: Ctx) -> list[Finding]:
    out: list[Finding] = []
    for bucket in stack.of_type(*BUCKETS):
        blocks, unknown = companions(stack, bucket, PUBLIC_ACCESS_BLOCK)
        if not blocks:
            if not unknown:
                out.append((bucket.urn, f"bucket {bucket.name} has no public access block"))
            continue
        for block in blocks:
            off = [f for f in PAB_FLAGS if truthy(block.prop(f)) is False or block.prop(f) is None]
            if off:
                out.append((block.urn, f"bucket {bucket.name}: public access block leaves {', '.join(off)} off"))
    return out


def _inline_encryption(bucket: Resource) -> bool:
    algo = bucket.prop("serverSideEncryptionConfiguration", "rule", "applyServerSideEncryptionByDefault",
                       "sseAlgorithm")
    return isinstance(algo, str) and bool(algo)


@stack_rule(
    "s3-encryption",
    types=[*BUCKETS, *ENCRYPTION],
    description="Every bucket declares default server-side encryption (SSE-KMS or SSE-S3).",
    severity="high",
    remediation="Add an aws.s3.BucketServerSideEncryptionConfiguration with sse_algorithm 'aws:kms' "
    "(and a customer key) or 'AES256'.",
)
def encryption(stack: StackView, ctx: Ctx) -> list[Finding]:
    out: list[Finding] = []
    for bucket in stack.of_type(*BUCKETS):
        if _inline_encryption(bucket):
            continue
        confs, unknown = companions(stack, bucket, ENCRYPTION)
        if not confs:
            if not unknown:
                out.append((bucket.urn, f"bucket {bucket.name} declares no server-side encryption"))
            continue
        for conf in confs:
            rules = items(conf.prop("rules"))
            algos = [get(r, "applyServerSideEncryptionByDefault", "sseAlgorithm") for r in rules]
            if rules and not any(is_unknown(a) or a in ("aws:kms", "aws:kms:dsse", "AES256") for a in algos):
                out.append((conf.urn, f"bucket {bucket.name}: encryption rules set no sseAlgorithm"))
            elif not rules and not is_unknown(conf.prop("rules")):
                out.append((conf.urn, f"bucket {bucket.name}: encryption configuration has no rules"))
    return out


def log_buckets(stack: StackView) -> set[str]:
    """URNs of buckets that only receive logs (versioning them buys nothing)."""
    out: set[str] = set()
    refs: list[tuple[Resource, str]] = [(b, "targetBucket") for b in stack.of_type(*BUCKET_LOGGING)]
    for bucket in stack.of_type(*BUCKETS):
        names = bucket.identifiers()
        for ref, key in refs:
            if points_at(ref, bucket, key):
                out.add(bucket.urn)
        for dist in stack.of_type(DISTRIBUTION):
            target = dist.prop("loggingConfig", "bucket")
            if isinstance(target, str) and any(target == n or target.startswith(f"{n}.s3") for n in names):
                out.add(bucket.urn)
        # A Synthetics canary's artifact bucket receives the canary's screenshots and logs.
        for canary in stack.of_type(CANARY):
            loc = canary.prop("artifactS3Location")
            if canary.depends_on(bucket, "artifactS3Location") or (isinstance(loc, str) and any(
                    loc.startswith(f"s3://{n}/") or loc == f"s3://{n}" for n in names)):
                out.add(bucket.urn)
        for dest in stack.of_type(LOG_DESTINATION):
            arn = dest.prop("deliveryDestinationConfiguration", "destinationResourceArn")
            if dest.depends_on(bucket) or (isinstance(arn, str) and any(arn.endswith(f":::{n}") or
                                                                          f":::{n}/" in arn for n in names)):
                out.add(bucket.urn)
    return out


def _inline_versioning(bucket: Resource) -> bool:
    return truthy(bucket.prop("versioning", "enabled")) is True


@stack_rule(
    "s3-versioning",
    types=[*BUCKETS, *VERSIONING],
    description="Stateful buckets (every bucket that is not a log destination) keep object versions.",
    severity="medium",
    remediation="Add an aws.s3.BucketVersioning with versioning_configuration.status='Enabled' "
    "(and a lifecycle rule expiring noncurrent versions).",
)
def versioning(stack: StackView, ctx: Ctx) -> list[Finding]:
    out: list[Finding] = []
    logs = log_buckets(stack)
    for bucket in stack.of_type(*BUCKETS):
        if bucket.urn in logs or _inline_versioning(bucket):
            continue
        confs, unknown = companions(stack, bucket, VERSIONING)
        statuses = [c.prop("versioningConfiguration", "status") for c in confs]
        if any(is_unknown(s) or s == "Enabled" for s in statuses) or (not confs and unknown):
            continue
        shown = ", ".join(repr(s) for s in statuses) if statuses else "no BucketVersioning"
        out.append((bucket.urn, f"bucket {bucket.name} holds state but versioning is not Enabled ({shown})"))
    return out


LIFECYCLE = ("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
             "aws:s3/bucketLifecycleConfigurationV2:BucketLifecycleConfigurationV2")


@stack_rule(
    "s3-access-logging",
    types=[*BUCKETS, *BUCKET_LOGGING],
    description="Stateful buckets (every bucket that is not itself a log destination) write server access logs.",
    severity="medium",
    remediation="Add an aws.s3.BucketLogging pointing the bucket at the stack's log bucket (with a prefix), and "
    "let logging.s3.amazonaws.com write there in the log bucket's policy.",
)
def access_logging(stack: StackView, ctx: Ctx) -> list[Finding]:
    out: list[Finding] = []
    logs = log_buckets(stack)
    for bucket in stack.of_type(*BUCKETS):
        if bucket.urn in logs or has_inline_logging(bucket):
            continue
        confs, unknown = companions(stack, bucket, BUCKET_LOGGING)
        if not confs and not unknown:
            out.append((bucket.urn, f"bucket {bucket.name} holds state but writes no server access logs"))
    return out


def has_inline_logging(bucket: Resource) -> bool:
    target = bucket.prop("logging", "targetBucket")
    return isinstance(target, str) and bool(target)


@stack_rule(
    "s3-abort-incomplete-multipart",
    types=[*BUCKETS, *LIFECYCLE],
    description="Every bucket aborts incomplete multipart uploads (their parts are billed until aborted).",
    severity="low",
    remediation="Add a lifecycle rule with abort_incomplete_multipart_upload.days_after_initiation (e.g. 7) "
    "covering the whole bucket.",
)
def abort_incomplete_multipart(stack: StackView, ctx: Ctx) -> list[Finding]:
    out: list[Finding] = []
    for bucket in stack.of_type(*BUCKETS):
        confs, unknown = companions(stack, bucket, LIFECYCLE)
        rules = [r for c in confs for r in items(c.prop("rules"))]
        if any(is_unknown(c.prop("rules")) for c in confs) or (not confs and unknown):
            continue
        if not any(str(get(r, "status")) == "Enabled" and get(r, "abortIncompleteMultipartUpload",
                                                              "daysAfterInitiation") is not None for r in rules):
            out.append((bucket.urn, f"bucket {bucket.name} never aborts incomplete multipart uploads"))
    return out
