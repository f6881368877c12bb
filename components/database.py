"""Components room: PostgreSQL on RDS — a Multi-AZ primary, read replicas, an optional DR replica.

The primary is encrypted with its own rotating KMS key, lives in the private subnets
behind a security group that admits 5432 only from the given security groups (the
cluster's nodes, where PgBouncer runs), forces TLS, exports its logs, keeps backups and
Performance Insights, and is protected in production. Replicas share its parameter
group, spread over the availability zones and never take a final snapshot (a replica
cannot: `pulumi destroy` would fail on it). A cross-region replica in the DR region gets
its own KMS key and parameter group there.

Instead of starting empty, the primary can come from a restore source (disaster
recovery): a DB snapshot, a point in time of a source instance, or an existing replica
that is adopted and promoted (see `adopt_promoted_replica_opts`).

The master user's password is RDS's to manage (`manage_master_user_password`): RDS keeps it
in a Secrets Manager secret of its own, encrypted with this component's key, and rotates it
(every 7 days by default); Pulumi never knows it, so it is in no state file, Kubernetes
object or pod environment. `master_user_secret_arn` names the secret: the database bootstrap
Job (components/database_roles.py) reads it with an IAM role of its own to create the roles
the app and the migrations log in as. A restore gets a fresh managed secret too (the
provider applies it with a modify right after the restore call), so a restored database's
master password is never the source's.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from components import kms
from components.base import Component
from components.monitoring import Graph, Watch
from components.placement import locate
from components.security import admit_from_groups
from components.settings import DATABASE_ENGINE, AlarmSettings, DatabaseSettings, RestoreSource

PORT = 5432
# What each instance exports to CloudWatch Logs, and where RDS writes it: a group RDS would otherwise
# make itself (no expiry, no key, no tags, left behind by a destroy) unless it exists first.
LOG_EXPORTS = ("postgresql", "upgrade")
RDS_LOG_GROUP_PREFIX = "/aws/rds/instance/"
DATABASE_NAME = "shipments"
MASTER_USERNAME = "berth_admin"
# The alarms' dashboard: the database's graphs, in this order.
_GRAPH_CPU = Graph("Database CPU %", "database", 0)
_GRAPH_CONNECTIONS = Graph("Database connections", "database", 1)
_GRAPH_FREE_STORAGE = Graph("Database free storage (bytes)", "database", 2)
_GRAPH_LATENCY = Graph("Database latency (s)", "database", 3)
_GRAPH_REPLICA_LAG = Graph("Replica lag (s)", "database", 4)
# Every parameter group of this component carries these; values that need a restart are
# applied at the next reboot instead of failing the update.
_PENDING_REBOOT = {"shared_preload_libraries", "max_connections"}


@dataclass
class DatabaseArgs:
    # Wiring: the VPC, its private subnets (one per AZ: the subnet group, and so the primary's
    # standby, spans them).
    vpc_id: pulumi.Input[str]
    subnet_ids: Sequence[pulumi.Input[str]]
    # Instances, storage, backups, parameters, the cross-region replica, a restore source.
    settings: DatabaseSettings
    # Security groups allowed to reach 5432 (the cluster's node SG: PgBouncer runs there).
    allowed_security_group_ids: Sequence[pulumi.Input[str]] = ()
    # AZ names of the subnets; replicas are spread over them (round robin, skipping the first).
    availability_zones: Sequence[str] = ()
    tags: dict[str, str] = field(default_factory=dict)
    # Build in this region instead of the provider's (pulumi-aws v7 per-resource region).
    region: str | None = None
    # Where the cross-region replica goes (required when settings.cross_region_replica), and
    # the network of ours it lives in there: private subnets (its own subnet group) and the
    # range allowed to reach it (the recovery VPC's: a cluster rebuilt in that VPC after a
    # promotion reaches it without any change). Without a subnet group RDS would put it in the
    # region's default VPC, which many organisations delete and which no rebuild can join.
    dr_region: str | None = None
    dr_vpc_id: pulumi.Input[str] | None = None
    dr_subnet_ids: Sequence[pulumi.Input[str]] = ()
    dr_allowed_cidrs: Sequence[str] = ()
    # Production: the primary, the keys and the cross-region standby are protected and retained on delete.
    protect: bool = False

    def __post_init__(self) -> None:
        if self.settings.cross_region_replica and not self.dr_region:
            raise ValueError("cross_region_replica needs dr_region")
        if self.settings.cross_region_replica and (self.dr_vpc_id is None or len(self.dr_subnet_ids) < 2):
            raise ValueError(
                "cross_region_replica needs dr_vpc_id and dr_subnet_ids (private subnets in at least two "
                "availability zones of the DR region): a replica without its own subnet group lands in the "
                "DR region's default VPC"
            )
        if self.dr_region and self.dr_region == self.region:
            raise ValueError(f"dr_region ({self.dr_region}) must differ from region")
        if len(self.subnet_ids) < 2:
            raise ValueError("an RDS subnet group needs subnets in at least two availability zones")


def parameter_family(engine_version: str) -> str:
    return f"postgres{engine_version.split('.')[0]}"


def db_parameters(s: DatabaseSettings) -> list[dict[str, str]]:
    """The PostgreSQL parameters every instance of the tier runs with."""
    values = {
        # Plaintext connections are refused; PgBouncer connects with verify-full.
        "rds.force_ssl": "1",
        "log_min_duration_statement": str(s.slow_query_ms),
        "shared_preload_libraries": "pg_stat_statements",
        "pg_stat_statements.track": "all",
        "max_connections": str(s.max_connections),
        "idle_in_transaction_session_timeout": str(s.idle_in_transaction_timeout_ms),
        "log_connections": "1",
        "log_disconnections": "1",
        "log_lock_waits": "1",
    }
    return [
        {"name": k, "value": v, "apply_method": "pending-reboot" if k in _PENDING_REBOOT else "immediate"}
        for k, v in values.items()
    ]


def restore_to_point_in_time(r: RestoreSource, region: str | None) -> aws.rds.InstanceRestoreToPointInTimeArgs:
    """Map the config's restore source onto the provider's restore_to_point_in_time block."""
    kw: dict[str, object] = {}
    arn = r.source_db_instance_arn
    if arn and ":auto-backup:" in arn:
        # Replicated automated backups (the DR region's copy of the primary's backups).
        kw["source_db_instance_automated_backups_arn"] = arn
    elif arn:
        arn_region = arn.split(":")[3] if arn.count(":") >= 6 else None
        if region and arn_region and arn_region != region:
            raise ValueError(
                f"restore.sourceDbInstanceArn is in {arn_region} but the database is built in {region}: "
                "a point-in-time restore in another region needs the replicated automated backups "
                "(an arn:...:auto-backup:... ARN) or sourceDbiResourceId"
            )
        kw["source_db_instance_identifier"] = arn.rsplit(":", 1)[-1]
    if r.source_dbi_resource_id:
        kw["source_dbi_resource_id"] = r.source_dbi_resource_id
    if r.restore_time:
        kw["restore_time"] = r.restore_time
    else:
        kw["use_latest_restorable_time"] = r.use_latest_restorable_time
    return aws.rds.InstanceRestoreToPointInTimeArgs(**kw)  # type: ignore[arg-type]


def _instance_common(s: DatabaseSettings, params: aws.rds.ParameterGroup, sg: aws.ec2.SecurityGroup,
                     monitoring_role: aws.iam.Role) -> dict[str, object]:
    """What the primary and every replica share."""
    return dict(
        instance_class=s.instance_class,
        storage_type="gp3",
        iops=s.iops,
        max_allocated_storage=s.max_allocated_storage_gib,
        parameter_group_name=params.name,
        vpc_security_group_ids=[sg.id],
        publicly_accessible=False,
        port=PORT,
        performance_insights_enabled=True,
        performance_insights_retention_period=s.performance_insights_retention_days,
        monitoring_interval=s.monitoring_interval_seconds,
        monitoring_role_arn=monitoring_role.arn,
        enabled_cloudwatch_logs_exports=list(LOG_EXPORTS),
        iam_database_authentication_enabled=True,
        # The config names the major only: RDS applies minor upgrades in the maintenance window
        # (and forces them when a minor is retired); the provider keeps "16" against the actual
        # "16.x" without a diff, so an upgrade never reads as a downgrade.
        auto_minor_version_upgrade=True,
        maintenance_window=s.maintenance_window,
        copy_tags_to_snapshot=True,
        ca_cert_identifier="rds-ca-rsa2048-g1",
        apply_immediately=False,
    )


class Database(Component):
    """RDS PostgreSQL primary + same-region replicas + optional cross-region replica."""

    primary_identifier: pulumi.Output[str]
    primary_address: pulumi.Output[str]
    primary_arn: pulumi.Output[str]
    port: int
    replica_identifiers: list[pulumi.Output[str]]
    replica_addresses: list[pulumi.Output[str]]
    cross_region_replica_identifier: pulumi.Output[str] | None
    cross_region_replica_region: str | None
    master_username: str
    master_user_secret_arn: pulumi.Output[str]
    master_user_secret_kms_key_arn: pulumi.Output[str] | None
    database_name: str
    security_group_id: pulumi.Output[str]
    kms_key_arn: pulumi.Output[str]
    parameter_group_name: pulumi.Output[str]
    max_connections: int
    connection_limit: int
    allocated_storage_gib: int

    def __init__(self, name: str, args: DatabaseArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, opts, tags=args.tags, protect=args.protect)
        s = args.settings
        self._where = locate(self, args.region)
        self.port = PORT
        self.database_name = DATABASE_NAME
        self.master_username = MASTER_USERNAME
        self.max_connections = s.max_connections
        # What the database leaves to clients: max_connections less the reserve for operators.
        self.connection_limit = s.max_connections - s.reserved_connections
        self.allocated_storage_gib = s.allocated_storage_gib

        key = self._key()
        subnet_group = self._subnet_group(args.subnet_ids)
        sg = self._security_group(args.vpc_id, args.allowed_security_group_ids)
        params = self._parameter_group(s)
        monitoring_role, monitoring_policy = self._monitoring_role()
        common = _instance_common(s, params, sg, monitoring_role)
        primary = self._primary(s, common, key, subnet_group, monitoring_policy, args.region)
        self._replicas(s, common, key, primary, monitoring_policy, list(args.availability_zones))
        self.cross_region_replica_identifier = None
        self.cross_region_replica_region = None
        if s.cross_region_replica and args.dr_region:
            self.cross_region_replica_identifier = self._cross_region_replica(args, primary, common, monitoring_policy)
            self.cross_region_replica_region = args.dr_region

        self.register_outputs(
            {
                "primaryIdentifier": self.primary_identifier,
                "primaryAddress": self.primary_address,
                "primaryArn": self.primary_arn,
                "port": self.port,
                "replicaIdentifiers": self.replica_identifiers,
                "replicaAddresses": self.replica_addresses,
                "crossRegionReplicaIdentifier": self.cross_region_replica_identifier,
                "masterUsername": self.master_username,
                "masterUserSecretArn": self.master_user_secret_arn,
                "databaseName": self.database_name,
                "securityGroupId": self.security_group_id,
                "kmsKeyArn": self.kms_key_arn,
                "parameterGroupName": self.parameter_group_name,
                "maxConnections": self.max_connections,
            }
        )

    # ---- what the alarms watch -------------------------------------------------------------
    def watches(self, s: AlarmSettings) -> list[Watch]:
        """Every instance by its real identifier: CPU and free storage (relative to the allocated
        storage); the primary's memory, connections (relative to max_connections) and latency; each
        replica's lag (the cross-region one alarmed in its own region, and not drawn)."""
        gib = 1024**3
        free_storage_bytes = self.allocated_storage_gib * gib * s.free_storage_percent / 100
        connections = int(self.max_connections * s.connections_percent / 100)
        instances: list[tuple[str, pulumi.Input[str], str | None]] = [("db-primary", self.primary_identifier, None)]
        instances += [(f"db-replica-{i + 1}", rid, None) for i, rid in enumerate(self.replica_identifiers)]
        if self.cross_region_replica_identifier is not None:
            instances.append(("db-dr-replica", self.cross_region_replica_identifier, self.cross_region_replica_region))

        out: list[Watch] = []
        for key, ident, region in instances:
            dims = {"DBInstanceIdentifier": ident}

            def drawn(graph: Graph, region: str | None = region) -> Graph | None:
                return graph if region is None else None

            out.append(Watch(f"{key}-cpu", "AWS/RDS", "CPUUtilization", dims, "GreaterThanThreshold",
                             s.cpu_percent, f"{key}: CPU above {s.cpu_percent:g}% for 15 minutes",
                             unit="Percent", region=region, graph=drawn(_GRAPH_CPU)))
            out.append(Watch(f"{key}-free-storage", "AWS/RDS", "FreeStorageSpace", dims, "LessThanThreshold",
                             free_storage_bytes,
                             f"{key}: free storage below {s.free_storage_percent:g}% of "
                             f"{self.allocated_storage_gib} GiB", evaluation_periods=2, unit="Bytes", region=region,
                             graph=drawn(_GRAPH_FREE_STORAGE)))
            if key == "db-primary":
                out.append(Watch(f"{key}-freeable-memory", "AWS/RDS", "FreeableMemory", dims, "LessThanThreshold",
                                 s.freeable_memory_mib * 1024**2,
                                 f"{key}: freeable memory below {s.freeable_memory_mib} MiB", unit="Bytes"))
                out.append(Watch(f"{key}-connections", "AWS/RDS", "DatabaseConnections", dims,
                                 "GreaterThanThreshold", connections,
                                 f"{key}: more than {connections} connections ({s.connections_percent:g}% of "
                                 f"max_connections {self.max_connections})", statistic="Maximum",
                                 evaluation_periods=2, graph=_GRAPH_CONNECTIONS))
                for metric in ("ReadLatency", "WriteLatency"):
                    label = metric.removesuffix("Latency").lower()
                    out.append(Watch(f"{key}-{label}-latency", "AWS/RDS", metric, dims, "GreaterThanThreshold",
                                     s.latency_seconds,
                                     f"{key}: {label} latency above {s.latency_seconds * 1000:g} ms",
                                     unit="Seconds", graph=_GRAPH_LATENCY))
            else:
                # A replica that stops reporting lag has stopped replicating: that is an alarm.
                out.append(Watch(f"{key}-lag", "AWS/RDS", "ReplicaLag", dims, "GreaterThanThreshold",
                                 s.replica_lag_seconds,
                                 f"{key}: replication lag above {s.replica_lag_seconds:g} s",
                                 statistic="Maximum", period=60, evaluation_periods=5, datapoints_to_alarm=3,
                                 treat_missing_data="breaching", unit="Seconds", region=region,
                                 graph=drawn(_GRAPH_REPLICA_LAG)))
        return out

    # ---- steps, in dependency order --------------------------------------------------------
    def _key(self) -> aws.kms.Key:
        """The tier's own key (storage, Performance Insights, the managed master secret); protected with the primary."""
        name, w = self.prefix, self._where
        key = aws.kms.Key(
            f"{name}-key",
            description=f"{name} RDS storage and Performance Insights",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=_account_key_policy(w.partition, w.account, w.region),
            tags=self.named("db-key"),
            opts=self.stateful(),
            **w.kw,
        )
        aws.kms.Alias(f"{name}-key-alias", name=f"alias/{name}-db", target_key_id=key.key_id,
                      opts=self.child(), **w.kw)
        self.kms_key_arn = key.arn
        return key

    def _subnet_group(self, subnet_ids: Sequence[pulumi.Input[str]]) -> aws.rds.SubnetGroup:
        name = self.prefix
        return aws.rds.SubnetGroup(
            f"{name}-subnets",
            name=f"{name}-db",
            description=f"{name} database: private subnets",
            subnet_ids=list(subnet_ids),
            tags=self.named("db-subnets"),
            opts=self.child(),
            **self._where.kw,
        )

    def _security_group(self, vpc_id: pulumi.Input[str],
                        allowed: Sequence[pulumi.Input[str]]) -> aws.ec2.SecurityGroup:
        """5432 from the allowed security groups only (components/security.py), no egress."""
        name, kw = self.prefix, self._where.kw
        sg = aws.ec2.SecurityGroup(
            f"{name}-db-sg",
            name=f"{name}-db",
            description=f"{name} PostgreSQL: 5432 from the allowed security groups only",
            vpc_id=vpc_id,
            # No egress: RDS initiates nothing here (replication and backups use AWS's own
            # network). Declared empty so the default allow-all egress is removed.
            egress=[],
            tags=self.named("db-sg"),
            opts=self.child(),
            **kw,
        )
        self.security_group_id = sg.id
        admit_from_groups(
            f"{name}-db",
            security_group_id=sg.id,
            sources=allowed,
            port=PORT,
            what="PostgreSQL",
            named=self.named,
            opts=self.child(),
            region_kw=kw,
        )
        return sg

    def _parameter_group(self, s: DatabaseSettings) -> aws.rds.ParameterGroup:
        name = self.prefix
        params = aws.rds.ParameterGroup(
            f"{name}-params",
            name=f"{name}-{parameter_family(s.engine_version)}",
            family=parameter_family(s.engine_version),
            description=f"{name} PostgreSQL parameters",
            parameters=db_parameters(s),  # type: ignore[arg-type]
            tags=self.named("db-params"),
            opts=self.child(),
            **self._where.kw,
        )
        self.parameter_group_name = params.name
        return params

    def _monitoring_role(self) -> tuple[aws.iam.Role, aws.iam.RolePolicy]:
        """Enhanced monitoring: RDS's agent writes OS metrics to the RDSOSMetrics log group. An
        inline policy with exactly the managed policy's permissions (the AmazonRDSEnhancedMonitoringRole
        document), scoped to that log group. Every instance waits for the policy."""
        name, w = self.prefix, self._where
        role = aws.iam.Role(
            f"{name}-monitoring",
            assume_role_policy=json.dumps({
                "Version": "2012-10-17",
                "Statement": [{
                    "Effect": "Allow",
                    "Principal": {"Service": "monitoring.rds.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                    "Condition": {"StringEquals": {"aws:SourceAccount": w.account}},
                }],
            }),
            description=f"{name} RDS enhanced monitoring",
            tags=self.named("db-monitoring"),
            opts=self.child(),
        )
        policy = aws.iam.RolePolicy(
            f"{name}-monitoring-logs",
            role=role.id,
            policy=json.dumps({
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "EnableCreationAndManagementOfRDSCloudwatchLogGroups",
                        "Effect": "Allow",
                        "Action": ["logs:CreateLogGroup", "logs:PutRetentionPolicy"],
                        "Resource": f"arn:{w.partition}:logs:*:*:log-group:RDS*",
                    },
                    {
                        "Sid": "EnableCreationAndManagementOfRDSCloudwatchLogStreams",
                        "Effect": "Allow",
                        "Action": ["logs:CreateLogStream", "logs:PutLogEvents",
                                   "logs:DescribeLogStreams", "logs:GetLogEvents"],
                        "Resource": f"arn:{w.partition}:logs:*:*:log-group:RDS*:log-stream:*",
                    },
                ],
            }),
            opts=self.child(),
        )
        return role, policy

    def _primary(self, s: DatabaseSettings, common: dict[str, object], key: aws.kms.Key,
                 subnet_group: aws.rds.SubnetGroup, monitoring_policy: aws.iam.RolePolicy,
                 region: str | None) -> aws.rds.Instance:
        """The Multi-AZ primary: new and empty, restored (snapshot, point in time) or an adopted
        promoted replica (`restore`)."""
        name = self.prefix
        identifier = f"{name}-primary"
        primary_kw: dict[str, object] = dict(
            identifier=identifier,
            engine=DATABASE_ENGINE,
            engine_version=s.engine_version,
            allocated_storage=s.allocated_storage_gib,
            db_subnet_group_name=subnet_group.name,
            multi_az=s.multi_az,
            storage_encrypted=True,
            kms_key_id=key.arn,
            performance_insights_kms_key_id=key.arn,
            # RDS keeps the master password in Secrets Manager (encrypted with our key) and rotates it;
            # it never passes through Pulumi. On a restore the provider turns this on right after the
            # restore call (ModifyDBInstance), so the restored instance gets a secret of its own.
            manage_master_user_password=True,
            master_user_secret_kms_key_id=key.arn,
            backup_retention_period=s.backup_retention_days,
            backup_window=s.backup_window,
            delete_automated_backups=not self.protected,  # a protected primary keeps its backups past deletion
            deletion_protection=s.deletion_protection,
            skip_final_snapshot=s.skip_final_snapshot,
            final_snapshot_identifier=None if s.skip_final_snapshot else f"{identifier}-final",
            tags=self.named("db-primary"),
        )
        # The provider's 40-minute create timeout is short for a Multi-AZ instance on a busy day;
        # a timed-out create leaves the resource tainted and replaced on the next update.
        primary_opts = self.stateful(depends_on=[monitoring_policy],
                                     custom_timeouts=pulumi.CustomTimeouts(create="90m", update="90m"))
        restore = s.restore
        if restore is None:
            primary_kw.update(db_name=DATABASE_NAME, username=MASTER_USERNAME)
        elif restore.kind in ("snapshot", "pitr"):
            if restore.kind == "snapshot":
                # The snapshot brings the database, its name, its master user and the roles the
                # source's bootstrap created; the master password becomes RDS-managed (a new secret)
                # and the bootstrap Job sets this stack's role passwords again.
                primary_kw["snapshot_identifier"] = restore.snapshot_identifier
            else:
                primary_kw["restore_to_point_in_time"] = restore_to_point_in_time(restore, region)
            # A restore keeps the source's encryption (neither RDS call can re-encrypt): without
            # this, the next update would see "another key" and replace the restored database.
            # To move onto this stack's key, copy the snapshot with it first (copy-db-snapshot).
            primary_opts = pulumi.ResourceOptions.merge(
                primary_opts, pulumi.ResourceOptions(ignore_changes=["kmsKeyId", "storageEncrypted"])
            )
        else:
            identifier = str(restore.replica_identifier)
            primary_kw["identifier"] = identifier
            primary_kw["final_snapshot_identifier"] = (
                None if s.skip_final_snapshot else f"{identifier}-final"
            )
            # `berth dr rebuild` turned the managed password on when it promoted the replica, with
            # the region's default Secrets Manager key (this stack's key did not exist yet): the
            # import must find exactly that, and it stays so (ADOPTED_FOR_GOOD).
            del primary_kw["master_user_secret_kms_key_id"]
            primary_opts = pulumi.ResourceOptions.merge(
                primary_opts, adopt_promoted_replica_opts(identifier, imported=restore.adopted))
        adopting = restore is not None and restore.kind not in ("snapshot", "pitr") and not restore.adopted
        logs = self._log_groups(identifier, "primary", key, s.log_retention_days, self._where.kw, adopting)
        primary_opts = pulumi.ResourceOptions.merge(primary_opts, pulumi.ResourceOptions(depends_on=logs))
        primary = aws.rds.Instance(f"{name}-primary", **common, **primary_kw, opts=primary_opts,  # type: ignore[arg-type]
                                   **self._where.kw)
        self.primary_identifier = primary.identifier
        self.primary_address = primary.address
        self.primary_arn = primary.arn
        self.master_user_secret_arn = primary.master_user_secrets.apply(_secret_arn)
        # The key the secret is encrypted with (None: the region's aws/secretsmanager key, which
        # any principal allowed to read the secret may use through Secrets Manager).
        self.master_user_secret_kms_key_arn = (
            key.arn if "master_user_secret_kms_key_id" in primary_kw else None
        )
        return primary

    def _log_groups(self, identifier: str, role: str, key: aws.kms.Key, retention: int,
                    region_kw: dict[str, object], adopt: bool = False) -> list[aws.cloudwatch.LogGroup]:
        """The groups RDS exports this instance's logs to, made first (the instance depends on them):
        retention from config, the tier's key, tags; deleted with a non-production stack. `adopt`:
        the instance is an adopted promoted replica whose groups its source stack made (and kept):
        imported where they exist (RDS made them, or the source stack did), their key, retention and
        tags converging on the next `up`; made where they do not."""
        identifier = identifier.lower()
        existing: set[str] = set()
        if adopt:
            # The DR region's own CloudWatch Logs endpoint: a regional control plane of the recovery region.
            existing = set(aws.cloudwatch.get_log_groups(
                log_group_name_prefix=f"{RDS_LOG_GROUP_PREFIX}{identifier}/",
                opts=pulumi.InvokeOptions(parent=self), **region_kw).log_group_names)  # type: ignore[arg-type]
        return [
            aws.cloudwatch.LogGroup(
                f"{self.prefix}-{role}-{log}-logs",
                name=f"{RDS_LOG_GROUP_PREFIX}{identifier}/{log}",
                retention_in_days=retention,
                kms_key_id=key.arn,
                tags=self.named(f"db-{role}-{log}-logs"),
                opts=self.child(retain_on_delete=self.protected, **(dict(
                    import_=f"{RDS_LOG_GROUP_PREFIX}{identifier}/{log}",
                    ignore_changes=["kmsKeyId", "retentionInDays", "tags"])
                    if f"{RDS_LOG_GROUP_PREFIX}{identifier}/{log}" in existing else {})),
                **region_kw,  # type: ignore[arg-type]
            )
            for log in LOG_EXPORTS
        ]

    def _replicas(self, s: DatabaseSettings, common: dict[str, object], key: aws.kms.Key,
                  primary: aws.rds.Instance, monitoring_policy: aws.iam.RolePolicy, azs: list[str]) -> None:
        """Same-region read replicas, spread over the AZs (round robin, skipping the primary's)."""
        name = self.prefix
        replica_class = s.replica_instance_class or s.instance_class
        replicas = []
        for i in range(s.replicas):
            az = azs[(i + 1) % len(azs)] if azs else None
            logs = self._log_groups(f"{name}-replica-{i + 1}", f"replica-{i + 1}", key, s.log_retention_days,
                                    self._where.kw)
            replicas.append(
                aws.rds.Instance(
                    f"{name}-replica-{i + 1}",
                    **{**common, "instance_class": replica_class},  # type: ignore[arg-type]
                    identifier=f"{name}-replica-{i + 1}",
                    # Same region: the source's identifier (no subnet group: it inherits the
                    # primary's, which is what makes the identifier form valid).
                    replicate_source_db=primary.identifier,
                    # RDS encrypts a replica as its source is (the provider sends nothing for it) and
                    # reports StorageEncrypted; the provider's storage_encrypted is ForceNew and not
                    # Computed, so leaving it unset plans a replacement of every replica on every
                    # `up` (terraform-provider-aws#34434). The primary's own value (not True: a primary
                    # restored from an unencrypted snapshot has unencrypted replicas). kms_key_id is
                    # Computed: left to RDS.
                    storage_encrypted=primary.storage_encrypted,
                    availability_zone=az,
                    # Readers scale out; the primary's standby is what survives an AZ.
                    multi_az=False,
                    performance_insights_kms_key_id=key.arn,
                    # Readers need no backups of their own: the primary's are the recovery point.
                    backup_retention_period=0,
                    # A replica cannot take a final snapshot; without this, destroy fails on it.
                    skip_final_snapshot=True,
                    deletion_protection=False,
                    tags=self.named(f"db-replica-{i + 1}"),
                    opts=self.child(depends_on=[monitoring_policy, *logs],
                                    custom_timeouts=pulumi.CustomTimeouts(create="90m")),
                    **self._where.kw,
                )
            )
        self.replica_identifiers = [r.identifier for r in replicas]
        self.replica_addresses = [r.address for r in replicas]

    def _cross_region_replica(self, args: DatabaseArgs, primary: aws.rds.Instance, common: dict[str, object],
                              monitoring_policy: pulumi.Resource) -> pulumi.Output[str]:
        """A warm standby in the DR region, in the recovery VPC: its own key, parameter group,
        subnet group and security group live there."""
        s, name, named = args.settings, self.prefix, self.named
        partition, account_id = self._where.partition, self._where.account
        dr = args.dr_region
        assert dr is not None
        dr_key = aws.kms.Key(
            f"{name}-dr-key",
            description=f"{name} RDS cross-region replica ({dr})",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=_account_key_policy(partition, account_id, dr),
            tags=named("db-dr-key"),
            region=dr,
            opts=self.stateful(),
        )
        dr_params = aws.rds.ParameterGroup(
            f"{name}-dr-params",
            name=f"{name}-{parameter_family(s.engine_version)}",
            family=parameter_family(s.engine_version),
            description=f"{name} PostgreSQL parameters (DR region)",
            parameters=db_parameters(s),  # type: ignore[arg-type]
            tags=named("db-dr-params"),
            region=dr,
            opts=self.child(),
        )
        subnets, sg = self._standby_network(args)
        identifier = f"{name}-dr-replica"
        logs = self._log_groups(identifier, "dr-replica", dr_key, s.log_retention_days, {"region": dr})
        replica = aws.rds.Instance(
            f"{name}-dr-replica",
            **{**common, "parameter_group_name": dr_params.name,  # type: ignore[arg-type]
               "instance_class": s.replica_instance_class or s.instance_class,
               "vpc_security_group_ids": [sg.id]},
            identifier=identifier,
            # Cross-region: the source's ARN, re-encrypted with a key of the DR region, in our
            # own subnet group there.
            replicate_source_db=primary.arn,
            db_subnet_group_name=subnets.name,
            kms_key_id=dr_key.arn,
            storage_encrypted=True,
            multi_az=False,
            performance_insights_kms_key_id=dr_key.arn,
            # RDS for PostgreSQL keeps no automated backups on a read replica: a retention here
            # fails the create or diffs forever. `berth dr rebuild` sets the retention when it
            # promotes the replica (promote-read-replica --backup-retention-period).
            backup_retention_period=0,
            skip_final_snapshot=True,
            deletion_protection=s.deletion_protection,
            tags=named("db-dr-replica"),
            region=dr,
            # A cross-region replica first copies a snapshot across regions: often beyond the
            # provider's 40-minute default for a database of any size.
            opts=self.stateful(depends_on=[monitoring_policy, *logs],
                               custom_timeouts=pulumi.CustomTimeouts(create="180m")),
        )
        return replica.identifier



    def _standby_network(self, args: DatabaseArgs) -> tuple[aws.rds.SubnetGroup, aws.ec2.SecurityGroup]:
        """The standby's place in the recovery VPC: a subnet group of its private subnets (without one
        RDS would use the DR region's default VPC) and 5432 from the VPC's range."""
        name, named, dr = self.prefix, self.named, args.dr_region
        subnets = aws.rds.SubnetGroup(
            f"{name}-recovery-subnets",
            name=f"{name}-recovery-db",
            description=f"{name} database standby ({dr}): private subnets of the recovery VPC",
            subnet_ids=list(args.dr_subnet_ids),
            tags=named("recovery-db-subnets"),
            region=dr,
            opts=self.child(),
        )
        sg = aws.ec2.SecurityGroup(
            f"{name}-recovery-db-sg",
            name=f"{name}-recovery-db",
            description=f"{name} PostgreSQL standby: 5432 from the recovery VPC only",
            vpc_id=args.dr_vpc_id,
            egress=[],
            tags=named("recovery-db-sg"),
            region=dr,
            opts=self.child(),
        )
        # By range, not by group: the cluster that will use this database after a promotion does
        # not exist yet; whatever `berth dr rebuild` starts in the recovery VPC is admitted.
        for i, cidr in enumerate(args.dr_allowed_cidrs):
            aws.vpc.SecurityGroupIngressRule(
                f"{name}-recovery-db-from-{i}",
                security_group_id=sg.id,
                cidr_ipv4=cidr,
                ip_protocol="tcp",
                from_port=PORT,
                to_port=PORT,
                description="PostgreSQL from the recovery VPC",
                tags=named(f"recovery-db-from-{i}"),
                region=dr,
                opts=self.child(),
            )
        return subnets, sg


# What a promoted replica keeps from the lost region for good: its encryption, its database
# and master user, its network placement (the recovery VPC, where the rebuilt cluster runs).
ADOPTED_FOR_GOOD = [
    "replicateSourceDb",
    "kmsKeyId",
    "performanceInsightsKmsKeyId",
    "storageEncrypted",
    "dbSubnetGroupName",
    "vpcSecurityGroupIds",
    "username",
    "dbName",
    "engineVersion",
    "masterUserSecretKmsKeyId",
]
# What differs only at the import: the replica was made by the source stack with its parameter
# group, monitoring role, tags and no Multi-AZ; and the provider's importer sets the snapshot
# settings it cannot read back (skip_final_snapshot true, delete_automated_backups true). Pulumi
# refuses an import whose declared inputs differ, so the first `up` ignores them; the next one
# (restore.adopted) applies this stack's values as ordinary modifications.
DIFFERS_AT_IMPORT = [
    "parameterGroupName",
    "monitoringRoleArn",
    "multiAz",
    "instanceClass",
    "tags",
    "tagsAll",
    "skipFinalSnapshot",
    "finalSnapshotIdentifier",
    "deleteAutomatedBackups",
    "backupWindow",
    "maintenanceWindow",
]


def adopt_promoted_replica_opts(identifier: str, *, imported: bool = False) -> pulumi.ResourceOptions:
    """Options that adopt an existing (cross-region) replica as this stack's primary.

    The real `pulumi up` of a DR stack: `berth dr rebuild` first promotes the replica
    (`rds promote-read-replica`, the DR action itself) and turns RDS's managed master password on
    (`modify-db-instance --manage-master-user-password`: a new secret in the DR region, which the
    bootstrap Job there reads; the replica's master password was the lost region's), then this
    stack imports the now standalone instance by identifier (`import_`) instead of creating one.
    Import requires the declared state to match the existing one, so the first `up` also ignores
    what differs only then (`DIFFERS_AT_IMPORT`); once imported (`restore.adopted`, which `berth
    dr rebuild` writes after that first `up`), a second `up` converges those as ordinary updates,
    and only what the promoted replica keeps for good stays ignored. Its security groups are
    among those: the replica was made in the recovery VPC (the source stack's) with a group that
    admits that VPC's range, and the rebuilt cluster runs in that same VPC; so is the managed
    secret's key (the region's default: this stack's key did not exist when it was made).
    Offline, `berth dr rebuild` and the RDS handler do the same: promote, manage the password, adopt.
    """
    if imported:
        return pulumi.ResourceOptions(ignore_changes=list(ADOPTED_FOR_GOOD))
    return pulumi.ResourceOptions(import_=identifier, ignore_changes=[*ADOPTED_FOR_GOOD, *DIFFERS_AT_IMPORT])


def _secret_arn(secrets: Any) -> str:
    """The ARN of RDS's managed master secret, from the instance's masterUserSecrets output (typed
    output objects, or dicts with the Python names, as the SDK hands them over)."""
    for secret in secrets or []:
        if isinstance(secret, dict):
            arn = secret.get("secret_arn") or secret.get("secretArn")
        else:
            arn = getattr(secret, "secret_arn", None)
        if arn:
            return str(arn)
    return ""


def _account_key_policy(partition: str, account_id: str, region: str) -> str:
    """The account administers the key; RDS uses it through the caller's grants (kms:ViaService);
    CloudWatch Logs in the key's region encrypts the instances' exported log groups with it."""
    return kms.key_policy(kms.account_admin(partition, account_id),
                          kms.logs_for_group(partition, region, account_id, f"{RDS_LOG_GROUP_PREFIX}*"))
