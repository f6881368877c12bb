"""Operations room: disaster recovery -- plan, rebuild, drill.

`plan` lists, with boto3 against real AWS or the embedded cloud (a client factory
`(service, region) -> client`), the recovery material a stack keeps in its DR region, and
the recovery point (RPO) each piece gives, best first:

- cross-region read replicas of the primary (RPO = their ReplicaLag, from CloudWatch);
- replicated automated backups (point-in-time restore; RPO = now - latest restorable time);
- DB snapshot copies (RPO = now - the original snapshot's time);
- AWS Backup recovery points of the database in the DR vault (RPO = now - their creation).

`rebuild` writes `Pulumi.<stack>-dr.yaml` -- the stack's config moved to the DR region,
in the recovery VPC the stack keeps there (where its standby database lives; a fresh range
when it keeps none), the chosen restore source as `berth:database.restore`, and no
further copy out of the DR region unless a new DR region is given -- then brings the
platform up there: for real through berth.operations.deploy, or offline in the embedded cloud that
holds the material. `drill` runs deploy, seed, plan, rebuild, verify and the policy pack
end to end in one fresh embedded cloud and measures each step.

Operations never import a component: they read config files, stack outputs and the cloud.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from ruamel.yaml.comments import CommentedMap

from berth.operations import deploy
from berth.operations.errors import Confirm, OpsError, Printer
from berth.operations.policy import default_evaluator, describe_violation
from berth.operations.stackfile import REPO, StackFile, round_trip_yaml
from embedded_cloud import EmbeddedCloud, ProgramError, run_isolated
from embedded_cloud.graph import Graph, Node
from embedded_cloud.runner import stack_file
from stacks.config import RestoreSource, Settings

ClientFactory = Callable[[str, str], Any]
KINDS = ("replica", "pitr", "snapshot")
_UTC = dt.UTC


def _utc(value: Any) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=_UTC)
    return value.astimezone(_UTC)


def humanize(seconds: float | None) -> str:
    if seconds is None:
        return "unknown"
    seconds = max(0.0, seconds)
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


@dataclass
class RecoveryOption:
    """One piece of recovery material and the restore source it becomes."""

    kind: str  # replica | pitr | snapshot
    source: str  # what it is, for people
    identifier: str
    region: str
    recovery_point: dt.datetime | None
    rpo_seconds: float | None
    detail: str
    restore: dict[str, Any]  # a RestoreSource, camelCase as written in the config file

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "source": self.source,
            "identifier": self.identifier,
            "region": self.region,
            "recoveryPoint": self.recovery_point.isoformat() if self.recovery_point else None,
            "rpoSeconds": self.rpo_seconds,
            "detail": self.detail,
            "restore": self.restore,
        }


@dataclass
class DrPlan:
    stack: str
    region: str  # where the material is (the DR region)
    source_region: str  # where the stack runs
    primary_ids: list[str]
    at: dt.datetime
    options: list[RecoveryOption] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # The recovery VPC the stack keeps in the DR region (its standby database lives there), as
    # `berth:network.existing` takes it; None when the stack keeps none.
    network: dict[str, Any] | None = None

    def best(self, kind: str | None = None) -> RecoveryOption | None:
        return next((o for o in self.options if kind is None or o.kind == kind), None)

    def as_dict(self) -> dict[str, Any]:
        """`berth dr plan --json` (docs/json.md)."""
        return {"stack": self.stack, "region": self.region, "sourceRegion": self.source_region,
                "at": self.at.isoformat(), "options": [o.as_dict() for o in self.options], "notes": self.notes}


# ---- plan ---------------------------------------------------------------------------------
def recovery_network(ec2: Any, name_prefix: str, stack: str) -> dict[str, Any] | None:
    """The recovery VPC a stack keeps in its DR region, found by its tags (the stack's outputs may
    be out of reach in a disaster), as `berth:network.existing` takes it."""
    vpcs = ec2.describe_vpcs(Filters=[{"Name": "tag:Name", "Values": [f"{name_prefix}-recovery-vpc"]},
                                      {"Name": "tag:Stack", "Values": [stack]}])["Vpcs"]
    if len(vpcs) != 1:
        return None
    vpc = vpcs[0]
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}])["Subnets"]

    def tier(name: str) -> dict[str, str]:
        return {s["AvailabilityZone"]: s["SubnetId"] for s in subnets
                if {"Key": "Tier", "Value": name} in (s.get("Tags") or [])}

    private, public = tier("private"), tier("public")
    azs = sorted(set(private) & set(public))
    if len(azs) < 2:
        return None
    return {
        "vpcId": vpc["VpcId"],
        "cidr": vpc["CidrBlock"],
        "availabilityZones": azs,
        "privateSubnetIds": [private[az] for az in azs],
        "publicSubnetIds": [public[az] for az in azs],
    }


def primary_ids(settings: Settings, outputs: Mapping[str, Any] | None = None) -> list[str]:
    """The identifiers the stack's primary database goes by.

    From the stack's outputs when known (`databasePrimaryIdentifier`), else the platform's
    naming convention `<name prefix>-primary` (the source region may be gone: its
    outputs or API may be unreachable exactly when this runs).
    """
    ids = []
    for key in ("databasePrimaryIdentifier", "dbPrimaryIdentifier", "primaryIdentifier"):
        if outputs and isinstance(outputs.get(key), str):
            ids.append(outputs[key])
    ids.append(f"{settings.name_prefix}-primary")
    return list(dict.fromkeys(ids))


def _arn_parts(arn: str) -> tuple[str, str, str] | None:
    """arn:aws:rds:REGION:ACCOUNT:db:ID -> (region, type, id)."""
    parts = arn.split(":")
    if len(parts) < 7 or parts[0] != "arn":
        return None
    return parts[3], parts[5], ":".join(parts[6:])


def _pages(client: Any, op: str, key: str, **kw: Any) -> Iterator[dict[str, Any]]:
    if client.can_paginate(op):
        for page in client.get_paginator(op).paginate(**kw):
            yield from page.get(key, [])
    else:
        yield from getattr(client, op)(**kw).get(key, [])


def _replica_lag(cw: Any, identifier: str, now: dt.datetime) -> float | None:
    stats = cw.get_metric_statistics(
        Namespace="AWS/RDS",
        MetricName="ReplicaLag",
        Dimensions=[{"Name": "DBInstanceIdentifier", "Value": identifier}],
        StartTime=now - dt.timedelta(minutes=15),
        EndTime=now + dt.timedelta(minutes=1),
        Period=60,
        Statistics=["Maximum"],
    ).get("Datapoints", [])
    if not stats:
        return None
    latest = max(stats, key=lambda d: d["Timestamp"])
    return float(latest["Maximum"])


def _guard(notes: list[str], what: str) -> contextlib.AbstractContextManager[None]:
    """Listing one kind of material must not hide the others: record the failure, go on."""

    @contextlib.contextmanager
    def cm() -> Iterator[None]:

        try:
            yield
        except ClientError as exc:
            err = exc.response.get("Error", {})
            msg = str(err.get("Message") or "").strip()
            if msg.lstrip().startswith("<") or not msg:
                # An HTML error page: the endpoint (e.g. the embedded cloud) lacks this API.
                msg = f"this endpoint does not implement {exc.operation_name}"
            notes.append(f"could not list {what}: {err.get('Code', '?')}: {msg.splitlines()[0]}")
        except BotoCoreError as exc:
            notes.append(f"could not list {what}: {exc}")

    return cm()


def plan(
    stack: str | StackFile,
    clients: ClientFactory,
    *,
    config_dir: Path = REPO,
    region: str | None = None,
    outputs: Mapping[str, Any] | None = None,
    now: dt.datetime | None = None,
) -> DrPlan:
    """List the recovery material of `stack` in its DR region (or `region`), best first."""
    file = StackFile.of(stack, config_dir)
    stack, settings = file.name, file.settings
    dr_region = region or settings.dr.region
    if dr_region is None:
        raise OpsError(f"berth:dr.region is not set in Pulumi.{stack}.yaml: name the region with --region")
    now = now or dt.datetime.now(_UTC)
    ids = primary_ids(settings, outputs)
    p = DrPlan(stack, dr_region, settings.region, ids, now)

    def ours(arn_or_id: str | None, *, want_region: bool = True) -> bool:
        if not arn_or_id:
            return False
        parts = _arn_parts(arn_or_id)
        if parts is None:
            return arn_or_id in ids
        reg, _, ident = parts
        return ident in ids and (not want_region or reg == settings.region)

    with _guard(p.notes, f"the recovery VPC in {dr_region}"):
        p.network = recovery_network(clients("ec2", dr_region), settings.name_prefix, stack)

    rds = clients("rds", dr_region)
    with _guard(p.notes, f"read replicas in {dr_region}"):
        for db in _pages(rds, "describe_db_instances", "DBInstances"):
            if not ours(db.get("ReadReplicaSourceDBInstanceIdentifier")):
                continue
            ident = db["DBInstanceIdentifier"]
            status = db.get("DBInstanceStatus", "?")
            lag = None
            with _guard(p.notes, f"the ReplicaLag of {ident}"):
                lag = _replica_lag(clients("cloudwatch", dr_region), ident, now)
            detail = f"status {status}; " + (
                f"replica lag {lag:.0f}s" if lag is not None else "lag unknown (no ReplicaLag datapoint in 15 min)"
            )
            p.options.append(RecoveryOption(
                "replica", "cross-region read replica", ident, dr_region,
                now - dt.timedelta(seconds=lag) if lag is not None else None, lag, detail,
                {"kind": "replica", "replicaIdentifier": ident},
            ))

    with _guard(p.notes, f"replicated automated backups in {dr_region}"):
        for ab in _pages(rds, "describe_db_instance_automated_backups", "DBInstanceAutomatedBackups"):
            source_arn = ab.get("DBInstanceArn") or ""
            if not (ours(source_arn) or (ab.get("DBInstanceIdentifier") in ids and ab.get("Region") == settings.region)):
                continue
            latest = _utc((ab.get("RestoreWindow") or {}).get("LatestTime"))
            if latest is None:
                p.notes.append(f"automated backups of {ab.get('DBInstanceIdentifier')} have no restore window yet")
                continue
            earliest = _utc((ab.get("RestoreWindow") or {}).get("EarliestTime"))
            restore: dict[str, Any] = {"kind": "pitr", "useLatestRestorableTime": True}
            if ab.get("DBInstanceAutomatedBackupsArn"):
                restore["sourceDbInstanceArn"] = ab["DBInstanceAutomatedBackupsArn"]
            else:
                restore["sourceDbiResourceId"] = ab["DbiResourceId"]
            p.options.append(RecoveryOption(
                "pitr", "replicated automated backups",
                ab.get("DBInstanceAutomatedBackupsArn") or ab.get("DbiResourceId", "?"), dr_region,
                latest, (now - latest).total_seconds(),
                f"status {ab.get('Status', '?')}; restorable "
                f"{earliest.isoformat() if earliest else '?'} .. {latest.isoformat()}",
                restore,
            ))

    seen: set[str] = set()
    with _guard(p.notes, f"DB snapshots in {dr_region}"):
        for snap in _pages(rds, "describe_db_snapshots", "DBSnapshots"):
            if snap.get("DBInstanceIdentifier") not in ids:
                continue
            arn = snap.get("DBSnapshotArn", snap["DBSnapshotIdentifier"])
            if snap.get("Status") != "available":
                p.notes.append(f"snapshot {snap['DBSnapshotIdentifier']} is {snap.get('Status')}, not yet usable")
                continue
            taken = _utc(snap.get("OriginalSnapshotCreateTime") or snap.get("SnapshotCreateTime"))
            seen.add(arn)
            p.options.append(RecoveryOption(
                "snapshot", f"DB snapshot ({snap.get('SnapshotType', 'manual')})", snap["DBSnapshotIdentifier"],
                dr_region, taken, (now - taken).total_seconds() if taken else None,
                f"{snap.get('Engine', '?')} {snap.get('EngineVersion', '?')}, {snap.get('AllocatedStorage', '?')} GiB"
                + (", encrypted" if snap.get("Encrypted") else ""),
                {"kind": "snapshot", "snapshotIdentifier": snap["DBSnapshotIdentifier"]},
            ))

    backup = clients("backup", dr_region)
    with _guard(p.notes, f"AWS Backup vaults in {dr_region}"):
        for vault in _pages(backup, "list_backup_vaults", "BackupVaultList"):
            name = vault["BackupVaultName"]
            with _guard(p.notes, f"recovery points in vault {name}"):
                for rp in _pages(backup, "list_recovery_points_by_backup_vault", "RecoveryPoints",
                                 BackupVaultName=name):
                    if rp.get("ResourceType") != "RDS" or not ours(rp.get("ResourceArn"), want_region=False):
                        continue
                    arn = rp["RecoveryPointArn"]
                    if rp.get("Status") != "COMPLETED" or arn in seen:
                        continue
                    taken = _utc(rp.get("CreationDate"))
                    p.options.append(RecoveryOption(
                        "snapshot", "AWS Backup recovery point", arn, dr_region, taken,
                        (now - taken).total_seconds() if taken else None,
                        f"vault {name}; source {rp.get('ResourceArn')}",
                        {"kind": "snapshot", "snapshotIdentifier": arn},
                    ))

    # Best first: the most recent recovery point; material whose point is unknown (a replica
    # without a lag datapoint) after everything measured, as its RPO cannot be promised.
    p.options.sort(key=lambda o: (o.rpo_seconds is None, o.rpo_seconds or 0.0, KINDS.index(o.kind)))
    return p


# ---- rebuild ------------------------------------------------------------------------------
def dr_stack_name(stack: str) -> str:
    return f"{stack}-dr"


def dr_config_text(
    stack: str | StackFile,
    option: RecoveryOption,
    *,
    config_dir: Path = REPO,
    network: Mapping[str, Any] | None = None,
    new_dr_region: str | None = None,
    overrides: Mapping[str, Any] | None = None,
    at: dt.datetime | None = None,
) -> str:
    """Pulumi.<stack>-dr.yaml: the stack's config rebuilt in the option's region."""
    file = StackFile.of(stack, config_dir)
    stack, src_text, settings = file.name, file.text, file.settings
    y = round_trip_yaml()
    doc = y.load(src_text)
    cfg = doc["config"]

    def block(key: str) -> CommentedMap:
        if key not in cfg or cfg[key] is None:
            cfg[key] = CommentedMap()
        return cfg[key]

    cfg["aws:region"] = option.region
    cfg["berth:environment"] = settings.environment
    def put(m: CommentedMap, key: str, value: Any, why: str | None = None) -> None:
        m[key] = value
        if why is not None:
            m.ca.items.pop(key, None)  # the old comment described the old value
            m.yaml_add_eol_comment(why, key, column=35)

    net = block("berth:network")
    if network is not None:
        # The recovery VPC the standby database already lives in: the rebuilt cluster joins it.
        put(net, "cidr", network["cidr"], "# the recovery VPC's range")
        put(net, "azCount", len(network["availabilityZones"]))
        put(net, "existing", CommentedMap(network), "# the recovery VPC, found by its tags")
    else:
        put(net, "cidr", settings.dr.rebuild_cidr, "# a fresh range in the DR region")
    cdn = block("berth:cdn")
    if cdn.get("domain"):
        # The public name stays with the lost stack's distribution (CloudFront lets one
        # distribution hold an alias, and its records are that stack's): the rebuilt edge serves
        # a standby name until the cut-over moves the public one (CloudFront associate-alias).
        zone = (cfg.get("berth:dns") or {}).get("zone") or str(cdn["domain"]).split(".", 1)[-1]
        put(cdn, "domain", f"{dr_stack_name(stack)}.{zone}", "# standby name; the public one moves at cut-over")
    if settings.dr.ci_role_arn:
        # The rebuild is deployed by the DR deploy role: its cluster grants that role admin.
        put(block("berth:cluster"), "ciRoleArn", settings.dr.ci_role_arn, "# berth:dr.ciRoleArn: the DR deploy role")
    db = block("berth:database")
    put(db, "restore", CommentedMap(option.restore))
    keep_copying = new_dr_region is not None
    # Nothing replicates out of the DR region unless there is a new DR region to go to.
    stop = "# nothing replicates out of the DR region" if not keep_copying else f"# towards {new_dr_region}"
    put(db, "crossRegionReplica", keep_copying and option.kind != "replica", stop)
    put(block("berth:backup"), "copyToDr", keep_copying and settings.backup.copy_to_dr, stop)
    drb = block("berth:dr")
    if keep_copying:
        put(drb, "region", new_dr_region)
        # The lost region's range is free again: the next rebuild may take it.
        put(drb, "rebuildCidr", settings.network.cidr, "# the lost region's range")
    else:
        drb.pop("region", None)
        put(drb, "automatedBackupReplication", False, stop)
    for key, value in (overrides or {}).items():
        ns, _, dotted = key.partition(".")
        if not dotted:
            cfg[ns] = value
            continue
        cur = block(ns)
        parts = dotted.split(".")
        for part in parts[:-1]:
            if part not in cur or not isinstance(cur[part], dict):
                cur[part] = CommentedMap()
            cur = cur[part]
        put(cur, parts[-1], value, "# set by dr rebuild --set")
    out = io.StringIO()
    y.dump(doc, out)
    when = (at or dt.datetime.now(_UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    header = (
        f"# Disaster-recovery rebuild of {stack} in {option.region}, written by `berth dr rebuild {stack}`\n"
        f"# at {when} from the {option.source} {option.identifier}"
        f" (recovery point {option.recovery_point.isoformat() if option.recovery_point else 'unknown'}).\n"
    )
    return header + out.getvalue()


def region_bound_refs(config: Mapping[str, Any], lost_region: str) -> list[tuple[str, str]]:
    """Config values that are ARNs in the lost region (a regional certificate, key, topic...).

    They cannot serve a stack in another region. ACM certificates in us-east-1 under
    berth:cdn are exempt: CloudFront only takes certificates from there.
    """
    found: list[tuple[str, str]] = []

    def walk(key: str, value: Any) -> None:
        if isinstance(value, Mapping):
            for k, v in value.items():
                walk(f"{key}.{k}", v)
        elif isinstance(value, list):
            for i, v in enumerate(value):
                walk(f"{key}[{i}]", v)
        elif isinstance(value, str) and value.startswith("arn:"):
            parts = value.split(":")
            if len(parts) < 6 or parts[3] != lost_region:
                return
            if key.startswith("berth:cdn") and parts[2] == "acm" and parts[3] == "us-east-1":
                return
            found.append((key, value))

    for k, v in config.items():
        walk(k, v)
    return found


@dataclass
class Step:
    name: str
    seconds: float


@dataclass
class Rebuild:
    stack: str
    dr_stack: str
    path: Path
    option: RecoveryOption
    plan: DrPlan
    config: dict[str, Any]
    graph: Graph | None = None
    outputs: Mapping[str, Any] | None = None
    steps: list[Step] = field(default_factory=list)
    promoted: bool = False


@contextlib.contextmanager
def _timed(steps: list[Step], name: str) -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    finally:
        steps.append(Step(name, time.perf_counter() - started))


def _promote_replica(clients: ClientFactory, option: RecoveryOption, settings: Settings, wait: bool) -> None:
    """The DR action itself: the replica stops following the lost primary and takes writes."""
    rds = clients("rds", option.region)
    db = rds.describe_db_instances(DBInstanceIdentifier=option.identifier)["DBInstances"][0]
    if db.get("ReadReplicaSourceDBInstanceIdentifier"):
        rds.promote_read_replica(
            DBInstanceIdentifier=option.identifier,
            BackupRetentionPeriod=settings.database.backup_retention_days,
            # As the DR stack declares it, so adopting the promoted instance finds no difference.
            PreferredBackupWindow=settings.database.backup_window,
        )
    if wait:
        rds.get_waiter("db_instance_available").wait(DBInstanceIdentifier=option.identifier)
    # The replica's master password was the lost region's (and a replica has no managed secret):
    # RDS manages it from now on, in a secret of this region, which the DR stack's bootstrap Job
    # reads. The DR stack declares it so, and importing the instance requires it to be so already.
    db = rds.describe_db_instances(DBInstanceIdentifier=option.identifier)["DBInstances"][0]
    if not db.get("MasterUserSecret"):
        rds.modify_db_instance(DBInstanceIdentifier=option.identifier, ManageMasterUserPassword=True,
                               ApplyImmediately=True)
        if wait:
            rds.get_waiter("db_instance_available").wait(DBInstanceIdentifier=option.identifier)


def rebuild(
    stack: str | StackFile,
    clients: ClientFactory,
    *,
    config_dir: Path = REPO,
    region: str | None = None,
    kind: str | None = None,
    new_dr_region: str | None = None,
    offline: bool = False,
    endpoint_url: str | None = None,
    yes: bool = False,
    confirm: Confirm | None = None,
    echo: Printer = print,
    outputs: Mapping[str, Any] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Rebuild:
    """Write Pulumi.<stack>-dr.yaml from the best recovery material and bring the stack up there.

    Offline, `endpoint_url` is the moto server holding the material (and `clients` its
    client factory). Refuses, writing nothing, when the plan has no material (of `kind`).
    """
    if kind is not None and kind not in KINDS:
        raise OpsError(f"--from must be one of {', '.join(KINDS)}, not {kind!r}")
    file = StackFile.of(stack, config_dir)
    stack = file.name
    dr_stack = dr_stack_name(stack)
    if not offline:
        # Everything a real rebuild needs is checked before the first change, in the DR region
        # only: the source region's STS is exactly what may be unreachable today.
        deploy.require(file, f"rebuild {stack} in the DR region", real_config=True,
                       aws_region=region or file.settings.dr.region)
    steps: list[Step] = []
    with _timed(steps, "plan"):
        p = plan(file, clients, region=region, outputs=outputs)
    option = p.best(kind)
    if option is None:
        what = f"no {kind} recovery material" if kind else "no recovery material"
        raise OpsError(f"cannot rebuild {stack}: {what} for it in {p.region}; nothing was written"
                       + ("".join(f"\n  - {n}" for n in p.notes)))
    text = dr_config_text(file, option, network=p.network if option.region == p.region
                          else None, new_dr_region=new_dr_region, overrides=overrides, at=p.at)
    dr_file = StackFile.of_text(dr_stack, stack_file(dr_stack, config_dir), text)
    dr_cfg, settings = dr_file.config, dr_file.settings
    if new_dr_region is None and settings.is_prod:
        echo(f"warning: {dr_stack} copies its backups nowhere (no --new-dr-region): production policy "
             f"(stack-backup-cross-region-prod) requires a copy in another region; rerun with "
             f"--new-dr-region R once you have chosen one")
    refs = region_bound_refs(dr_cfg, p.source_region)
    if refs:
        listed = "".join(f"\n  - {k} = {v}" for k, v in refs)
        if not offline:
            raise OpsError(f"cannot rebuild {stack} in {option.region}: its config still points at resources "
                           f"in {p.source_region}; give their {option.region} counterparts with "
                           f"--set KEY=VALUE (nothing was written):{listed}")
        echo(f"warning: these values point at {p.source_region} and need {option.region} counterparts "
             f"before a real rebuild (--set KEY=VALUE):{listed}")
    RestoreSource.model_validate(option.restore)
    path = dr_file.path
    with _timed(steps, f"write {path.name}"):
        path.write_text(text)
    echo(f"wrote {path}: {stack} in {option.region} from the {option.source} {option.identifier} "
         f"(RPO {humanize(option.rpo_seconds)})")
    r = Rebuild(stack, dr_stack, path, option, p, dr_cfg, steps=steps)
    if option.kind == "replica":
        with _timed(steps, f"promote replica {option.identifier}"):
            _promote_replica(clients, option, settings, wait=not offline)
        r.promoted = True
    if offline:
        if endpoint_url is None:
            raise OpsError("an offline rebuild needs the embedded cloud holding the material (endpoint_url)")
        with _timed(steps, f"bring {dr_stack} up in {option.region} (embedded cloud)"):
            try:
                r.graph = run_isolated(dr_stack, endpoint_url=endpoint_url, config=dr_cfg)
            except ProgramError as exc:
                raise OpsError(f"{dr_stack} failed to come up in {option.region}: {exc}") from None
        r.outputs = r.graph.outputs
    else:
        with _timed(steps, f"pulumi up {dr_stack}"):
            r.outputs = deploy.up(dr_file, yes=yes, confirm=confirm, echo=echo)
    if option.kind == "replica":
        # The promoted instance is now in the DR stack's state: mark it adopted, so the next `up`
        # no longer imports it and applies this stack's settings (parameter group, Multi-AZ,
        # monitoring, tags) to it. For real that `up` runs now; the embedded cloud keeps no
        # state between runs, so offline the file is written and the convergence left to it.
        with _timed(steps, f"mark {option.identifier} adopted in {path.name}"):
            dr_file = dr_file.with_text(mark_adopted(dr_file.text))
            path.write_text(dr_file.text)
        r.config = dr_file.config
        if not offline:
            with _timed(steps, f"pulumi up {dr_stack} (converge the adopted primary)"):
                r.outputs = deploy.up(dr_file, yes=True, confirm=confirm, echo=echo)
    return r


def rehearsal_configs(stack: str, config_dir: Path, out_dir: Path | None = None) -> Path:
    """A copy of the stack files (without STACK's DR file) for a rehearsal to write into, so an
    offline rebuild or drill never writes next to the real configs: out_dir, or a new temp dir."""
    work = Path(tempfile.mkdtemp(prefix="berth-rehearsal-")) if out_dir is None else out_dir
    work.mkdir(parents=True, exist_ok=True)
    for f in config_dir.glob("Pulumi.*.yaml"):
        if f.name != f"Pulumi.{dr_stack_name(stack)}.yaml":
            (work / f.name).write_text(f.read_text())
    return work


def mark_adopted(text: str) -> str:
    """A DR config whose replica restore has been imported: `restore.adopted: true`, comments kept."""
    y = round_trip_yaml()
    doc = y.load(text)
    restore = doc["config"]["berth:database"]["restore"]
    restore["adopted"] = True
    restore.yaml_add_eol_comment("# imported by the first up: later ones converge it", "adopted", column=35)
    out = io.StringIO()
    y.dump(doc, out)
    return out.getvalue()


# ---- verification ---------------------------------------------------------------------------
@dataclass
class TierCheck:
    tier: str
    ok: bool
    detail: str


# What "the whole platform" is, tier by tier: the resource types that make each one.
TIERS: dict[str, tuple[str, ...]] = {
    "network": ("aws:ec2/vpc:Vpc",),
    "cluster": ("aws:eks/cluster:Cluster",),
    "database": ("aws:rds/instance:Instance",),
    "cache": ("aws:elasticache/replicationGroup:ReplicationGroup",),
    "app": ("kubernetes:apps/v1:Deployment",),
    "cdn": ("aws:cloudfront/distribution:Distribution",),
    "alarms": ("aws:cloudwatch/metricAlarm:MetricAlarm",),
    "backups": ("aws:backup/plan:Plan",),
}
_GLOBAL_TYPES = {"aws:cloudfront/distribution:Distribution"}


def _in_region(graph: Graph, types: tuple[str, ...], region: str) -> list[Node]:
    nodes = graph.by_type(*types)
    return [n for n in nodes if not n.type.startswith("aws:") or n.type in _GLOBAL_TYPES or n.region == region]


def primary_node(graph: Graph) -> Node | None:
    """The stack's primary database: the RDS instance that replicates from nothing."""
    for n in graph.by_type("aws:rds/instance:Instance"):
        if not n.inputs.get("replicateSourceDb") and n.region == graph.region:
            return n
    return None


def _restored_from(node: Node, option: RecoveryOption | None) -> str | None:
    """What the primary was created from; None means it would start empty."""
    if node.inputs.get("snapshotIdentifier"):
        return f"snapshot {node.inputs['snapshotIdentifier']}"
    if node.inputs.get("restoreToPointInTime"):
        return "a point-in-time restore"
    ident = node.get("identifier")
    if option is not None and option.kind == "replica" and ident == option.identifier:
        return f"the promoted replica {ident}"
    return None


def verify(graph: Graph, clients: ClientFactory, region: str, option: RecoveryOption | None = None,
           promoted: bool = False) -> list[TierCheck]:
    """Check every tier of the platform exists in `region` (graph and, where moto knows it, the cloud).

    `promoted`: the rebuild promoted the option's replica (PromoteReadReplica was accepted).
    """
    checks: list[TierCheck] = []
    cluster_vpc = _cluster_vpc(graph, clients, region)
    for tier, types in TIERS.items():
        nodes = _in_region(graph, types, region)
        existing = (graph.config.get("berth:network") or {}).get("existing") if tier == "network" else None
        if existing:
            found = clients("ec2", region).describe_vpcs(
                Filters=[{"Name": "vpc-id", "Values": [existing["vpcId"]]}])["Vpcs"]
            ok = bool(found) and cluster_vpc == existing["vpcId"]
            checks.append(TierCheck(tier, ok, f"recovery VPC {existing['vpcId']} ({existing['cidr']}) in {region}: "
                                    f"{'exists' if found else 'missing in the cloud'}; the cluster "
                                    f"{'runs in it' if cluster_vpc == existing['vpcId'] else f'is in {cluster_vpc}'}"))
            continue
        if not nodes:
            checks.append(TierCheck(tier, False, f"no {' / '.join(types)} in {region}"))
            continue
        detail = f"{len(nodes)} x {nodes[0].type.split(':')[-1]}"
        ok = True
        if tier == "network":
            cidr = graph.config.get("berth:network", {}).get("cidr")
            vpcs = clients("ec2", region).describe_vpcs(Filters=[{"Name": "cidr", "Values": [cidr]}])["Vpcs"]
            ok = bool(vpcs)
            detail += f"; VPC {cidr} in {region}: {'yes' if ok else 'missing in the cloud'}"
        elif tier == "database":
            primary = primary_node(graph)
            if primary is None:
                ok, detail = False, f"no primary instance in {region}"
            else:
                ident = primary.get("identifier") or primary.id
                found = clients("rds", region).describe_db_instances(
                    Filters=[{"Name": "db-instance-id", "Values": [str(ident)]}])["DBInstances"]
                restored = _restored_from(primary, option)
                standalone = bool(found) and not found[0].get("ReadReplicaSourceDBInstanceIdentifier")
                if found and not standalone and promoted:
                    # PromoteReadReplica succeeded; moto (unlike RDS) keeps reporting the old source.
                    standalone = True
                db_vpc = ((found[0].get("DBSubnetGroup") or {}).get("VpcId")) if found else None
                same = db_vpc is not None and db_vpc == cluster_vpc
                ok = bool(found) and restored is not None and standalone and same
                where = (f"in the cluster's VPC {db_vpc}" if same
                         else f"in VPC {db_vpc} but the cluster in {cluster_vpc}: they cannot talk")
                detail = (f"primary {ident} in {region}: "
                          f"{'exists' if found else 'missing in the cloud'}"
                          f"{', standalone' if standalone else ', still a replica' if found else ''}; "
                          f"restored from {restored or 'NOTHING (it would start empty)'}; {where}")
        elif tier == "alarms":
            names = [n.get("name") for n in nodes]
            live = clients("cloudwatch", region).describe_alarms(AlarmNames=[str(x) for x in names[:100] if x])
            ok = bool(live.get("MetricAlarms"))
            detail += f"; {len(live.get('MetricAlarms', []))} alarm(s) live in {region}"
        elif tier == "cdn":
            # The graph redacts origins (they carry the origin secret header): ask CloudFront.
            cf = clients("cloudfront", "us-east-1")
            origins: list[str] = []
            for n in nodes:
                dist = cf.get_distribution(Id=str(n.id or n.get("id")))["Distribution"]
                origins += [o["DomainName"] for o in dist["DistributionConfig"]["Origins"]["Items"]]
            lb = _app_lb_hostname(graph)
            ok = lb is not None and lb in origins
            detail += (f"; app origin {lb}: "
                       f"{'yes' if ok else 'NOT among the origins (' + ', '.join(origins) + ')'}")
        checks.append(TierCheck(tier, ok, detail))
    return checks


def _cluster_vpc(graph: Graph, clients: ClientFactory, region: str) -> str | None:
    """The VPC the rebuilt cluster's subnets are in (as the cloud reports it)."""
    for n in _in_region(graph, ("aws:eks/cluster:Cluster",), region):
        subnets = (n.inputs.get("vpcConfig") or {}).get("subnetIds") or []
        if subnets and all(isinstance(x, str) for x in subnets):
            found = clients("ec2", region).describe_subnets(SubnetIds=list(subnets))["Subnets"]
            vpcs = {x["VpcId"] for x in found}
            return vpcs.pop() if len(vpcs) == 1 else None
    return None


def _app_lb_hostname(graph: Graph) -> str | None:
    # The name CloudFront reaches the app by: ours (with its certificate), else the NLB's own.
    for key in ("appOriginHostname", "appLoadBalancerHostname", "appLbHostname", "loadBalancerHostname"):
        if isinstance(graph.outputs.get(key), str):
            return graph.outputs[key]
    for n in graph.nodes:
        if n.type.startswith("berth:") and n.type.endswith(":App"):
            value = n.outputs.get("loadBalancerHostname") or n.outputs.get("load_balancer_hostname")
            if isinstance(value, str):
                return value
    return None


# ---- drill ----------------------------------------------------------------------------------
@dataclass
class Drill:
    stack: str
    region: str
    steps: list[Step]
    plan: DrPlan | None = None
    option: RecoveryOption | None = None
    checks: list[TierCheck] = field(default_factory=list)
    policy_failures: list[str] = field(default_factory=list)
    rpo_seconds: float | None = None
    error: str | None = None
    config_path: Path | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and all(c.ok for c in self.checks) and not self.policy_failures and bool(self.checks)

    @property
    def rto_seconds(self) -> float:
        """From the decision to rebuild (the plan) to a verified platform."""
        names = ("plan", "write", "promote", "bring", "verify")
        return sum(s.seconds for s in self.steps if s.name.startswith(names))

    def as_dict(self) -> dict[str, Any]:
        """`berth dr drill --json` (docs/json.md)."""
        return {
            "stack": self.stack,
            "region": self.region,
            "ok": self.ok,
            "error": self.error,
            "restoredFrom": self.option.as_dict() if self.option else None,
            "rpoSeconds": self.rpo_seconds,
            "rtoSeconds": round(self.rto_seconds, 3),
            "checks": [{"tier": c.tier, "ok": c.ok, "detail": c.detail} for c in self.checks],
            "policyFailures": self.policy_failures,
            "steps": [{"name": st.name, "seconds": round(st.seconds, 3)} for st in self.steps],
            "configPath": str(self.config_path) if self.config_path else None,
            "plan": self.plan.as_dict() if self.plan else None,
        }


def seed_snapshot(clients: ClientFactory, primary: str, source_region: str, dr_region: str,
                  name: str | None = None) -> str:
    """Snapshot the primary and copy it to the DR region, as AWS Backup's copy job would."""
    stamp = dt.datetime.now(_UTC).strftime("%Y%m%d%H%M%S%f")
    name = name or f"{primary}-drill-{stamp}"
    src = clients("rds", source_region)
    snap = src.create_db_snapshot(DBInstanceIdentifier=primary, DBSnapshotIdentifier=name)["DBSnapshot"]
    dst = clients("rds", dr_region)
    kms = clients("kms", dr_region).create_key(Description=f"{primary} DR snapshot copies")["KeyMetadata"]["Arn"]
    copy = dst.copy_db_snapshot(
        SourceDBSnapshotIdentifier=snap["DBSnapshotArn"],
        TargetDBSnapshotIdentifier=f"{name}-copy",
        SourceRegion=source_region,
        KmsKeyId=kms,
        CopyTags=True,
    )["DBSnapshot"]
    return copy["DBSnapshotIdentifier"]


def drill(
    stack: str = "prod",
    *,
    config_dir: Path = REPO,
    out_dir: Path | None = None,
    kind: str | None = None,
    new_dr_region: str | None = None,
    evaluate: Callable[[Graph], Any] | None = None,
    echo: Printer = print,
) -> Drill:
    """Deploy, seed, plan, rebuild, verify and run the policy pack, all offline in one embedded cloud.

    The rebuilt stack keeps production's cross-region copies going to `new_dr_region`,
    by default back to the stack's own region (the fail-back target once it recovers).
    """
    evaluate = evaluate or default_evaluator()
    file = StackFile.read(stack, config_dir)
    config, settings = file.config, file.settings
    if settings.dr.region is None:
        raise OpsError(f"berth:dr.region is not set in Pulumi.{stack}.yaml: nothing to drill")
    region = settings.dr.region
    steps: list[Step] = []
    d = Drill(stack, region, steps)
    work = rehearsal_configs(stack, config_dir, out_dir)
    try:
        with EmbeddedCloud.serve(warm_regions=(settings.region, region)) as cloud:
            with _timed(steps, f"deploy {stack} in {settings.region} (embedded cloud)"):
                graph = run_isolated(stack, endpoint_url=cloud.endpoint_url or "", config=config)
            primary = primary_node(graph)
            if primary is None:
                raise OpsError(f"{stack} has no primary database to recover")
            with _timed(steps, f"seed a snapshot copy in {region}"):
                seed_snapshot(cloud.client, str(primary.get("identifier") or primary.id), settings.region, region)
            r = rebuild(file, cloud.client, config_dir=work, kind=kind, offline=True,
                        new_dr_region=new_dr_region or settings.region,
                        endpoint_url=cloud.endpoint_url, echo=echo, outputs=graph.outputs)
            steps.extend(r.steps)
            d.plan, d.option, d.config_path = r.plan, r.option, r.path
            d.rpo_seconds = r.option.rpo_seconds
            assert r.graph is not None
            with _timed(steps, f"verify every tier in {region}"):
                d.checks = verify(r.graph, cloud.client, region, r.option, promoted=r.promoted)
            with _timed(steps, "policy pack on the DR stack"):
                report = evaluate(r.graph)
                d.policy_failures = [describe_violation(v) for v in getattr(report, "mandatory_failures", []) or []]
    except (OpsError, ProgramError) as exc:
        d.error = exc.message if isinstance(exc, OpsError) else str(exc)
    return d
