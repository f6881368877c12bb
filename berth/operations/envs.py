"""Operations room: review environments -- a short-lived stack per pull request.

`create(name, src="staging", ttl="3d")` writes `Pulumi.<name>.yaml`: the source's config at the
smallest sizes the settings allow, everything destroyable, an `Expires` tag on every resource,
a VPC range of its own and the review CI role (the source's `cluster.reviewCiRoleArn`) as its
cluster's CI role. Two AZs, not one: `berth:network.azCount` has a minimum of 2
because EKS and RDS subnet groups refuse subnets in a single AZ, so "single AZ" here means
one NAT gateway, no Multi-AZ database or cache, and one of everything that has replicas.
`listing()` reads the review stacks in a directory with their expiry; `expired()` asks the
cloud (the Resource Groups Tagging API) which resources outlive their `Expires` tag.
"""

from __future__ import annotations

import hashlib
import io
import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from berth.operations import deploy, quotas
from berth.operations.errors import Confirm, OpsError, Printer
from berth.operations.stackfile import REPO, StackFile, round_trip_yaml
from embedded_cloud.runner import ProgramError, apply_overrides, read_stack_config, stack_file

EXPIRES_TAG = "Expires"
REVIEW_OF_TAG = "ReviewOf"
# Review VPCs take /16 slots of this block: clear of staging (10.10/16), prod (10.20/16) and the
# DR rebuild range (10.64/16); every stack file's ranges are checked as well.
REVIEW_POOL = ipaddress.IPv4Network("10.96.0.0/11")
MAX_NAME = 20
_NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
_TTL = re.compile(r"^(\d+)([hdw])$")
MAX_TTL = timedelta(days=30)

NAME_RULE = (
    f"1-{MAX_NAME} characters of a-z, 0-9 and single hyphens, starting with a letter and ending with a "
    "letter or digit (the name is the Pulumi stack name and goes into AWS names such as the RDS "
    "identifier berth-NAME-primary and the S3 bucket berth-NAME-assets-<account>, which allow only "
    "that); names starting with 'prod' or 'staging' are reserved"
)

# The smallest shape, per area; None deletes a key (the settings' default applies).
SMALLEST: dict[str, Any] = {
    "berth:network.azCount": 2,
    "berth:network.natGateways": "single",
    "berth:network.flowLogsRetentionDays": 1,
    "berth:cluster.instanceTypes": ["t3.medium"],
    "berth:cluster.capacityType": "SPOT",
    "berth:cluster.nodeMin": 1,
    "berth:cluster.nodeMax": 2,
    "berth:cluster.nodeDesired": 1,
    "berth:cluster.deletionProtection": False,
    "berth:database.instanceClass": "db.t4g.micro",
    "berth:database.replicaInstanceClass": None,
    "berth:database.allocatedStorageGib": 20,
    "berth:database.maxAllocatedStorageGib": 20,
    "berth:database.multiAz": False,
    "berth:database.deletionProtection": False,
    "berth:database.skipFinalSnapshot": True,
    "berth:database.crossRegionReplica": False,
    "berth:pgbouncer.replicas": 1,
    "berth:cache.nodeType": "cache.t4g.micro",
    "berth:cache.multiAz": False,
    "berth:cdn.waf": False,
    "berth:app.replicas": 1,
    "berth:app.minReplicas": 1,
    "berth:app.maxReplicas": 1,
    "berth:alarms.canary": False,
    "berth:backup.vaultLock": False,
    "berth:backup.copyToDr": False,
    "berth:backup.restoreTesting": False,
    "berth:backup.monthlyRetentionDays": None,
    "berth:dr.automatedBackupReplication": False,
    "berth:dr.region": None,
}


@dataclass
class ReviewEnv:
    name: str
    path: Path
    source: str | None
    expires: datetime | None
    cidr: str | None
    # What `create --force` overwrote: the environment this file described before.
    replaced: ReviewEnv | None = None
    # What the account check found worth saying that does not refuse (a new account's CloudFront).
    warnings: list[str] = field(default_factory=list)

    def expired(self, now: datetime | None = None) -> bool:
        return self.expires is not None and self.expires <= (now or datetime.now(UTC))


def validate_name(name: str) -> str:
    if len(name) > MAX_NAME or not _NAME.match(name) or name.startswith(("prod", "staging")):
        raise OpsError(f"review environment name {name!r} is not allowed: use {NAME_RULE}")
    return name


def parse_ttl(ttl: str) -> timedelta:
    m = _TTL.match(ttl)
    if not m:
        raise OpsError(f"--ttl {ttl!r}: use a number and a unit, h (hours), d (days) or w (weeks), e.g. 3d")
    n, unit = int(m.group(1)), m.group(2)
    span = timedelta(hours=n) if unit == "h" else timedelta(days=n) if unit == "d" else timedelta(weeks=n)
    if not timedelta(0) < span <= MAX_TTL:
        raise OpsError(f"--ttl {ttl!r}: a review environment lives between 1h and {MAX_TTL.days}d")
    return span


def _stack_ranges(config_dir: Path, skip: str) -> list[ipaddress.IPv4Network]:
    """Every VPC range a stack file here uses (its network and its DR rebuild range)."""
    out = [ipaddress.IPv4Network("10.0.0.0/16")]  # the settings' default network.cidr
    for path in sorted(config_dir.glob("Pulumi.*.yaml")):
        stack = path.name.split(".")[1]
        if stack == skip:
            continue
        try:
            cfg = read_stack_config(stack, config_dir)
        except ProgramError:
            continue
        for area, key in (("berth:network", "cidr"), ("berth:dr", "rebuildCidr")):
            value = (cfg.get(area) or {}).get(key) if isinstance(cfg.get(area), dict) else None
            if isinstance(value, str):
                out.append(ipaddress.IPv4Network(value, strict=False))
    out.append(ipaddress.IPv4Network("10.64.0.0/16"))  # the settings' default dr.rebuildCidr
    return out


def allocate_cidr(name: str, config_dir: Path) -> str:
    """A /16 of the review pool overlapping no stack here; the same name gets the same range."""
    slots = list(REVIEW_POOL.subnets(new_prefix=16))
    m = re.fullmatch(r"pr-(\d+)", name)
    first = int(m.group(1)) % len(slots) if m else int(hashlib.sha256(name.encode()).hexdigest(), 16) % len(slots)
    taken = _stack_ranges(config_dir, skip=name)
    for i in range(len(slots)):
        slot = slots[(first + i) % len(slots)]
        if not any(slot.overlaps(t) for t in taken):
            return str(slot)
    raise OpsError(f"no free /16 left in the review pool {REVIEW_POOL}: destroy an old review environment first")


def create(name: str, src: str = "staging", ttl: str = "3d", *, config_dir: Path = REPO,
           now: datetime | None = None, force: bool = False,
           client: quotas.ClientFactory | None = None) -> ReviewEnv:
    """Write Pulumi.<name>.yaml from src's config (see the module docstring); validated before written.

    An existing Pulumi.<name>.yaml is refused (its environment may be deployed, and writing it again
    would reset its expiry) unless `force`; the ReviewEnv then names what it replaced (`replaced`).
    With `client` (the account's, or an embedded cloud's), it is written only if it fits the
    account's quotas beside what runs there already (berth/operations/quotas.py): a review
    environment that would fail half-way through its `up` is refused before anything exists."""
    validate_name(name)
    span = parse_ttl(ttl)
    existing = stack_file(name, config_dir)
    previous = read(name, config_dir) if existing.exists() else None
    if existing.exists() and not force:
        what = (f"review environment {name} from {previous.source}, expiring "
                f"{previous.expires:%Y-%m-%dT%H:%M:%SZ}" if previous and previous.expires
                else "a stack that is not a review environment")
        raise OpsError(f"{existing.name} already exists ({what}); nothing was written. Its environment may "
                       f"be deployed: destroy it first (berth env destroy {name}), or replace the file with "
                       f"--force")
    if previous is None and existing.exists():
        raise OpsError(f"{existing.name} is not a review environment (no {EXPIRES_TAG} tag): --force replaces "
                       "only review environments; nothing was written")
    source = StackFile.read(src, config_dir)
    src_cfg = source.config
    if source.is_prod:
        raise OpsError(f"a review environment starts from a non-production stack, not {src!r}")
    expires = ((now or datetime.now(UTC)) + span).replace(microsecond=0)
    cfg = apply_overrides(src_cfg, SMALLEST)
    # A review environment deploys through the review CI role (its pull-request workflow's), not
    # the source's deploy role: that role gets its cluster-admin access entry.
    review_role = source.settings.cluster.review_ci_role_arn
    if review_role is None and not source.settings.cluster.existing:
        raise OpsError(f"{source.path.name} names no berth:cluster.reviewCiRoleArn: a review environment's cluster "
                       "grants access to the review CI role (the one `berth bootstrap` made for review "
                       "environments); set it there first")
    cfg = apply_overrides(cfg, {"berth:cluster.ciRoleArn": review_role, "berth:cluster.reviewCiRoleArn": None})
    tags = dict(cfg.get("berth:tags") or {})
    tags.update({EXPIRES_TAG: expires.strftime("%Y-%m-%dT%H:%M:%SZ"), REVIEW_OF_TAG: src})
    cfg["berth:tags"] = tags
    for area in ("database", "cache"):
        current = (cfg.get(f"berth:{area}") or {}).get("replicas", 1)
        cfg = apply_overrides(cfg, {f"berth:{area}.replicas": min(int(current), 1)})
    cfg = apply_overrides(cfg, {"berth:network.cidr": allocate_cidr(name, config_dir)})
    buf = io.StringIO()
    round_trip_yaml(preserve_quotes=False).dump({"config": cfg}, buf)
    text = (
        f"# Review environment {name}: written by `berth env create {name} --from {src} --ttl {ttl}`;\n"
        f"# {src}'s config at the smallest sizes, everything destroyable. Expires {tags[EXPIRES_TAG]}.\n"
        f"# Do not edit: create it again.\n" + buf.getvalue()
    )
    review = StackFile.of_text(name, stack_file(name, config_dir), text)
    try:
        review.settings  # noqa: B018 - validated before anything is written
    except OpsError as exc:
        raise OpsError(f"the review environment's config would be invalid: {exc.message}") from None
    warnings: list[str] = []
    if client is not None:
        fit = quotas.account_check(quotas.for_config(name, cfg), client)
        if not fit.ok:
            lines = "\n".join(f"  - {f}" for f in fit.findings)
            raise OpsError(f"review environment {name} would not fit the account's quotas; nothing was written:\n"
                           f"{lines}")
        warnings = fit.warnings
    review.path.write_text(text)
    return ReviewEnv(name, review.path, src, expires, cfg["berth:network"]["cidr"], replaced=previous,
                     warnings=warnings)


def read(name: str, config_dir: Path = REPO) -> ReviewEnv | None:
    """The review environment of a stack file, or None when the stack is not one."""
    try:
        cfg = read_stack_config(name, config_dir)
    except ProgramError:
        return None
    tags = cfg.get("berth:tags") or {}
    if not isinstance(tags, dict) or EXPIRES_TAG not in tags:
        return None
    try:
        expires = datetime.strptime(str(tags[EXPIRES_TAG]), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        expires = None
    net = cfg.get("berth:network") or {}
    return ReviewEnv(name, stack_file(name, config_dir), tags.get(REVIEW_OF_TAG), expires, net.get("cidr"))


def listing(config_dir: Path = REPO) -> list[ReviewEnv]:
    """The review environments with a stack file here, soonest to expire first."""
    found = [read(p.name.split(".")[1], config_dir) for p in config_dir.glob("Pulumi.*.yaml")]
    envs = [e for e in found if e is not None]
    return sorted(envs, key=lambda e: e.expires or datetime.max.replace(tzinfo=UTC))


def require(name: str, config_dir: Path = REPO) -> ReviewEnv:
    env = read(name, config_dir)
    if env is None:
        raise OpsError(f"{name!r} is not a review environment (no Pulumi.{name}.yaml with an {EXPIRES_TAG} tag "
                       f"here): `berth env destroy` only destroys what `berth env create` made")
    return env


def expired(client: Callable[[str, str], Any], region: str, now: datetime | None = None) -> dict[str, list[str]]:
    """Stacks whose resources outlive their Expires tag: {stack: [resource ARNs]} (tagging API)."""
    now = now or datetime.now(UTC)
    tagging = client("resourcegroupstaggingapi", region)
    out: dict[str, list[str]] = {}
    for page in tagging.get_paginator("get_resources").paginate(TagFilters=[{"Key": EXPIRES_TAG}]):
        for res in page.get("ResourceTagMappingList", []):
            tags = {t["Key"]: t["Value"] for t in res.get("Tags", [])}
            try:
                when = datetime.strptime(tags[EXPIRES_TAG], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
            except (KeyError, ValueError):
                continue
            if when <= now and not _winding_down(client, region, res["ResourceARN"]):
                out.setdefault(tags.get("Stack", "?"), []).append(res["ResourceARN"])
    return out


def _winding_down(client: Callable[[str, str], Any], region: str, arn: str) -> bool:
    """Deleted already, though still listed: a KMS key waiting out its deletion window, a NAT
    gateway in its `deleted` state (AWS lists both for a while after the destroy)."""
    service, resource = arn.split(":")[2], arn.split(":", 5)[5]
    try:
        if service == "kms":
            return client("kms", region).describe_key(KeyId=arn)["KeyMetadata"]["KeyState"] == "PendingDeletion"
        if service == "ec2" and resource.startswith("natgateway/"):
            gw = client("ec2", region).describe_nat_gateways(NatGatewayIds=[resource.split("/", 1)[1]])
            return all(g["State"] in ("deleting", "deleted") for g in gw["NatGateways"])
    except ClientError:
        return True  # not found: gone
    return False


def destroy(name: str, *, config_dir: Path = REPO, yes: bool = False, confirm: Confirm | None = None,
            echo: Printer = print) -> ReviewEnv:
    """Destroy a review environment's resources for real, remove its stack, delete Pulumi.NAME.yaml."""
    env = require(name, config_dir)
    file = StackFile.read(name, config_dir)
    deploy.destroy(file, yes=yes, confirm=confirm, echo=echo)
    deploy.remove_stack(file)
    env.path.unlink()
    return env
