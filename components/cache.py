"""Components room: Redis (or Valkey) on ElastiCache for the Shipments API's cache and rate limits.

One replication group, cluster mode off: a primary plus `replicas` read replicas spread over
the private subnets. Encrypted at rest with a customer KMS key (rotated) and in transit (TLS),
guarded by an AUTH token from pulumi_random, reachable on 6379 only from the security groups
the caller names (the cluster's nodes). Evicts with allkeys-lru (the app uses it as a cache:
losing a key is a miss, never an error), snapshots daily and ships its slow log to an
encrypted CloudWatch log group.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from components import kms
from components.security import admit_from_groups

PORT = 6379


@dataclass
class CacheArgs:
    vpc_id: pulumi.Input[str]
    subnet_ids: Sequence[pulumi.Input[str]]
    # Security groups whose members may connect (the EKS node SG); nothing else is admitted.
    allowed_security_group_ids: Sequence[pulumi.Input[str]] = field(default_factory=list)
    engine: Literal["redis", "valkey"] = "redis"
    engine_version: str = "7.1"
    node_type: str = "cache.t4g.small"
    replicas: int = 1
    multi_az: bool = True
    automatic_failover: bool = True
    snapshot_retention_days: int = 7
    snapshot_window: str = "02:00-03:00"
    maintenance_window: str = "sun:05:30-sun:06:30"
    log_retention_days: int = 30
    # Stateful: protect the replication group and its key from `pulumi destroy`, keep a final snapshot.
    protect: bool = False
    tags: dict[str, str] = field(default_factory=dict)
    region: str | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.replicas <= 5:
            raise ValueError(f"replicas must be between 0 and 5, got {self.replicas}")
        if (self.automatic_failover or self.multi_az) and self.replicas < 1:
            raise ValueError("automatic_failover and multi_az need at least one replica")
        if self.multi_az and not self.automatic_failover:
            raise ValueError("multi_az requires automatic_failover")
        if not re.fullmatch(r"\d+\.\d+", self.engine_version):
            raise ValueError(f"engine_version must be MAJOR.MINOR such as 7.1, got {self.engine_version!r}")


def parameter_group_family(engine: str, engine_version: str) -> str:
    """ElastiCache's family name: redis7 for Redis 7.x, valkey7 / valkey8 for Valkey."""
    major = engine_version.split(".")[0]
    return f"{engine}{major}"


class Cache(pulumi.ComponentResource):
    """An encrypted, authenticated ElastiCache replication group reachable only from named SGs."""

    replication_group_id: pulumi.Output[str]
    primary_endpoint: pulumi.Output[str]
    reader_endpoint: pulumi.Output[str]
    port: int
    auth_token: pulumi.Output[str]
    member_cluster_ids: pulumi.Output[list[str]]
    security_group_id: pulumi.Output[str]
    kms_key_arn: pulumi.Output[str]
    slow_log_group_name: pulumi.Output[str]

    def __init__(self, name: str, args: CacheArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("berth:cache:Cache", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        # Deleting these loses data (or the ability to decrypt snapshots): guard them in prod.
        stateful = pulumi.ResourceOptions(parent=self, protect=args.protect, retain_on_delete=args.protect)
        region_kw = {"region": args.region} if args.region else {}
        tags = args.tags

        def named(suffix: str) -> dict[str, str]:
            return {**tags, "Name": f"{name}-{suffix}"}

        invoke_opts = pulumi.InvokeOptions(parent=self)
        identity = aws.get_caller_identity(opts=invoke_opts)
        partition = aws.get_partition(opts=invoke_opts).partition
        region = args.region or aws.get_region(opts=invoke_opts).region
        log_group_name = f"/berth/{name}/redis-slow-log"

        # One key for the data at rest and the slow log: CloudWatch Logs may use it only
        # for this log group (encryption-context condition), ElastiCache through the account.
        key = aws.kms.Key(
            f"{name}-cache-key",
            description=f"{name} ElastiCache at-rest encryption and slow log",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=kms.key_policy(
                kms.account_admin(partition, identity.account_id),
                kms.logs_for_group(partition, region, identity.account_id, log_group_name),
            ),
            tags=named("cache-key"),
            opts=stateful,
            **region_kw,
        )
        self.kms_key_arn = key.arn

        slow_log = aws.cloudwatch.LogGroup(
            f"{name}-cache-slow-log",
            name=log_group_name,
            retention_in_days=args.log_retention_days,
            kms_key_id=key.arn,
            tags=named("cache-slow-log"),
            opts=child,
            **region_kw,
        )
        self.slow_log_group_name = slow_log.name

        sg = aws.ec2.SecurityGroup(
            f"{name}-cache-sg",
            vpc_id=args.vpc_id,
            description=f"{name} ElastiCache: Redis {PORT} from the allowed security groups only",
            # No egress rules: Redis answers on established connections and never dials out.
            tags=named("cache-sg"),
            opts=child,
            **region_kw,
        )
        self.security_group_id = sg.id
        admit_from_groups(
            f"{name}-cache",
            security_group_id=sg.id,
            sources=args.allowed_security_group_ids,
            port=PORT,
            what="Redis",
            named=named,
            opts=child,
            region_kw=region_kw,
        )

        subnet_group = aws.elasticache.SubnetGroup(
            f"{name}-cache-subnets",
            name=f"{name}-cache",
            description=f"{name} ElastiCache private subnets",
            subnet_ids=list(args.subnet_ids),
            tags=named("cache-subnets"),
            opts=child,
            **region_kw,
        )

        family = parameter_group_family(args.engine, args.engine_version)
        params = aws.elasticache.ParameterGroup(
            f"{name}-cache-params",
            name=f"{name}-cache-{family}",
            family=family,
            description=f"{name} {args.engine} {args.engine_version}: evict any key LRU when full",
            parameters=[aws.elasticache.ParameterGroupParameterArgs(name="maxmemory-policy", value="allkeys-lru")],
            tags=named("cache-params"),
            opts=child,
            **region_kw,
        )

        # Alphanumeric only: ElastiCache rejects '/', '"', '@' and spaces in AUTH tokens.
        token = random.RandomPassword(
            f"{name}-cache-auth-token",
            length=64,
            special=False,
            opts=pulumi.ResourceOptions(parent=self, additional_secret_outputs=["result"]),
        )
        self.auth_token = pulumi.Output.secret(token.result)

        group_id = f"{name}-redis"[:40]
        group = aws.elasticache.ReplicationGroup(
            f"{name}-redis",
            replication_group_id=group_id,
            description=f"{name} Shipments API cache",
            engine=args.engine,
            engine_version=args.engine_version,
            node_type=args.node_type,
            port=PORT,
            num_cache_clusters=1 + args.replicas,
            automatic_failover_enabled=args.automatic_failover,
            multi_az_enabled=args.multi_az,
            parameter_group_name=params.name,
            subnet_group_name=subnet_group.name,
            security_group_ids=[sg.id],
            at_rest_encryption_enabled=True,
            kms_key_id=key.arn,
            transit_encryption_enabled=True,
            transit_encryption_mode="required",
            auth_token=self.auth_token,
            auth_token_update_strategy="ROTATE",
            snapshot_retention_limit=args.snapshot_retention_days,
            snapshot_window=args.snapshot_window,
            maintenance_window=args.maintenance_window,
            final_snapshot_identifier=f"{group_id}-final" if args.protect else None,
            auto_minor_version_upgrade=True,
            apply_immediately=False,
            log_delivery_configurations=[
                aws.elasticache.ReplicationGroupLogDeliveryConfigurationArgs(
                    destination=slow_log.name,
                    destination_type="cloudwatch-logs",
                    log_format="json",
                    log_type="slow-log",
                )
            ],
            tags=named("redis"),
            opts=pulumi.ResourceOptions.merge(stateful, pulumi.ResourceOptions(depends_on=[slow_log])),
            **region_kw,
        )
        self.replication_group_id = group.id
        self.primary_endpoint = group.primary_endpoint_address
        self.reader_endpoint = group.reader_endpoint_address
        self.port = PORT
        self.member_cluster_ids = group.member_clusters.apply(lambda ids: sorted(ids or []))

        self.register_outputs(
            {
                "replicationGroupId": self.replication_group_id,
                "primaryEndpoint": self.primary_endpoint,
                "readerEndpoint": self.reader_endpoint,
                "port": self.port,
                "authToken": self.auth_token,
                "memberClusterIds": self.member_cluster_ids,
                "securityGroupId": self.security_group_id,
                "kmsKeyArn": self.kms_key_arn,
            }
        )
