"""Components room: the typed knobs components accept, validated where they are declared.

Components take these pydantic models (as ol-infrastructure's components do) so a value is
checked once, with the same rules, whoever builds the component; stacks/config.py composes
them into a stack's Settings and maps file keys onto them. Nothing here reads configuration.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

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


class Model(BaseModel):
    """Strict base: camelCase keys in the file, unknown keys rejected, values re-validated on copy."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
        validate_default=True,
    )


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


class DatabaseSettings(Model):
    # The major only: RDS picks the default minor on create and upgrades minors in the
    # maintenance window (auto_minor_version_upgrade); the provider keeps "16" without a diff.
    engine_version: PostgresMajor = "16"
    instance_class: str = Field("db.t4g.medium", pattern=r"^db\.[a-z0-9]+\.[a-z0-9]+$")
    replica_instance_class: str | None = Field(None, pattern=r"^db\.[a-z0-9]+\.[a-z0-9]+$")
    replicas: int = Field(1, ge=0, le=5)
    allocated_storage_gib: int = Field(50, ge=20, le=65536)
    max_allocated_storage_gib: int = Field(200, ge=20, le=65536)
    iops: int | None = Field(None, ge=3000, le=80000)
    multi_az: bool = True
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

    @model_validator(mode="after")
    def _storage(self) -> DatabaseSettings:
        if self.max_allocated_storage_gib < self.allocated_storage_gib:
            raise ValueError(
                f"maxAllocatedStorageGib ({self.max_allocated_storage_gib}) must be >= "
                f"allocatedStorageGib ({self.allocated_storage_gib})"
            )
        if self.reserved_connections >= self.max_connections:
            raise ValueError("reservedConnections must be below maxConnections")
        return self


class PgBouncerSettings(Model):
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
