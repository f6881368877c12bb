"""Policy room: stack-level guardrails, judged across resources.

Every database instance and cache has its alarms, every database is in a backup
selection, prod copies those backups to another region, the connection budget fits
(recomputed from what is deployed: HPA limits, the app's pool size, PgBouncer's ini and
the parameter group's max_connections), every alarm pages someone, and every taggable
AWS resource carries the standard tags. References between resources are matched by
value (ids, ARNs, names) or by property dependency, so previews with unknown values
still connect a selection to its database.
"""

from __future__ import annotations

import configparser
import contextlib
import fnmatch
from collections.abc import Mapping
from typing import Any

from policy.core import (
    Ctx,
    Finding,
    Resource,
    StackView,
    arn_region,
    get,
    has_value,
    is_unknown,
    items,
    number,
    resource_rule,
    stack_rule,
    truthy,
)
from policy.rules.kubernetes import DEPLOYMENT, HPAS, hpa_targets, pod_spec
from policy.rules.taggable import TAGGABLE_AWS_TYPES

DB_INSTANCE = "aws:rds/instance:Instance"
PARAMETER_GROUP = "aws:rds/parameterGroup:ParameterGroup"
REPLICATION_GROUP = "aws:elasticache/replicationGroup:ReplicationGroup"
METRIC_ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
SELECTION = "aws:backup/selection:Selection"
PLAN = "aws:backup/plan:Plan"
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
SECRET_K8S = "kubernetes:core/v1:Secret"

STANDARD_TAGS = ("Project", "Environment", "Stack", "ManagedBy")

# Metric groups each tier must alarm on: any metric of a group satisfies it.
DB_ALARMS: tuple[tuple[str, ...], ...] = (("CPUUtilization",), ("FreeStorageSpace",))
REPLICA_ALARMS: tuple[tuple[str, ...], ...] = (("ReplicaLag",),)
CACHE_ALARMS: tuple[tuple[str, ...], ...] = (
    ("EngineCPUUtilization", "CPUUtilization"),
    ("DatabaseMemoryUsagePercentage",),
)


def _is_replica(db: Resource) -> bool:
    src = db.prop("replicateSourceDb")
    return is_unknown(src) or has_value(src)


# ---- tags ------------------------------------------------------------------------------------
@resource_rule(
    "aws-standard-tags",
    types=TAGGABLE_AWS_TYPES,
    description="Every taggable AWS resource carries Project, Environment, Stack and ManagedBy tags "
    "(cost allocation, ownership, incident triage).",
    severity="low",
    remediation="Pass the platform's standard tags (Settings.standard_tags) as `tags` to every AWS resource.",
)
def standard_tags(props: dict[str, Any], ctx: Ctx) -> list[str]:
    merged: dict[str, Any] = {}
    for key in ("tagsAll", "tags"):
        v = props.get(key)
        if is_unknown(v):
            return []
        if isinstance(v, Mapping):
            merged.update(v)
    missing = [t for t in STANDARD_TAGS if not has_value(merged.get(t))]
    out = []
    if missing:
        out.append(f"missing standard tags: {', '.join(missing)}")
    env, stack = merged.get("Environment"), merged.get("Stack")
    if ctx.environment and isinstance(env, str) and env and env != ctx.environment:
        out.append(f"tag Environment={env!r} but the stack is {ctx.environment!r}")
    if ctx.stack and isinstance(stack, str) and stack and stack != ctx.stack:
        out.append(f"tag Stack={stack!r} but the stack is {ctx.stack!r}")
    return out


# ---- alarms ----------------------------------------------------------------------------------
@resource_rule(
    "cloudwatch-alarm-actions",
    types=[METRIC_ALARM],
    description="Every alarm notifies someone (alarm actions set and enabled).",
    severity="medium",
    remediation="Set alarm_actions (and ok_actions) to the platform's SNS topic; leave actions_enabled on.",
)
def alarm_actions(props: dict[str, Any], ctx: Ctx) -> list[str]:
    actions = props.get("alarmActions")
    if is_unknown(actions):
        return []
    if not items(actions):
        return ["alarmActions is empty: the alarm pages nobody"]
    enabled = props.get("actionsEnabled")
    if enabled is not None and truthy(enabled) is False:
        return ["actionsEnabled is false: the alarm pages nobody"]
    return []


def alarm_metrics(alarm: Resource) -> list[tuple[Any, Any]]:
    """(metricName, dimensions) of an alarm, including the metrics of metric-math queries."""
    out = [(alarm.prop("metricName"), alarm.prop("dimensions"))]
    for q in items(alarm.prop("metricQueries")):
        out.append((get(q, "metric", "metricName"), get(q, "metric", "dimensions")))
    return out


def alarms_for(stack: StackView, target: Resource, keys: tuple[str, ...],
               prefixes: tuple[str, ...] = (), extra_ids: set[str] | None = None) -> dict[str, bool]:
    """metricName -> True for each alarm whose dimensions name the target (True also when unknown)."""
    ids = target.identifiers() | (extra_ids or set())
    found: dict[str, bool] = {}
    for alarm in stack.of_type(METRIC_ALARM):
        linked = alarm.depends_on(target, "dimensions") or alarm.depends_on(target, "metricQueries")
        for metric, dims in alarm_metrics(alarm):
            if is_unknown(metric) or is_unknown(dims):
                found["*"] = True
                continue
            if not isinstance(metric, str) or not isinstance(dims, Mapping):
                continue
            for key in keys:
                value = dims.get(key)
                if value is None:
                    continue
                if is_unknown(value) or linked or value in ids or any(
                    isinstance(value, str) and value.startswith(p) for p in prefixes
                ):
                    found[metric] = True
    return found


def _missing(found: dict[str, bool], groups: tuple[tuple[str, ...], ...]) -> list[str]:
    if "*" in found:
        return []
    return [" or ".join(g) for g in groups if not any(m in found for m in g)]


@stack_rule(
    "stack-database-alarms",
    types=[DB_INSTANCE, METRIC_ALARM],
    description="Every database instance has CloudWatch alarms on CPU and free storage (replicas also on lag).",
    severity="high",
    remediation="Create aws.cloudwatch.MetricAlarm resources (namespace AWS/RDS, dimension DBInstanceIdentifier) "
    "for each instance, replicas and cross-region replicas included.",
)
def database_alarms(stack: StackView, ctx: Ctx) -> list[Finding]:
    out: list[Finding] = []
    for db in stack.of_type(DB_INSTANCE):
        groups = DB_ALARMS + (REPLICA_ALARMS if _is_replica(db) else ())
        missing = _missing(alarms_for(stack, db, ("DBInstanceIdentifier",)), groups)
        if missing:
            out.append((db.urn, f"database {db.name} has no alarm on {', '.join(missing)}"))
    return out


@stack_rule(
    "stack-cache-alarms",
    types=[REPLICATION_GROUP, METRIC_ALARM],
    description="Every cache has CloudWatch alarms on CPU and memory.",
    severity="high",
    remediation="Create aws.cloudwatch.MetricAlarm resources (namespace AWS/ElastiCache, dimension CacheClusterId "
    "of each member or ReplicationGroupId) on EngineCPUUtilization and DatabaseMemoryUsagePercentage.",
)
def cache_alarms(stack: StackView, ctx: Ctx) -> list[Finding]:
    out: list[Finding] = []
    for rg in stack.of_type(REPLICATION_GROUP):
        members = {m for m in items(rg.prop("memberClusters")) if isinstance(m, str)}
        rg_id = rg.prop("replicationGroupId")
        prefixes = (f"{rg_id}-",) if isinstance(rg_id, str) and rg_id else ()
        found = alarms_for(stack, rg, ("ReplicationGroupId", "CacheClusterId"), prefixes, members)
        missing = _missing(found, CACHE_ALARMS)
        if missing:
            out.append((rg.urn, f"cache {rg.name} has no alarm on {', '.join(missing)}"))
    return out


# ---- backups ---------------------------------------------------------------------------------
def _tag_match(selection: Resource, db: Resource) -> bool:
    tags = db.tags
    for t in items(selection.prop("selectionTags")):
        if get(t, "type") in ("STRINGEQUALS", None) and tags.get(get(t, "key")) == get(t, "value"):
            return True
    for cond in items(selection.prop("conditions")):
        for eq in items(get(cond, "stringEquals")):
            key = get(eq, "key")
            tag = key.removeprefix("aws:ResourceTag/") if isinstance(key, str) else None
            if tag and tag != key and tags.get(tag) == get(eq, "value"):
                return True
    return False


def selection_covers(selection: Resource, db: Resource) -> bool | None:
    """Whether a backup selection includes the database; None when its resources are unknown."""
    arns = {a for a in (db.prop("arn"),) if isinstance(a, str)}
    for pattern in items(selection.prop("notResources")):
        if isinstance(pattern, str) and any(fnmatch.fnmatchcase(a, pattern) for a in arns):
            return False
    resources = selection.prop("resources")
    unknown = is_unknown(resources) or any(is_unknown(p) for p in items(resources))
    if (unknown or not arns) and selection.depends_on(db, "resources"):
        return True  # preview: values not known yet, but the engine knows what fed the list
    if unknown or (not arns and any("*" in p for p in items(resources) if isinstance(p, str))):
        return None
    for pattern in items(resources):
        if isinstance(pattern, str) and any(fnmatch.fnmatchcase(a, pattern) for a in arns):
            return True
    return _tag_match(selection, db)


def _selections_of(stack: StackView, db: Resource) -> list[Resource] | None:
    """The selections covering a database (None when some cannot be judged and none matched)."""
    verdicts = [(s, selection_covers(s, db)) for s in stack.of_type(SELECTION)]
    hits = [s for s, v in verdicts if v]
    if not hits and any(v is None for _, v in verdicts):
        return None
    return hits


@stack_rule(
    "stack-database-backup-selection",
    types=[DB_INSTANCE, SELECTION],
    description="Every primary database is in an AWS Backup selection (snapshots beyond RDS's own retention, "
    "in a locked vault).",
    severity="high",
    remediation="Add the instance's ARN to the resources of an aws.backup.Selection of the platform's backup plan.",
)
def database_backup_selection(stack: StackView, ctx: Ctx) -> list[Finding]:
    out: list[Finding] = []
    for db in stack.of_type(DB_INSTANCE):
        if _is_replica(db):
            continue
        if _selections_of(stack, db) == []:
            out.append((db.urn, f"database {db.name} is in no AWS Backup selection"))
    return out


def _plan_region(plan: Resource, stack: StackView) -> str | None:
    for v in (plan.prop("region"), plan.region, arn_region(plan.prop("arn")), stack.region):
        if isinstance(v, str) and v and not is_unknown(v):
            return v
    return None


def plan_copies_cross_region(plan: Resource, stack: StackView) -> bool | None:
    region = _plan_region(plan, stack)
    rules = plan.prop("rules")
    if is_unknown(rules):
        return None
    unknown = False
    for rule in items(rules):
        for action in items(get(rule, "copyActions")):
            dest = get(action, "destinationVaultArn")
            if is_unknown(dest):
                unknown = True
                continue
            dest_region = arn_region(dest)
            if dest_region and region and dest_region != region:
                return True
    return None if unknown else False


@stack_rule(
    "stack-backup-cross-region-prod",
    types=[DB_INSTANCE, SELECTION, PLAN],
    description="In production, the backup plan that selects each database copies its recovery points to a "
    "vault in another region.",
    severity="high",
    remediation="Add copy_actions with destination_vault_arn of a vault in the DR region (berth:dr.region) to the "
    "plan's rules (berth:backup.copyToDr).",
)
def backup_cross_region_prod(stack: StackView, ctx: Ctx) -> list[Finding]:
    if not ctx.is_prod:
        return []
    out: list[Finding] = []
    plans = stack.of_type(PLAN)
    for db in stack.of_type(DB_INSTANCE):
        if _is_replica(db):
            continue
        selections = _selections_of(stack, db)
        if not selections:
            continue  # no selection (stack-database-backup-selection) or cannot judge
        verdicts = []
        for sel in selections:
            plan_id = sel.prop("planId")
            for plan in plans:
                if sel.depends_on(plan, "planId") or (isinstance(plan_id, str) and plan_id in plan.identifiers()) \
                        or is_unknown(plan_id):
                    verdicts.append(plan_copies_cross_region(plan, stack))
        if not any(v is None or v for v in verdicts):
            out.append((db.urn, f"database {db.name}: no backup plan selecting it copies to another region"))
    return out


# ---- connection budget -----------------------------------------------------------------------
def _ini_texts(cm: Resource) -> list[str]:
    out = []
    for key in ("data", "stringData"):
        data = cm.prop(key)
        if isinstance(data, Mapping):
            out += [v for v in data.values() if isinstance(v, str) and "[pgbouncer]" in v]
    return out


def parse_pgbouncer_ini(text: str) -> dict[str, int] | None:
    """Per-pod server and client capacity from a pgbouncer.ini (PgBouncer's own defaults where unset)."""
    parser = configparser.ConfigParser(interpolation=None, strict=False, delimiters=("=",))
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    try:
        parser.read_string(text)
    except configparser.Error:
        return None
    if not parser.has_section("pgbouncer"):
        return None
    main = parser["pgbouncer"]

    def num(key: str, default: int) -> int:
        try:
            return int(str(main.get(key, default)).strip())
        except ValueError:
            return default

    default_pool = num("default_pool_size", 20)
    reserve = num("reserve_pool_size", 0)
    cap = num("max_db_connections", 0)
    server = 0
    if parser.has_section("databases"):
        for _, dsn in parser["databases"].items():
            opts: dict[str, int] = {}
            for part in dsn.split():
                key, sep, value = part.partition("=")
                if sep and key in ("pool_size", "reserve_pool", "max_db_connections"):
                    with contextlib.suppress(ValueError):
                        opts[key] = int(value)
            # A pool is per (database name, user) and the reserve adds to every pool. A name's
            # max_db_connections bounds all its pools whatever the users; without it, one pool (one
            # user per name: what berth's hba admits) is counted.
            limit = opts.get("max_db_connections", cap)
            server += limit if limit > 0 else opts.get("pool_size", default_pool) + opts.get("reserve_pool", reserve)
    # Matches stacks.config.connection_budget (components/pgbouncer_config.py server_connections).
    return {"server": server, "max_client_conn": num("max_client_conn", 100)}


def _references(dep: Resource, cm: Resource) -> bool:
    """Whether a Deployment mounts or reads a ConfigMap (by name or by dependency)."""
    if dep.depends_on(cm, "spec"):
        return True
    name = cm.prop("metadata", "name")
    if not isinstance(name, str):
        return False
    spec = pod_spec(dep.props)
    for v in items(get(spec, "volumes")):
        if get(v, "configMap", "name") == name:
            return True
        for src in items(get(v, "projected", "sources")):
            if get(src, "configMap", "name") == name:
                return True
    for key in ("containers", "initContainers"):
        for c in items(get(spec, key)):
            for ef in items(get(c, "envFrom")):
                if get(ef, "configMapRef", "name") == name:
                    return True
            for env in items(get(c, "env")):
                if get(env, "valueFrom", "configMapKeyRef", "name") == name:
                    return True
    return False


def _max_pods(stack: StackView, dep: Resource) -> int | None:
    """The most pods a Deployment can run: its HPA's maxReplicas, else its replicas."""
    best: int | None = None
    for hpa in stack.of_type(*HPAS):
        if hpa_targets(hpa, dep):
            m = number(hpa.prop("spec", "maxReplicas"))
            if m is None:
                return None
            best = max(best or 0, int(m))
    if best is not None:
        return best
    replicas = dep.prop("spec", "replicas")
    if is_unknown(replicas):
        return None
    return int(number(replicas) or 1)


def _app_pool(stack: StackView, dep: Resource) -> int | None:
    """DB_POOL_MAX of the app: from its container env or a ConfigMap it reads."""
    for _, c in [(k, c) for k in ("containers",) for c in items(get(pod_spec(dep.props), k))]:
        for env in items(get(c, "env")):
            if get(env, "name") == "DB_POOL_MAX" and number(get(env, "value")) is not None:
                return int(number(get(env, "value")) or 0)
    for cm in stack.of_type(CONFIG_MAP):
        data = cm.prop("data")
        if isinstance(data, Mapping) and "DB_POOL_MAX" in data and _references(dep, cm):
            value = number(data["DB_POOL_MAX"])
            return int(value) if value is not None else None
    return None


def _database_limit(stack: StackView, ctx: Ctx) -> tuple[int, int] | None:
    """(max_connections, reserved) of the primary's parameter group."""
    limits: list[tuple[int, int]] = []
    for db in stack.of_type(DB_INSTANCE):
        if _is_replica(db):
            continue
        pg_name = db.prop("parameterGroupName")
        for pg in stack.of_type(PARAMETER_GROUP):
            if not (db.depends_on(pg, "parameterGroupName") or (isinstance(pg_name, str)
                                                                 and pg_name in pg.identifiers())):
                continue
            params = {get(p, "name"): get(p, "value") for p in items(pg.prop("parameters"))}
            mc = number(params.get("max_connections"))
            if mc is None:
                continue
            reserved = sum(int(number(params.get(k)) or 0) for k in
                           ("superuser_reserved_connections", "rds.rds_superuser_reserved_connections"))
            limits.append((int(mc), reserved))
    return min(limits) if limits else None


def budget_from_resources(stack: StackView, ctx: Ctx) -> dict[str, int] | None:
    """The connection budget as deployed; None when some part cannot be read."""
    deployments = stack.of_type(DEPLOYMENT)
    pgb: tuple[Resource, dict[str, int]] | None = None
    for cm in stack.of_type(CONFIG_MAP, SECRET_K8S):
        for text in _ini_texts(cm):
            parsed = parse_pgbouncer_ini(text)
            owner = next((d for d in deployments if _references(d, cm)), None)
            if parsed and owner:
                pgb = (owner, parsed)
    if pgb is None:
        return None
    app = next(((d, p) for d in deployments if d is not pgb[0] and (p := _app_pool(stack, d)) is not None), None)
    limit = _database_limit(stack, ctx)
    if app is None or limit is None:
        return None
    pgb_pods, app_pods = _max_pods(stack, pgb[0]), _max_pods(stack, app[0])
    if pgb_pods is None or app_pods is None:
        return None
    return {
        "app_max_pods": app_pods,
        "app_pool_per_pod": app[1] * 2,  # a read-write and a read-only pool per pod
        "app_client_connections": app_pods * app[1] * 2,
        "pgbouncer_replicas": pgb_pods,
        "pgbouncer_max_client_conn": pgb[1]["max_client_conn"] * pgb_pods,
        "pgbouncer_server_connections": pgb[1]["server"] * pgb_pods,
        "database_max_connections": limit[0],
        "database_reserved": limit[1],
    }


def budget_from_outputs(stack: StackView) -> dict[str, int] | None:
    b = stack.outputs.get("connectionBudget")
    keys = ("app_client_connections", "pgbouncer_max_client_conn", "pgbouncer_server_connections",
            "database_max_connections")
    if not isinstance(b, Mapping) or any(number(b.get(k)) is None for k in keys):
        return None
    return {k: int(number(v) or 0) for k, v in b.items() if number(v) is not None}


def budget_problems(b: Mapping[str, int]) -> list[str]:
    out = []
    if b["app_client_connections"] > b["pgbouncer_max_client_conn"]:
        out.append(
            f"app: {b.get('app_max_pods', '?')} pods x {b.get('app_pool_per_pod', '?')} pooled connections = "
            f"{b['app_client_connections']} exceed PgBouncer's client capacity {b['pgbouncer_max_client_conn']}"
        )
    usable = b["database_max_connections"] - b.get("database_reserved", 0)
    if b["pgbouncer_server_connections"] > usable:
        out.append(
            f"PgBouncer: {b.get('pgbouncer_replicas', '?')} pods open up to {b['pgbouncer_server_connections']} "
            f"server connections; the database allows {b['database_max_connections']} - "
            f"{b.get('database_reserved', 0)} reserved = {usable}"
        )
    return out


@stack_rule(
    "stack-connection-budget",
    types=[DB_INSTANCE, PARAMETER_GROUP, DEPLOYMENT, CONFIG_MAP, *HPAS],
    description="At full scale the app's pools fit through PgBouncer and PgBouncer's pools fit in the "
    "database's max_connections (minus reserved).",
    severity="critical",
    remediation="Lower app.maxReplicas or app.dbPoolSize, raise pgbouncer.maxClientConn, lower PgBouncer pool "
    "sizes or raise database.maxConnections (and instance size).",
)
def connection_budget(stack: StackView, ctx: Ctx) -> list[Finding]:
    budget = budget_from_resources(stack, ctx)
    if budget is not None:
        out = stack.outputs.get("connectionBudget")
        # The parameter group does not say how many connections the platform keeps for operators.
        if isinstance(out, Mapping) and number(out.get("database_reserved")) is not None:
            budget["database_reserved"] = max(budget["database_reserved"], int(number(out["database_reserved"]) or 0))
    else:
        budget = budget_from_outputs(stack)
    if budget is None:
        return []
    dbs = [d for d in stack.of_type(DB_INSTANCE) if not _is_replica(d)]
    urn = dbs[0].urn if dbs else None
    return [(urn, f"connection budget: {p}") for p in budget_problems(budget)]
