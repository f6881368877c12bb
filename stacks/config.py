"""Environment layer: the typed, validated settings of one stack.

This module is the only reader of stack configuration. Every `berth:*` area of
`Pulumi.<stack>.yaml` maps onto one pydantic model: the settings model of the component it
configures (components/settings.py: NetworkSettings, ClusterSettings, ...), composed here
into `Settings` with what spans areas: the cross-area checks, the connection budget, the
capacity check, and the sections derived from others (`recovery_network`, `database_roles`,
`backups`).
Keys are camelCase in the file (Pulumi's convention) and snake_case in Python. Validation
happens in `load_settings()` before the program registers a single resource, and every error
names the key as written in the file, the offending value and what is allowed.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import (
    BaseModel,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from components import capacity as cap
from components import catalog
from components import pgbouncer_config as pgb
from components.pgbouncer_config import MIGRATE_POOL_SIZE, server_connections
from components.settings import (
    DATABASE_ENGINE,
    PATTERN_WORDS,
    AlarmSettings,
    AppSettings,
    BackupAndDrSettings,
    BackupSettings,
    CacheSettings,
    CdnSettings,
    ClusterSettings,
    DatabaseRolesSettings,
    DatabaseSettings,
    DnsSettings,
    DrSettings,
    Model,
    NetworkSettings,
    PgBouncerSettings,
    Region,
)

# Re-exported: the settings of one stack, whichever room declares each part.
from components.settings import RestoreSource as RestoreSource
from components.settings import is_digest as is_digest

PROJECT = "berth"

# The config namespaces this program reads. `berth:<area>` holds a structured object.
AREAS = (
    "dns",
    "network",
    "cluster",
    "database",
    "pgbouncer",
    "cache",
    "cdn",
    "app",
    "alarms",
    "backup",
    "dr",
    "slo",
)


# The one list of what a promotion (berth promote) carries from staging to prod. Everything here is a
# property of the release (what the code is and how it behaves), never of the environment it runs
# in: replica counts, HPA bounds, pool sizes, resources, CORS origins, domains, log level and the
# PgBouncer image (an infrastructure pin prod keeps by digest) are deliberately absent.
PROMOTABLE: tuple[str, ...] = (
    "berth:app.image",
    "berth:app.cacheTtlSeconds",
    "berth:app.replicaLagThresholdSeconds",
    "berth:app.readYourWritesSeconds",
    "berth:app.rateLimitContactPerMinute",
    "berth:app.rateLimitReadsPerMinute",
    "berth:app.rateLimitWritesPerMinute",
    "berth:database.engineVersion",
    "berth:cache.engineVersion",
)
IMAGE_KEYS: tuple[str, ...] = ("berth:app.image",)
VERSION_KEYS: tuple[str, ...] = ("berth:database.engineVersion", "berth:cache.engineVersion")


class ConfigError(Exception):
    """A stack's configuration is invalid; the message lists every bad key."""

    def __init__(self, stack: str, problems: list[str]) -> None:
        self.stack = stack
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"invalid configuration for stack '{stack}':\n{lines}")


class SloSettings(Model):
    """The load gate (`berth loadtest`, promotion): a bounded load and the targets it must meet."""

    p50_ms: float = Field(50, gt=0)
    p95_ms: float = Field(200, gt=0)
    p99_ms: float = Field(500, gt=0)
    error_percent: float = Field(0.1, ge=0, le=100)
    rate: int = Field(50, ge=1, le=5000)  # requests per second, at most
    duration_seconds: int = Field(30, ge=1, le=600)
    connections: int = Field(10, ge=1, le=500)
    path: str = Field("/api/health/ready", pattern=r"^/[\w\-./?=&%]*$")

    @model_validator(mode="after")
    def _ordered(self) -> SloSettings:
        if not self.p50_ms <= self.p95_ms <= self.p99_ms:
            raise ValueError(f"need p50Ms <= p95Ms <= p99Ms (got {self.p50_ms}, {self.p95_ms}, {self.p99_ms})")
        if self.connections > self.rate:
            raise ValueError(f"connections ({self.connections}) must not exceed rate ({self.rate}/s)")
        return self


class Settings(Model):
    """Everything one stack deploys, validated as a whole."""

    stack: str
    environment: Literal["staging", "prod"]
    region: Region
    tags: dict[str, str] = Field(default_factory=dict)
    network: NetworkSettings = NetworkSettings()
    cluster: ClusterSettings = ClusterSettings()
    database: DatabaseSettings = DatabaseSettings()
    pgbouncer: PgBouncerSettings = PgBouncerSettings()
    cache: CacheSettings = CacheSettings()
    # Required: every stack says which zone its names live in and how viewers reach it.
    dns: DnsSettings
    cdn: CdnSettings
    app: AppSettings = AppSettings()
    alarms: AlarmSettings = AlarmSettings()
    backup: BackupSettings = BackupSettings()
    dr: DrSettings = DrSettings()
    slo: SloSettings = SloSettings()
    # The resources (logical names, e.g. berth-prod-subnets) whose replacement this change means to make:
    # `berth preview --again` refuses any other replacement of a stateful prod resource.
    intended_replacements: tuple[str, ...] = ()

    @field_validator("tags")
    @classmethod
    def _tags(cls, tags: dict[str, str]) -> dict[str, str]:
        for key in tags:
            if key.lower().startswith("aws:"):
                raise ValueError(f"tag key '{key}' uses the reserved aws: prefix")
        return tags

    @model_validator(mode="after")
    def _cross_area(self) -> Settings:
        problems: list[str] = []
        if self.dr.region is not None and self.dr.region == self.region:
            problems.append(f"berth:dr.region ({self.dr.region}) must differ from aws:region")
        needs_dr = (
            self.database.cross_region_replica
            or self.backup.copy_to_dr
            or self.dr.automated_backup_replication
        )
        if needs_dr and self.dr.region is None:
            problems.append(
                "berth:dr.region is required when database.crossRegionReplica, "
                "backup.copyToDr or dr.automatedBackupReplication is on"
            )
        if self.database.restore is not None and self.database.restore.kind == "replica" and (
            self.database.cross_region_replica
        ):
            problems.append("a stack restored by promoting a replica cannot itself keep that replica")
        for key, name in (("berth:cdn.domain", self.cdn.domain), ("berth:app.originDomain", self.app.origin_domain)):
            if name and not (name == self.dns.zone or name.endswith("." + self.dns.zone)):
                problems.append(f"{key} ({name}) must be a name in berth:dns.zone ({self.dns.zone}): the stack writes "
                                f"its records and certificate validation there")
        if self.cdn.waf and self.app.max_body_bytes > 65536:
            problems.append(f"berth:app.maxBodyBytes ({self.app.max_body_bytes}) exceeds the 65536 bytes a CloudFront "
                            f"WAF can inspect: with berth:cdn.waf on, larger bodies would be blocked unread")
        if not self.cluster.existing and self.cluster.ci_role_arn is None:
            problems.append("berth:cluster.ciRoleArn is required for a new cluster: its creator gets no implicit "
                            "access (access entries are declared), so name the CI deploy role that runs `pulumi up` "
                            "(arn:aws:iam::ACCOUNT:role/NAME)")
        if self.is_prod and not self.cdn.domain:
            problems.append("berth:cdn.domain is required in production: with CloudFront's default certificate "
                            "the minimum TLS version does not apply (TLSv1 stays allowed)")
        if self.is_prod and self.cluster.log_retention_days < self.network.flow_logs_retention_days:
            problems.append(
                f"berth:cluster.logRetentionDays ({self.cluster.log_retention_days}) must not be below "
                f"berth:network.flowLogsRetentionDays ({self.network.flow_logs_retention_days}) in prod: the "
                "control plane's audit log must cover the period the flow logs do"
            )
        problems += offered_in_regions(self)
        problems += connection_budget(self).problems
        cap = capacity(self)
        problems += cap.problems if cap is not None else []
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def is_prod(self) -> bool:
        return self.environment == "prod"

    @property
    def origin_domain(self) -> str:
        """The name CloudFront reaches the app by: app.originDomain, or <stack>-origin.<dns.zone>."""
        return self.app.origin_domain or f"{self.stack}-origin.{self.dns.zone}"

    @property
    def recovery_network(self) -> NetworkSettings:
        """The recovery VPC in dr.region: dr.rebuildCidr, the home VPC's zones and flow-log retention,
        one NAT gateway (a rebuilt cluster can pull images on day one, at the cost of one gateway)."""
        return NetworkSettings(
            cidr=self.dr.rebuild_cidr,
            az_count=self.network.az_count,
            nat_gateways="single",
            flow_logs_retention_days=self.network.flow_logs_retention_days,
        )

    @property
    def database_roles(self) -> DatabaseRolesSettings:
        """The database bootstrap Job runs the app's image (it holds shipments.bootstrap); the role
        names are the components' defaults."""
        return DatabaseRolesSettings(image=self.app.image)

    @property
    def backups(self) -> BackupAndDrSettings:
        """The backups' plans (berth:backup) with the DR region they copy and replicate into (berth:dr)."""
        return BackupAndDrSettings(backup=self.backup, dr=self.dr)

    @property
    def name_prefix(self) -> str:
        """Physical-name prefix shared by every resource of the stack, e.g. berth-prod."""
        return f"{PROJECT}-{self.stack}"

    @property
    def standard_tags(self) -> dict[str, str]:
        """Tags every taggable AWS resource carries (the policy pack checks them)."""
        return {
            "Project": PROJECT,
            "Environment": self.environment,
            "Stack": self.stack,
            "ManagedBy": "pulumi",
            **self.tags,
        }


def offered_in_regions(s: Settings) -> list[str]:
    """Sizes sold somewhere but not where this stack puts them: the database classes and cache node
    type in aws:region (and the replica's class in dr.region), the node types in aws:region."""
    problems: list[str] = []
    db = s.database
    places = [("berth:database.instanceClass", db.instance_class, s.region)]
    if db.replicas:
        places.append(("berth:database.replicaInstanceClass", db.replica_instance_class or db.instance_class, s.region))
    if db.cross_region_replica and s.dr.region is not None:
        places.append(("berth:database.replicaInstanceClass", db.replica_instance_class or db.instance_class,
                       s.dr.region))
    for key, value, region in places:
        allowed = catalog.rds_instance_classes_in(DATABASE_ENGINE, region)
        if allowed and value not in allowed:
            problems.append(f"{key} = {value!r}: " + catalog.refusal(
                "an RDS instance class for PostgreSQL", value, allowed, f"in {region}"))
    allowed = catalog.cache_node_types(s.region)
    if allowed and s.cache.node_type not in allowed:
        problems.append(f"berth:cache.nodeType = {s.cache.node_type!r}: " + catalog.refusal(
            "an ElastiCache node type", s.cache.node_type, allowed, f"in {s.region}"))
    if not s.cluster.existing:
        offered = catalog.ec2_offered_in(s.region)
        for i, t in enumerate(s.cluster.instance_types):
            if offered and t not in offered:
                problems.append(f"berth:cluster.instanceTypes[{i}] = {t!r}: "
                                + catalog.refusal("an EC2 instance type", t, offered, f"offered in {s.region}"))
    return sorted(set(problems), key=problems.index)


class ConnectionBudget(BaseModel):
    """The arithmetic behind "every pod's pool fits through PgBouncer into the database"."""

    app_max_pods: int
    app_pool_per_pod: int
    app_client_connections: int
    pgbouncer_replicas: int
    pgbouncer_max_client_conn: int
    pgbouncer_server_connections: int
    database_max_connections: int
    database_reserved: int
    problems: list[str]

    @property
    def fits(self) -> bool:
        return not self.problems


def connection_budget(s: Settings) -> ConnectionBudget:
    """Client and server connection counts at full scale, and what does not fit."""
    # Each app pod keeps a read-write and a read-only pool.
    clients = s.app.max_replicas * s.app.db_pool_size * 2
    client_capacity = s.pgbouncer.max_client_conn * s.pgbouncer.replicas
    # Per pod: the app's read-write and read-only pools, each with its reserve (PgBouncer adds the
    # reserve to every pool), and the migrations' small pool (components/pgbouncer_config.py). The
    # read-only pool lands on replicas, but a replica fallback sends it to the primary, so the
    # primary must be able to absorb every pool of every PgBouncer pod.
    server = server_connections(s.pgbouncer)
    usable = s.database.max_connections - s.database.reserved_connections
    problems: list[str] = []
    if clients > client_capacity:
        problems.append(
            f"connection budget: app.maxReplicas ({s.app.max_replicas}) x 2 pools x app.dbPoolSize "
            f"({s.app.db_pool_size}) = {clients} client connections exceed pgbouncer.maxClientConn "
            f"({s.pgbouncer.max_client_conn}) x pgbouncer.replicas ({s.pgbouncer.replicas}) = {client_capacity}"
        )
    if server > usable:
        problems.append(
            f"connection budget: pgbouncer.replicas ({s.pgbouncer.replicas}) x (defaultPoolSize "
            f"{s.pgbouncer.default_pool_size} + readOnlyPoolSize {s.pgbouncer.read_only_pool_size} + 2 x "
            f"reservePoolSize {s.pgbouncer.reserve_pool_size} + the migrations' {MIGRATE_POOL_SIZE}) = {server} "
            f"server connections exceed "
            f"database.maxConnections ({s.database.max_connections}) - database.reservedConnections "
            f"({s.database.reserved_connections}) = {usable}"
        )
    return ConnectionBudget(
        app_max_pods=s.app.max_replicas,
        app_pool_per_pod=s.app.db_pool_size * 2,
        app_client_connections=clients,
        pgbouncer_replicas=s.pgbouncer.replicas,
        pgbouncer_max_client_conn=client_capacity,
        pgbouncer_server_connections=server,
        database_max_connections=s.database.max_connections,
        database_reserved=s.database.reserved_connections,
        problems=problems,
    )


class Capacity(BaseModel):
    """The arithmetic behind "every pod at full scale has a node to run on"."""

    instance_type: str  # the listed type with the least room (any of them may be launched)
    node_max: int
    node_allocatable: dict[str, int]  # cpu_m, memory_mib, pods per node (the kubelet's)
    daemonsets_per_node: dict[str, int]
    node_free: dict[str, int]  # what is left per node for the other pods
    workloads: list[dict[str, Any]]  # name, pods, cpu_m, memory_mib (each pod)
    requested: dict[str, int]  # all those pods together
    cluster_free: dict[str, int]  # node_max x node_free
    nodes_needed: int | None  # first-fit decreasing; None when they do not fit
    problems: list[str]

    @property
    def fits(self) -> bool:
        return not self.problems


def _res(r: Any) -> dict[str, int]:
    return {"cpu_m": r.cpu_m, "memory_mib": r.memory_mib, "pods": r.pods}


def capacity(s: Settings) -> Capacity | None:
    """Every pod at full scale (HPA max, PgBouncer, the cluster's own pods, one extra pod per
    rolling update) against cluster.nodeMax nodes of the smallest listed instance type.

    None for an existing cluster: its nodes are not this stack's to size."""
    if s.cluster.existing:
        return None
    c = s.cluster
    smallest = min(c.instance_types, key=lambda t: (cap.allocatable(t).cpu_m, cap.allocatable(t).memory_mib,
                                                   cap.allocatable(t).pods))
    node = cap.allocatable(smallest)
    # Container Insights' pods run on every cluster the stack creates: the Cluster installs the add-on
    # (components/cluster.py, `_container_insights`).
    system = (*cap.SYSTEM_PODS, *cap.CONTAINER_INSIGHTS_PODS)
    daemonsets = cap.per_node(system)
    free = node - daemonsets
    app = cap.pod(s.app.cpu_request, s.app.memory_request)
    # PgBouncer's pod: both containers (its init container asks for less than their sum).
    pooler = cap.pod(pgb.CPU_REQUEST, pgb.MEMORY_REQUEST) + cap.pod(
        pgb.EXPORTER_RESOURCES["requests"]["cpu"], pgb.EXPORTER_RESOURCES["requests"]["memory"])
    pooler = cap.Resources(pooler.cpu_m, pooler.memory_mib, 1)
    workloads = [
        # maxSurge 1 (or the migrations Job before it): one pod more than the HPA's maximum.
        cap.Workload("app", s.app.max_replicas + 1, app),
        cap.Workload("pgbouncer", s.pgbouncer.replicas + 1, pooler),
        *[cap.Workload(p.name, p.replicas, p.requests) for p in system if not p.per_node],
    ]
    requested = sum((w.requests.times(w.count) for w in workloads), cap.Resources())
    total = free.times(c.node_max)
    placed = cap.place(workloads, free, c.node_max)
    problems: list[str] = []
    if placed.nodes_needed is None:
        shown = ", ".join(f"{w.name} {w.count} x {w.requests.cpu_m}m/{w.requests.memory_mib}Mi" for w in workloads)
        problems.append(
            f"capacity: at full scale the pods request {requested.cpu_m}m CPU, {requested.memory_mib}Mi memory, "
            f"{requested.pods} pods ({shown}; app.maxReplicas ({s.app.max_replicas}) + 1 and pgbouncer.replicas "
            f"({s.pgbouncer.replicas}) + 1 for rolling updates) but cluster.nodeMax ({c.node_max}) x {smallest} "
            f"(allocatable {node.cpu_m}m/{node.memory_mib}Mi/{node.pods} pods, less DaemonSets "
            f"{daemonsets.cpu_m}m/{daemonsets.memory_mib}Mi/{daemonsets.pods} pods) = {total.cpu_m}m, "
            f"{total.memory_mib}Mi, {total.pods} pods cannot place {len(placed.unplaced)} of them "
            f"({', '.join(sorted(set(placed.unplaced)))}); raise cluster.nodeMax or the instance size, or lower "
            "app.maxReplicas or its requests"
        )
    return Capacity(
        instance_type=smallest,
        node_max=c.node_max,
        node_allocatable=_res(node),
        daemonsets_per_node=_res(daemonsets),
        node_free=_res(free),
        workloads=[{"name": w.name, "pods": w.count, "cpu_m": w.requests.cpu_m, "memory_mib": w.requests.memory_mib}
                   for w in workloads],
        requested=_res(requested),
        cluster_free=_res(total),
        nodes_needed=placed.nodes_needed,
        problems=problems,
    )


def _key(loc: tuple[Any, ...]) -> str:
    """A pydantic error location as the key a user writes: berth:database.replicas."""
    if not loc:
        return "berth"
    head, *rest = loc
    if head == "region":
        return "aws:region"
    base = f"berth:{head}"
    for part in rest:
        base += f"[{part}]" if isinstance(part, int) else f".{part}"
    return base


def _lookup(raw: Mapping[str, Any], loc: tuple[Any, ...]) -> Any:
    cur: Any = raw
    for part in loc:
        if (isinstance(cur, Mapping) and part in cur) or (isinstance(cur, list) and isinstance(part, int) and part < len(cur)):
            cur = cur[part]
        else:
            return None
    return cur


def _describe(err: Any, raw: Mapping[str, Any]) -> str:
    loc = tuple(err["loc"])
    key = _key(loc)
    msg = err["msg"]
    kind = err["type"]
    value = err.get("input")
    if kind == "extra_forbidden":
        parent = loc[:-1]
        model = _model_at(parent)
        allowed = ", ".join(sorted(f.alias or n for n, f in model.model_fields.items())) if model else "?"
        shown = json.dumps(value) if not isinstance(value, str) else repr(value)
        return f"{key} = {shown}: unknown key (allowed keys here: {allowed})"
    if kind == "missing":
        return f"{key}: required but not set"
    if kind == "value_error":
        msg = msg.removeprefix("Value error, ")
    if kind == "string_pattern_mismatch":
        pattern = err["ctx"]["pattern"]
        msg = f"not {PATTERN_WORDS[pattern]}" if pattern in PATTERN_WORDS else f"does not match {pattern}"
    if kind == "literal_error":
        msg = f"allowed values are {err['ctx']['expected']}"
    if isinstance(value, Mapping) and kind == "value_error" and len(loc) <= 1:
        # A stack-wide problem that names its own key already reads right without a prefix.
        return msg if not loc and msg.startswith(("berth:", "aws:")) else f"{key}: {msg}"
    shown = json.dumps(value) if not isinstance(value, str) else repr(value)
    return f"{key} = {shown}: {msg}"


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    model: type[BaseModel] | None = Settings
    for part in loc:
        if model is None or isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        if field is None:
            field = next((f for f in model.model_fields.values() if f.alias == part), None)
        if field is None:
            return None
        ann = field.annotation
        candidates = [ann, *getattr(ann, "__args__", ())]
        model = next((c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None)
    return model


def parse_settings(stack: str, values: Mapping[str, Any]) -> Settings:
    """Validate raw config (keys without the `berth:` prefix, plus `region`) into Settings."""
    raw = {"stack": stack, **values}
    try:
        return Settings.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(stack, [_describe(e, raw) for e in exc.errors()]) from None


def settings_from_config_map(stack: str, config: Mapping[str, Any]) -> Settings:
    """Validate a stack file's `config:` map (as `Pulumi.<stack>.yaml` holds it) into Settings."""
    return parse_settings(stack, raw_from_config_map(config))


def raw_from_config_map(config: Mapping[str, Any]) -> dict[str, Any]:
    """Turn `Pulumi.<stack>.yaml` `config:` entries into the dict parse_settings takes.

    Accepts structured values (dicts/lists, as in the YAML file) or JSON strings (as the
    Pulumi runtime hands them to the program).
    """
    raw: dict[str, Any] = {}
    for full_key, value in config.items():
        ns, _, key = full_key.partition(":")
        if isinstance(value, str) and value[:1] in "{[":
            with contextlib.suppress(json.JSONDecodeError):
                value = json.loads(value)
        if ns == "aws" and key == "region":
            raw["region"] = value
        elif ns == PROJECT:
            if key in ("kubeconfig",):
                continue  # secrets are read by the cluster wiring, never validated as settings
            raw[key] = value
    return raw


KNOWN_KEYS = ("environment", "tags", *AREAS, "intendedReplacements")


def load_settings() -> Settings:
    """Read and validate this stack's settings from the Pulumi runtime config.

    Must be called before any resource is registered: a bad value raises ConfigError
    (a pulumi.RunError, so the CLI prints it without a traceback).
    """
    import pulumi

    stack = pulumi.get_stack()
    cfg = pulumi.Config(PROJECT)
    raw: dict[str, Any] = {}
    for key in KNOWN_KEYS:
        value = cfg.get_object(key) if key not in ("environment",) else cfg.get(key)
        if value is not None:
            raw[key] = value
    region = pulumi.Config("aws").get("region")
    if region is not None:
        raw["region"] = region
    # Unknown berth:* keys are typos that would otherwise be ignored silently.
    from pulumi.runtime.config import CONFIG

    unknown = sorted(
        k.split(":", 1)[1]
        for k in CONFIG.get()
        if k.startswith(f"{PROJECT}:") and k.split(":", 1)[1] not in (*KNOWN_KEYS, "kubeconfig")
    )
    try:
        settings = parse_settings(stack, raw)
    except ConfigError as exc:
        problems = exc.problems
    else:
        problems = []
    problems = [f"berth:{k}: unknown key (allowed: {', '.join(KNOWN_KEYS)})" for k in unknown] + problems
    if not problems and settings.cluster.existing and cfg.get_secret("kubeconfig") is None:
        problems.append(
            "berth:kubeconfig: required when berth:cluster.existing is true "
            "(set it with `pulumi config set --secret berth:kubeconfig < kubeconfig.yaml`)"
        )
    if problems:
        raise pulumi.RunError(str(ConfigError(stack, problems)))
    return settings


def existing_kubeconfig(settings: Settings) -> Any:
    """The secret kubeconfig of an existing cluster (`berth:kubeconfig`), or None when berth makes one."""
    import pulumi

    return pulumi.Config(PROJECT).require_secret("kubeconfig") if settings.cluster.existing else None


def instance_vcpus(instance_type: str) -> int | None:
    """The vCPUs of an EC2 instance type (components/catalog.py: the data moto ships), else None."""
    known = catalog.ec2_instance_types().get(instance_type)
    return known.vcpus if known else None
