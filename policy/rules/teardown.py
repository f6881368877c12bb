"""Policy room: what `pulumi destroy` does to a stack, by environment.

Outside production a stack must come down in one `pulumi destroy` (review environments live
for days, staging is rebuilt at will): nothing protected, no deletion protection, no final
snapshot whose fixed name makes the next destroy of a same-named stack fail, buckets and backup
vaults that empty themselves, no vault lock. In production the stateful resources must survive
an accidental destroy: the database primaries, the versioned buckets and the backup vaults are
`protect`ed (the engine refuses before calling AWS).
"""

from __future__ import annotations

from policy.core import Ctx, Finding, Resource, StackView, is_unknown, stack_rule, truthy

DB_INSTANCE = "aws:rds/instance:Instance"
CLUSTER = "aws:eks/cluster:Cluster"
VAULT = "aws:backup/vault:Vault"
VAULT_LOCK = "aws:backup/vaultLockConfiguration:VaultLockConfiguration"
BUCKETS = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
VERSIONING = ("aws:s3/bucketVersioning:BucketVersioning", "aws:s3/bucketVersioningV2:BucketVersioningV2")


def _is_primary(r: Resource) -> bool:
    src = r.prop("replicateSourceDb")
    return not (is_unknown(src) or (isinstance(src, str) and src))


def _on(r: Resource, key: str) -> bool:
    return truthy(r.prop(key)) is True


def _versioned_buckets(stack: StackView) -> list[Resource]:
    names = {v.prop("bucket") for v in stack.of_type(*VERSIONING)
             if str(v.prop("versioningConfiguration", "status")) == "Enabled"}
    return [b for b in stack.of_type(*BUCKETS) if b.prop("bucket") in names or any(
        v.depends_on(b, "bucket") for v in stack.of_type(*VERSIONING)
        if str(v.prop("versioningConfiguration", "status")) == "Enabled")]


def _nonprod(stack: StackView) -> list[Finding]:
    out: list[Finding] = []
    for r in stack.resources:
        if r.protect:
            out.append((r.urn, f"{r.name} is protected: `pulumi destroy` of a non-production stack stops on it"))
    for db in stack.of_type(DB_INSTANCE):
        if _on(db, "deletionProtection"):
            out.append((db.urn, "deletionProtection is on: RDS refuses to delete the instance"))
        if _is_primary(db) and truthy(db.prop("skipFinalSnapshot")) is not True and not is_unknown(
                db.prop("skipFinalSnapshot")):
            out.append((db.urn, "destroy takes a final snapshot under a fixed name: the next destroy of a "
                                "stack of the same name fails on DBSnapshotAlreadyExists"))
    for c in stack.of_type(CLUSTER):
        if _on(c, "deletionProtection"):
            out.append((c.urn, "deletionProtection is on: EKS refuses to delete the cluster"))
    for b in stack.of_type(*BUCKETS):
        if truthy(b.prop("forceDestroy")) is not True and not is_unknown(b.prop("forceDestroy")):
            out.append((b.urn, "forceDestroy is off: a bucket with objects (or object versions) cannot be deleted"))
    for v in stack.of_type(VAULT):
        if truthy(v.prop("forceDestroy")) is not True and not is_unknown(v.prop("forceDestroy")):
            out.append((v.urn, "forceDestroy is off: a vault holding recovery points cannot be deleted"))
    for lock in stack.of_type(VAULT_LOCK):
        out.append((lock.urn, "a vault lock: its recovery points cannot be deleted before they expire"))
    return out


def _prod(stack: StackView) -> list[Finding]:
    stateful = [*(d for d in stack.of_type(DB_INSTANCE) if _is_primary(d)), *stack.of_type(VAULT),
                *_versioned_buckets(stack)]
    return [(r.urn, f"{r.name} holds production data but is not protected: one `pulumi destroy` deletes it")
            for r in stateful if not r.protect]


@stack_rule(
    "stack-teardown-by-environment",
    types=[DB_INSTANCE, CLUSTER, VAULT, VAULT_LOCK, *BUCKETS, *VERSIONING],
    description="A non-production stack comes down in one `pulumi destroy` (nothing protected, no deletion "
    "protection, no final snapshot, buckets and vaults that empty themselves, no vault lock); in production "
    "the database primaries, versioned buckets and backup vaults are protected.",
    severity="high",
    remediation="Outside prod: protect=False, deletion_protection=False, skip_final_snapshot=True, "
    "force_destroy=True, no vault lock. In prod: protect=True on the stateful resources.",
)
def teardown_by_environment(stack: StackView, ctx: Ctx) -> list[Finding]:
    if ctx.environment is None:
        return []
    return _prod(stack) if ctx.is_prod else _nonprod(stack)
