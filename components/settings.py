"""Components room: the typed knobs components accept, validated where they are declared.

Every component takes its wiring (the outputs of other components) plus one settings model from
this module (as ol-infrastructure's components take their pydantic config), so a value is checked
once, with the same rules, whoever builds the component. One model per config area, in the order
of the architecture; stacks/config.py composes them into a stack's Settings (adding the checks
that span areas) and maps file keys onto them: field names are snake_case here and camelCase in
`Pulumi.<stack>.yaml`, and validation messages name the camelCase keys. Nothing here reads
configuration.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator
from pydantic.alias_generators import to_camel

from components import catalog

_DIGEST = re.compile(r"^[\w.\-/:]+@sha256:[0-9a-f]{64}$")
_IMAGE = re.compile(r"^[\w.\-/:]+(@sha256:[0-9a-f]{64})?$")


def _image(value: str) -> str:
    if not _IMAGE.match(value):
        raise ValueError("an image reference such as repo/name:tag or repo/name@sha256:<64 hex>")
    return value


def is_digest(image: str) -> bool:
    """True when an image reference is pinned by content digest."""
    return bool(_DIGEST.match(image))


Image = Annotated[str, AfterValidator(_image)]

# ddd:hh24:mi-ddd:hh24:mi, as RDS and ElastiCache expect maintenance windows.
MaintenanceWindow = Annotated[
    str, Field(pattern=r"^(mon|tue|wed|thu|fri|sat|sun):\d{2}:\d{2}-(mon|tue|wed|thu|fri|sat|sun):\d{2}:\d{2}$")
]
DailyWindow = Annotated[str, Field(pattern=r"^\d{2}:\d{2}-\d{2}:\d{2}$")]


@functools.cache
def aws_regions() -> frozenset[str]:
    """Every commercial AWS region botocore knows (offline: from its bundled endpoint data)."""
    import botocore.session

    session = botocore.session.get_session()
    return frozenset(session.get_available_regions("ec2"))


def _region(value: str) -> str:
    if value not in aws_regions():
        raise ValueError(f"not an AWS region; allowed: {', '.join(sorted(aws_regions()))}")
    return value


def _cidr(value: str) -> str:
    try:
        net = ipaddress.IPv4Network(value, strict=True)
    except ValueError as exc:
        raise ValueError(f"not an IPv4 CIDR block such as 10.0.0.0/16 ({exc})") from None
    return str(net)


def _private_cidr(value: str) -> str:
    value = _cidr(value)
    net = ipaddress.IPv4Network(value)
    if not net.is_private or not (16 <= net.prefixlen <= 24):
        raise ValueError("a VPC range must be a private (RFC 1918) block between /16 and /24")
    return value


Region = Annotated[str, AfterValidator(_region)]
Cidr = Annotated[str, AfterValidator(_cidr)]
VpcCidr = Annotated[str, AfterValidator(_private_cidr)]
LogRetentionDays = Literal[1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 3653]
DOMAIN = r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,}$"


# Every pattern above and below, in words: what a validation error says instead of the regex
# (stacks/config.py looks the pattern up; tests/stacks/test_config.py checks each has its words).
PATTERN_WORDS: dict[str, str] = {
    r"^(mon|tue|wed|thu|fri|sat|sun):\d{2}:\d{2}-(mon|tue|wed|thu|fri|sat|sun):\d{2}:\d{2}$":
        "a weekly window ddd:hh:mm-ddd:hh:mm in UTC, such as sun:04:30-sun:05:30",
    r"^\d{2}:\d{2}-\d{2}:\d{2}$": "a daily window hh:mm-hh:mm in UTC, such as 03:00-04:00",
    DOMAIN: "a lower-case DNS name such as shipments.example.com",
    r"^vpc-[0-9a-f]{8,17}$": "a VPC id such as vpc-0123456789abcdef0",
    r"^subnet-[0-9a-f]{8,17}$": "a subnet id such as subnet-0123456789abcdef0",
    r"^1\.(2[89]|3[0-6])$": "an EKS version from 1.28 to 1.36, such as \"1.33\" (quoted)",
    r"^arn:aws[\w-]*:iam::\d{12}:role/.+$": "an IAM role ARN such as arn:aws:iam::123456789012:role/admins",
    r"^[0-9A-Za-z][A-Za-z0-9\-_]{0,99}$":
        "an EKS cluster name: 1-100 letters, digits, hyphens and underscores, starting with a letter or digit",
    r"^sg-[0-9a-f]{8,17}$": "a security group id such as sg-0123456789abcdef0",
    r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$": "a UTC time such as 2026-01-31T23:59:00Z",
    r"^(7\.[0-9]|8\.[0-9])$": "an engine version major.minor from 7.0 to 8.9, such as \"7.1\" (quoted)",
    r"^\d+m?$": "a Kubernetes CPU quantity in whole cores or millicores, such as 1 or 250m",
    r"^\d+(Mi|Gi)$": "a Kubernetes memory quantity in Mi or Gi, such as 256Mi or 1Gi",
    r"^https?://[^/\s]+$": "an origin: http:// or https:// and a host, no path, such as https://app.example.com",
    r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$": "an e-mail address such as oncall@example.com",
    r"^https://\S+$": "an https:// URL",
    r"^/[\w\-./?=&%]*$": "a URL path starting with /, such as /api/health/ready",
}


class Model(BaseModel):
    """Strict base: camelCase keys in the file, unknown keys rejected, values re-validated on copy."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
        validate_default=True,
    )


# ---- dns.py: Dns ----------------------------------------------------------------------------------
class DnsSettings(Model):
    """`berth:dns`, for Dns: the public zone the stack's names live in."""

    # A public Route 53 zone this account already holds (created and delegated once, outside any
    # stack): the stack only adds records to it -- the app's origin name, the CDN's domain, and
    # the DNS validation of their certificates.
    zone: str = Field(pattern=DOMAIN)


# ---- network.py: Network --------------------------------------------------------------------------
class ExistingNetwork(Model):
    """A VPC this stack uses instead of making one: the recovery VPC a standby database already
    lives in (`berth dr rebuild --from replica` fills this in from what it finds in the region)."""

    vpc_id: str = Field(pattern=r"^vpc-[0-9a-f]{8,17}$")
    cidr: str
    availability_zones: list[str] = Field(min_length=2, max_length=3)
    private_subnet_ids: list[Annotated[str, Field(pattern=r"^subnet-[0-9a-f]{8,17}$")]] = Field(min_length=2)
    public_subnet_ids: list[Annotated[str, Field(pattern=r"^subnet-[0-9a-f]{8,17}$")]] = Field(min_length=2)

    @model_validator(mode="after")
    def _per_az(self) -> ExistingNetwork:
        n = len(self.availability_zones)
        if len(self.private_subnet_ids) != n or len(self.public_subnet_ids) != n:
            raise ValueError(
                f"one private and one public subnet per availability zone: {n} zones, "
                f"{len(self.private_subnet_ids)} private and {len(self.public_subnet_ids)} public subnets"
            )
        return self


class NetworkSettings(Model):
    """`berth:network`, for Network: the VPC's range, zones, NAT layout and flow logs (or an existing VPC)."""

    cidr: VpcCidr = "10.0.0.0/16"
    az_count: int = Field(3, ge=2, le=3)
    # "single": one NAT gateway shared by every AZ (cheap, one AZ's outage cuts egress);
    # "one_per_az": each private subnet egresses through the NAT in its own AZ.
    nat_gateways: Literal["single", "one_per_az"] = "one_per_az"
    flow_logs_retention_days: LogRetentionDays = 90
    # Use an existing VPC instead of creating one (a DR rebuild in the recovery VPC).
    existing: ExistingNetwork | None = None

    @model_validator(mode="after")
    def _existing(self) -> NetworkSettings:
        if self.existing is not None and self.existing.cidr != self.cidr:
            raise ValueError(f"cidr ({self.cidr}) must be the existing VPC's ({self.existing.cidr})")
        if self.existing is not None and len(self.existing.availability_zones) != self.az_count:
            raise ValueError(f"azCount ({self.az_count}) must match the existing VPC's "
                             f"{len(self.existing.availability_zones)} availability zones")
        return self


# ---- cluster.py: Cluster (and autoscaler.py: ClusterAutoscaler) -----------------------------------
_GRAVITON = re.compile(r"^[a-z]+\d+g[a-z]*\.")


def _ec2_instance_type(value: str) -> str:
    known = catalog.ec2_instance_types()
    if value not in known:
        raise ValueError(catalog.refusal("an EC2 instance type", value, frozenset(known),
                                         "(a name such as m6i.large that EC2 sells)"))
    return value


Ec2InstanceType = Annotated[str, AfterValidator(_ec2_instance_type)]


def cpu_architecture(instance_type: str) -> Literal["arm64", "x86_64"]:
    """The CPU architecture of an EC2 instance type (Graviton types are arm64)."""
    return "arm64" if _GRAVITON.match(instance_type) else "x86_64"


# An IAM role's ARN, as EKS access entries take it (a role, not an STS assumed-role session).
RoleArn = Annotated[str, Field(pattern=r"^arn:aws[\w-]*:iam::\d{12}:role/.+$")]


class ClusterSettings(Model):
    """`berth:cluster`, for Cluster and its ClusterAutoscaler: EKS version, access, nodes, logs."""

    version: str = Field("1.33", pattern=r"^1\.(2[89]|3[0-6])$")
    public_access_cidrs: list[Cidr] = Field(default_factory=list)
    instance_types: list[Ec2InstanceType] = Field(default_factory=lambda: ["m6i.large"], min_length=1)
    capacity_type: Literal["ON_DEMAND", "SPOT"] = "ON_DEMAND"
    node_min: int = Field(2, ge=1, le=100)
    node_max: int = Field(4, ge=1, le=100)
    node_desired: int = Field(2, ge=1, le=100)
    node_disk_gib: int = Field(50, ge=20, le=1000)
    log_retention_days: LogRetentionDays = 90
    # Container Insights' groups (/aws/containerinsights/<cluster>/{performance,application,host,
    # dataplane}): made by the stack before the add-on writes, with this retention and the cluster's key.
    container_log_retention_days: LogRetentionDays = 30
    # What EKS does when the version's standard support ends: STANDARD upgrades the control plane
    # automatically; EXTENDED keeps the version and bills extended support (about 6x the control
    # plane's price). Chosen here, never by a default nobody read; `berth preflight` warns 90 days ahead.
    upgrade_policy: Literal["STANDARD", "EXTENDED"] = "STANDARD"
    # Who reaches the Kubernetes API, declared (EKS access entries; the creator gets no implicit
    # admin): the environment's CI deploy role (cluster admin: it runs `pulumi up` and its
    # Kubernetes provider), named admin / break-glass roles (cluster admin) and read-only on-call
    # roles (AmazonEKSViewPolicy). A new cluster needs ciRoleArn: nobody else could deploy to it.
    ci_role_arn: RoleArn | None = None
    admin_role_arns: list[RoleArn] = Field(default_factory=list)
    read_only_role_arns: list[RoleArn] = Field(default_factory=list)
    # The CI role review environments made from this stack deploy with (`berth env create` sets
    # it as their ciRoleArn); not used by the cluster itself.
    review_ci_role_arn: RoleArn | None = None
    # EKS refuses to delete a protected cluster; staging turns it off to be disposable.
    deletion_protection: bool = True
    # The Cluster Autoscaler's image (registry.k8s.io); its minor must be the cluster's
    # (CA simulates that release's scheduler). Prod pins it by digest.
    autoscaler_image: Image = "registry.k8s.io/autoscaling/cluster-autoscaler:v1.33.1"
    # Use an existing cluster instead of creating one: the kubeconfig comes from the
    # secret config value `berth:kubeconfig` (never from this object).
    existing: bool = False
    # With `existing`: the cluster's name and the security group its nodes carry (the data
    # tiers admit it), since nothing here creates them.
    existing_cluster_name: str | None = Field(None, pattern=r"^[0-9A-Za-z][A-Za-z0-9\-_]{0,99}$")
    existing_node_security_group_id: str | None = Field(None, pattern=r"^sg-[0-9a-f]{8,17}$")

    @model_validator(mode="after")
    def _sizes(self) -> ClusterSettings:
        if not self.node_min <= self.node_desired <= self.node_max:
            raise ValueError(
                f"node sizes must satisfy nodeMin <= nodeDesired <= nodeMax "
                f"(got {self.node_min} <= {self.node_desired} <= {self.node_max})"
            )
        if "0.0.0.0/0" in self.public_access_cidrs:
            raise ValueError("publicAccessCidrs must not contain 0.0.0.0/0; list the operators' ranges")
        if self.existing and not (self.existing_cluster_name and self.existing_node_security_group_id):
            raise ValueError("existing: true needs existingClusterName and existingNodeSecurityGroupId")
        named = [*([self.ci_role_arn] if self.ci_role_arn else []), *self.admin_role_arns, *self.read_only_role_arns]
        twice = sorted({a for a in named if named.count(a) > 1})
        short = [a.rsplit("/", 1)[-1] for a in set(named)]
        twice += sorted({a for a in set(named) if short.count(a.rsplit("/", 1)[-1]) > 1})
        if twice:
            raise ValueError(f"{', '.join(twice)}: a role (or a role name) named more than once across ciRoleArn, "
                             "adminRoleArns and readOnlyRoleArns: EKS holds one access entry per principal and "
                             "the entries are named after the role; name each role once")
        if len({cpu_architecture(t) for t in self.instance_types}) != 1:
            raise ValueError(f"instanceTypes mix CPU architectures ({self.instance_types}): the node group runs one AMI")
        tag = re.search(r":v(\d+)\.(\d+)\.\d+(@|$)", self.autoscaler_image)
        if tag is None or f"{tag[1]}.{tag[2]}" != self.version:
            raise ValueError(
                f"autoscalerImage ({self.autoscaler_image}) must name a v{self.version}.x tag (repo:v{self.version}.N, "
                f"optionally @sha256:...): Cluster Autoscaler's minor follows the cluster's version ({self.version})"
            )
        return self


# ---- database.py: Database ------------------------------------------------------------------------
class RestoreSource(Model):
    """Where a database comes from instead of starting empty (disaster recovery)."""

    kind: Literal["snapshot", "pitr", "replica"]
    # snapshot: a DB snapshot identifier or ARN (a copy living in this stack's region).
    snapshot_identifier: str | None = None
    # pitr: the source instance (its ARN, or the DbiResourceId of replicated automated backups).
    source_db_instance_arn: str | None = None
    source_dbi_resource_id: str | None = None
    restore_time: str | None = Field(None, pattern=r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")
    use_latest_restorable_time: bool = True
    # replica: an existing cross-region replica promoted to a standalone primary.
    replica_identifier: str | None = None
    # replica: set once the first `pulumi up` has imported the promoted instance. The import must
    # tolerate every input that differs from what the replica was made with (parameter group,
    # monitoring role, Multi-AZ, tags...); afterwards those converge as ordinary updates.
    adopted: bool = False

    @model_validator(mode="after")
    def _complete(self) -> RestoreSource:
        need = {
            "snapshot": ["snapshot_identifier"],
            "pitr": [],
            "replica": ["replica_identifier"],
        }[self.kind]
        missing = [to_camel(k) for k in need if getattr(self, k) is None]
        if self.kind == "pitr" and not (self.source_db_instance_arn or self.source_dbi_resource_id):
            missing.append("sourceDbInstanceArn or sourceDbiResourceId")
        if missing:
            raise ValueError(f"restore kind '{self.kind}' needs {', '.join(missing)}")
        return self


def _postgres_major(value: str) -> str:
    if re.fullmatch(r"1[4-7]\.\d+", value):
        raise ValueError(
            f"give the major version only, e.g. \"{value.split('.')[0]}\": RDS retires old minor versions "
            "(a pinned minor is eventually refused on create) and applies minor upgrades itself "
            "(autoMinorVersionUpgrade), so a pinned minor would read as a downgrade on the next update"
        )
    if not re.fullmatch(r"1[4-7]", value):
        raise ValueError("a PostgreSQL major version RDS offers: 14, 15, 16 or 17")
    return value


PostgresMajor = Annotated[str, AfterValidator(_postgres_major)]
# The RDS engine Database creates (components/database.py).
DATABASE_ENGINE = "postgres"


class DatabaseSettings(Model):
    """`berth:database`, for Database: the primary, its replicas, storage, backups, parameters."""

    # The major only: RDS picks the default minor on create and upgrades minors in the
    # maintenance window (auto_minor_version_upgrade); the provider keeps "16" without a diff.
    engine_version: PostgresMajor = "16"
    # An RDS instance class RDS offers for PostgreSQL at engineVersion (components/catalog.py).
    instance_class: str = "db.t4g.medium"
    replica_instance_class: str | None = None
    replicas: int = Field(1, ge=0, le=5)
    allocated_storage_gib: int = Field(50, ge=20, le=65536)
    max_allocated_storage_gib: int = Field(200, ge=20, le=65536)
    iops: int | None = Field(None, ge=3000, le=80000)
    multi_az: bool = True
    # The exported postgresql (slow statements, with their literal values) and upgrade logs: the
    # stack makes each instance's groups before RDS writes, with this retention and the tier's key.
    log_retention_days: LogRetentionDays = 30
    backup_retention_days: int = Field(7, ge=1, le=35)
    backup_window: DailyWindow = "03:00-04:00"
    maintenance_window: MaintenanceWindow = "sun:04:30-sun:05:30"
    max_connections: int = Field(400, ge=50, le=5000)
    # Connections kept free for superuser / migrations / operators.
    reserved_connections: int = Field(20, ge=3, le=500)
    slow_query_ms: int = Field(500, ge=0, le=60000)
    idle_in_transaction_timeout_ms: int = Field(60000, ge=1000, le=3600000)
    deletion_protection: bool = True
    skip_final_snapshot: bool = False
    performance_insights_retention_days: Literal[7, 31, 93, 186, 372, 731] = 7
    monitoring_interval_seconds: Literal[1, 5, 10, 15, 30, 60] = 60
    cross_region_replica: bool = False
    restore: RestoreSource | None = None

    @field_validator("instance_class", "replica_instance_class")
    @classmethod
    def _offered(cls, value: str | None, info: ValidationInfo) -> str | None:
        version = info.data.get("engine_version")
        if value is None or version is None:  # a bad engineVersion is reported on its own
            return value
        allowed = catalog.rds_instance_classes(DATABASE_ENGINE, version)
        if value not in allowed:
            raise ValueError(catalog.refusal(f"an RDS instance class offered for PostgreSQL {version}", value, allowed,
                                             "(a name such as db.r6g.large)"))
        return value

    @model_validator(mode="after")
    def _storage(self) -> DatabaseSettings:
        if self.max_allocated_storage_gib < self.allocated_storage_gib:
            raise ValueError(
                f"maxAllocatedStorageGib ({self.max_allocated_storage_gib}) must be >= "
                f"allocatedStorageGib ({self.allocated_storage_gib})"
            )
        if self.reserved_connections >= self.max_connections:
            raise ValueError("reservedConnections must be below maxConnections")
        if self.iops is not None and self.allocated_storage_gib < 400:
            raise ValueError(
                f"iops ({self.iops}) can only be provisioned on gp3 PostgreSQL volumes of 400 GiB "
                f"or more (allocatedStorageGib is {self.allocated_storage_gib}); below that gp3 gives 3000"
            )
        return self


# ---- database_roles.py: DatabaseRoles -------------------------------------------------------------
# The database roles PgBouncer admits (app/shipments/bootstrap.py creates them in PostgreSQL): the
# app reads and writes rows through `shipments` and `shipments_ro`; the schema owner runs the
# migrations through `shipments_migrate` and nothing else. The RDS master user is not among them.
APP_ROLE = "shipments_app"
OWNER_ROLE = "shipments_owner"


class DatabaseRolesSettings(Model):
    """For DatabaseRoles; no config area of its own: stacks/config.py composes it (`database_roles`)
    from the app's image, which holds `shipments.bootstrap`."""

    image: Image
    owner_role: str = OWNER_ROLE
    app_role: str = APP_ROLE

    @model_validator(mode="after")
    def _distinct(self) -> DatabaseRolesSettings:
        if self.owner_role == self.app_role:
            raise ValueError(f"owner_role and app_role must differ (both {self.owner_role!r})")
        return self


# ---- pgbouncer.py: PgBouncer ----------------------------------------------------------------------
class PgBouncerSettings(Model):
    """`berth:pgbouncer`, for PgBouncer: images, pods and pool sizes."""

    # CloudNativePG's PgBouncer image: maintained, multi-arch, PgBouncer on PATH (/usr/bin).
    image: Image = "ghcr.io/cloudnative-pg/pgbouncer:1.25.2"
    exporter_image: Image = "quay.io/prometheuscommunity/pgbouncer-exporter:v0.12.1"
    # Init container that fetches the RDS CA bundle at pod start (see components/pgbouncer.py).
    ca_fetch_image: Image = "curlimages/curl:8.11.1"
    replicas: int = Field(2, ge=1, le=10)
    # Server connections per (database, user) pair, per PgBouncer pod.
    default_pool_size: int = Field(20, ge=1, le=500)
    read_only_pool_size: int = Field(20, ge=1, le=500)
    reserve_pool_size: int = Field(5, ge=0, le=100)
    max_client_conn: int = Field(1000, ge=10, le=100000)
    server_idle_timeout_seconds: int = Field(600, ge=10, le=86400)


# ---- cache.py: Cache ------------------------------------------------------------------------------
class CacheSettings(Model):
    """`berth:cache`, for Cache: engine, nodes, failover, snapshots."""

    engine: Literal["redis", "valkey"] = "redis"
    engine_version: str = Field("7.1", pattern=r"^(7\.[0-9]|8\.[0-9])$")
    # A node type ElastiCache sells in some region (stacks/config.py checks the stack's own).
    node_type: str = "cache.t4g.small"
    replicas: int = Field(1, ge=0, le=5)
    multi_az: bool = True
    automatic_failover: bool = True
    snapshot_retention_days: int = Field(7, ge=0, le=35)
    snapshot_window: DailyWindow = "02:00-03:00"
    maintenance_window: MaintenanceWindow = "sun:05:30-sun:06:30"
    log_retention_days: LogRetentionDays = 30

    @field_validator("node_type")
    @classmethod
    def _sold(cls, value: str) -> str:
        allowed = catalog.cache_node_types()
        if value not in allowed:
            raise ValueError(catalog.refusal("an ElastiCache node type", value, allowed,
                                             "(a name such as cache.t4g.small)"))
        return value

    @model_validator(mode="after")
    def _failover(self) -> CacheSettings:
        if (self.automatic_failover or self.multi_az) and self.replicas < 1:
            raise ValueError("automaticFailover and multiAz need at least one replica (replicas >= 1)")
        if self.multi_az and not self.automatic_failover:
            raise ValueError("multiAz requires automaticFailover")
        return self


# ---- app.py: App ----------------------------------------------------------------------------------
class AppSettings(Model):
    """`berth:app`, for App: image, scale, resources and the Shipments API's own settings."""

    image: Image = "ghcr.io/berth/shipments-api:0.1.0"
    replicas: int = Field(2, ge=1, le=100)
    min_replicas: int = Field(2, ge=1, le=100)
    max_replicas: int = Field(6, ge=1, le=200)
    target_cpu_percent: int = Field(70, ge=10, le=95)
    target_memory_percent: int = Field(80, ge=10, le=95)
    cpu_request: str = Field("250m", pattern=r"^\d+m?$")
    cpu_limit: str = Field("1", pattern=r"^\d+m?$")
    memory_request: str = Field("256Mi", pattern=r"^\d+(Mi|Gi)$")
    memory_limit: str = Field("512Mi", pattern=r"^\d+(Mi|Gi)$")
    # asyncpg pool size per pod, to each of the read-write and read-only PgBouncer databases.
    db_pool_size: int = Field(10, ge=1, le=100)
    rate_limit_contact_per_minute: int = Field(5, ge=1, le=10000)
    rate_limit_reads_per_minute: int = Field(100, ge=1, le=100000)
    rate_limit_writes_per_minute: int = Field(20, ge=1, le=100000)
    cache_ttl_seconds: int = Field(60, ge=1, le=86400)
    replica_lag_threshold_seconds: float = Field(5.0, gt=0, le=300)
    read_your_writes_seconds: float = Field(5.0, ge=0, le=300)
    cors_origins: list[Annotated[str, Field(pattern=r"^https?://[^/\s]+$")]] = Field(default_factory=list)
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    # The name CloudFront reaches the app's load balancer by, in dns.zone; the stack gets it an
    # ACM certificate (this region) so CloudFront's TLS check passes. Default: <stack>-origin.<zone>
    # (stacks/config.py resolves it, Settings.origin_domain, and wires it as AppArgs.origin_domain).
    origin_domain: str | None = Field(None, pattern=DOMAIN)
    # The largest request body the app accepts; the CDN's WAF blocks above the same number.
    max_body_bytes: int = Field(65536, ge=1024, le=10 * 1024 * 1024)

    @model_validator(mode="after")
    def _replicas(self) -> AppSettings:
        if not self.min_replicas <= self.replicas <= self.max_replicas:
            raise ValueError(
                f"replica counts must satisfy minReplicas <= replicas <= maxReplicas "
                f"(got {self.min_replicas} <= {self.replicas} <= {self.max_replicas})"
            )
        return self


# ---- cdn.py: Cdn ----------------------------------------------------------------------------------
# The longest the app's Cache-Control may keep a shipment read at the edge (the API cache policy's max).
API_CACHE_MAX_TTL_SECONDS = 60
# CloudFront's origin read timeout for the app (components/cdn.py): past it the viewer gets a 504.
# The app's request time budget (components/app.py, REQUEST_TIME_BUDGET_SECONDS) stays a margin
# below it, so a request that cannot be served is answered the app's 503 with Retry-After instead.
ORIGIN_READ_TIMEOUT_SECONDS = 30
REQUEST_BUDGET_MARGIN_SECONDS = 5


class CdnSettings(Model):
    """`berth:cdn`, for Cdn: price class, viewers' domain, WAF, caching, logs."""

    price_class: Literal["PriceClass_100", "PriceClass_200", "PriceClass_All"] = "PriceClass_100"
    # The viewers' domain (in dns.zone); its ACM certificate (us-east-1) is created and
    # DNS-validated, and the minimum TLS version applies to it.
    domain: str | None = Field(None, pattern=DOMAIN)
    # Without a domain viewers get *.cloudfront.net and CloudFront's certificate, on which
    # CloudFront ignores the minimum TLS version (TLSv1 stays allowed): say so explicitly.
    accept_default_certificate: bool = False
    waf: bool = True
    # Requests per 5 minutes per client IP before the WAF blocks it.
    waf_rate_limit: int = Field(2000, ge=100, le=2_000_000_000)
    # Known-bad-inputs and anonymous-IP managed rule groups on top of the common rule set.
    waf_extra_rule_groups: bool = False
    waf_log_retention_days: LogRetentionDays = 90
    # Default TTL of GET /api/shipments* when the app sends no Cache-Control; 0 = never cache. At
    # most the policy's max TTL (a default above it would never apply).
    api_cache_ttl_seconds: int = Field(5, ge=0, le=API_CACHE_MAX_TTL_SECONDS)
    log_retention_days: int = Field(90, ge=1, le=3650)

    @model_validator(mode="after")
    def _domain(self) -> CdnSettings:
        if self.domain and self.accept_default_certificate:
            raise ValueError("acceptDefaultCertificate is for a distribution without a domain: remove one of them")
        if not self.domain and not self.accept_default_certificate:
            raise ValueError(
                "set domain (a name in dns.zone: viewers get our certificate and TLS 1.2+) or, where "
                "*.cloudfront.net with CloudFront's certificate (TLSv1 still allowed) will do, "
                "acceptDefaultCertificate: true"
            )
        return self


# ---- alarms.py: Alarms ----------------------------------------------------------------------------
class AlarmSettings(Model):
    """`berth:alarms`, for Alarms: who is paged, the thresholds, the uptime canary."""

    emails: list[Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$")]] = Field(default_factory=list)
    https_endpoints: list[Annotated[str, Field(pattern=r"^https://\S+$")]] = Field(default_factory=list)
    cpu_percent: float = Field(80, gt=0, le=100)
    free_storage_percent: float = Field(20, gt=0, lt=100)
    freeable_memory_mib: int = Field(256, ge=16)
    connections_percent: float = Field(80, gt=0, le=100)
    latency_seconds: float = Field(0.05, gt=0)
    replica_lag_seconds: float = Field(30, gt=0)
    cache_memory_percent: float = Field(80, gt=0, le=100)
    cache_connections: int = Field(5000, ge=1)
    cdn_5xx_percent: float = Field(5, gt=0, le=100, alias="cdn5xxPercent")
    # CloudFront origin latency p95, in milliseconds.
    cdn_origin_latency_ms: int = Field(2000, ge=1)
    node_cpu_percent: float = Field(80, gt=0, le=100)
    node_memory_percent: float = Field(80, gt=0, le=100)
    canary: bool = False
    # The canary's Lambda log group (/aws/lambda/cwsyn-<canary>-<id>), made by the stack.
    canary_log_retention_days: LogRetentionDays = 30


# ---- backups.py: Backups (with the DR area) -------------------------------------------------------
# Continuous backups (point-in-time restore) are kept at most 35 days by AWS Backup.
CONTINUOUS_MAX_DAYS = 35


class BackupSettings(Model):
    """`berth:backup`, for Backups: retention, continuous backup, vault lock, DR copies, restore tests."""

    daily_retention_days: int = Field(7, ge=1, le=36500)
    monthly_retention_days: int | None = Field(None, ge=30, le=36500)
    continuous: bool = True
    vault_lock: bool = False
    vault_lock_min_days: int = Field(7, ge=1, le=36500)
    vault_lock_max_days: int = Field(400, ge=1, le=36500)
    copy_to_dr: bool = False
    restore_testing: bool = False

    @model_validator(mode="after")
    def _continuous(self) -> BackupSettings:
        if self.continuous and self.daily_retention_days > CONTINUOUS_MAX_DAYS:
            raise ValueError(
                f"dailyRetentionDays ({self.daily_retention_days}) exceeds the {CONTINUOUS_MAX_DAYS} days AWS Backup "
                "keeps continuous backups (point-in-time restore): lower it or turn continuous off"
            )
        return self

    @model_validator(mode="after")
    def _lock(self) -> BackupSettings:
        if self.vault_lock:
            keep = max(self.daily_retention_days, self.monthly_retention_days or 0)
            if not self.vault_lock_min_days <= self.daily_retention_days:
                raise ValueError(
                    f"vaultLockMinDays ({self.vault_lock_min_days}) must not exceed "
                    f"dailyRetentionDays ({self.daily_retention_days})"
                )
            if keep > self.vault_lock_max_days:
                raise ValueError(
                    f"vaultLockMaxDays ({self.vault_lock_max_days}) must cover the longest "
                    f"retention ({keep} days)"
                )
        return self


class DrSettings(Model):
    """`berth:dr`: the DR region (Database's standby, Backups' copies) and RDS backup replication there."""

    region: Region | None = None
    # RDS automated-backup replication into the DR region (point-in-time restore there).
    automated_backup_replication: bool = False
    automated_backup_retention_days: int = Field(7, ge=1, le=35)
    # The recovery VPC's range in the DR region (distinct from the home VPC, so both can be
    # peered): the cross-region replica lives there, and a rebuild brings the platform up in it.
    rebuild_cidr: VpcCidr = "10.64.0.0/16"
    # The CI role a DR rebuild deploys with (`berth dr rebuild` makes it the rebuilt stack's
    # cluster.ciRoleArn, so that role holds the new cluster's admin entry); not used otherwise.
    ci_role_arn: RoleArn | None = None


class BackupAndDrSettings(Model):
    """For Backups; no config area of its own: stacks/config.py composes it (`Settings.backups`) from
    `berth:backup` (plans, lock, copies, restore tests) and `berth:dr` (where the copies and RDS's
    replicated automated backups go)."""

    backup: BackupSettings = BackupSettings()
    dr: DrSettings = DrSettings()

    @model_validator(mode="after")
    def _dr_region(self) -> BackupAndDrSettings:
        if (self.backup.copy_to_dr or self.dr.automated_backup_replication) and self.dr.region is None:
            raise ValueError("backup.copyToDr and dr.automatedBackupReplication need dr.region")
        return self
