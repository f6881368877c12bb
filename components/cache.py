"""Components room: Redis (or Valkey) on ElastiCache for the Shipments API's cache and rate limits.

One replication group, cluster mode off: a primary plus `replicas` read replicas spread over
the private subnets. Encrypted at rest with a customer KMS key (rotated) and in transit (TLS),
guarded by an AUTH token from pulumi_random, reachable on 6379 only from the security groups
the caller names (the cluster's nodes). Evicts with allkeys-lru (the app uses it as a cache:
losing a key is a miss, never an error), snapshots daily and ships its slow log to an
encrypted CloudWatch log group.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from components import kms
from components.base import Component
from components.monitoring import Graph, Watch
from components.placement import locate
from components.security import admit_from_groups
from components.settings import AlarmSettings, CacheSettings

PORT = 6379
# The alarms' dashboard: the cache's graphs, in this order.
_GRAPH_ENGINE_CPU = Graph("Redis engine CPU %", "cache", 0)
_GRAPH_MEMORY = Graph("Redis memory %", "cache", 1)
_GRAPH_CONNECTIONS = Graph("Redis connections", "cache", 2)


@dataclass
class CacheArgs:
    # Wiring: the VPC, its private subnets, the security groups whose members may connect (the
    # EKS node SG); nothing else is admitted.
    vpc_id: pulumi.Input[str]
    subnet_ids: Sequence[pulumi.Input[str]]
    # Engine, nodes, failover, snapshots, slow-log retention.
    settings: CacheSettings
    allowed_security_group_ids: Sequence[pulumi.Input[str]] = ()
    # Stateful: protect the replication group and its key from `pulumi destroy`, keep a final snapshot.
    protect: bool = False
    tags: dict[str, str] = field(default_factory=dict)
    region: str | None = None


def parameter_group_family(engine: str, engine_version: str) -> str:
    """ElastiCache's family name: redis7 for Redis 7.x, valkey7 / valkey8 for Valkey."""
    major = engine_version.split(".")[0]
    return f"{engine}{major}"


class Cache(Component):
    """An encrypted, authenticated ElastiCache replication group reachable only from named SGs."""

    replication_group_id: pulumi.Output[str]
    primary_endpoint: pulumi.Output[str]
    reader_endpoint: pulumi.Output[str]
    port: int
    auth_token: pulumi.Output[str]
    member_cluster_ids: pulumi.Output[list[str]]
    node_count: int
    security_group_id: pulumi.Output[str]
    kms_key_arn: pulumi.Output[str]
    slow_log_group_name: pulumi.Output[str]

    def __init__(self, name: str, args: CacheArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, opts, tags=args.tags, protect=args.protect)
        s = args.settings
        self._where = locate(self, args.region)
        self.port = PORT
        # The primary and its replicas: what the alarms plan one set for each of.
        self.node_count = 1 + s.replicas
        key, slow_log = self._key_and_slow_log(s)
        sg = self._security_group(args.vpc_id, args.allowed_security_group_ids)
        subnet_group = aws.elasticache.SubnetGroup(
            f"{name}-cache-subnets",
            name=f"{name}-cache",
            description=f"{name} ElastiCache private subnets",
            subnet_ids=list(args.subnet_ids),
            tags=self.named("cache-subnets"),
            opts=self.child(),
            **self._where.kw,
        )
        params = self._parameter_group(s)
        self._auth_token()
        self._replication_group(s, key, slow_log, sg, subnet_group, params)
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

    # ---- what the alarms watch -------------------------------------------------------------
    def watches(self, s: AlarmSettings) -> list[Watch]:
        """One set per member cluster (primary and replicas, `node_count` of them: planned before
        their ids are known): engine CPU, memory, evictions, replication lag, connections."""
        out: list[Watch] = []
        for i in range(self.node_count):
            member = self.member_cluster_ids.apply(lambda ids, i=i: _member(ids, i))
            key = f"cache-{i + 1:03d}"
            dims = {"CacheClusterId": member}
            out.append(Watch(f"{key}-engine-cpu", "AWS/ElastiCache", "EngineCPUUtilization", dims,
                             "GreaterThanThreshold", s.cpu_percent,
                             f"{key}: Redis engine CPU above {s.cpu_percent:g}%", unit="Percent",
                             graph=_GRAPH_ENGINE_CPU))
            out.append(Watch(f"{key}-memory", "AWS/ElastiCache", "DatabaseMemoryUsagePercentage", dims,
                             "GreaterThanThreshold", s.cache_memory_percent,
                             f"{key}: memory usage above {s.cache_memory_percent:g}%", unit="Percent",
                             graph=_GRAPH_MEMORY))
            out.append(Watch(f"{key}-evictions", "AWS/ElastiCache", "Evictions", dims, "GreaterThanThreshold", 0,
                             f"{key}: keys evicted for lack of memory", statistic="Sum",
                             treat_missing_data="notBreaching"))
            # Only replicas emit ReplicationLag and roles move on failover: silence is fine.
            out.append(Watch(f"{key}-replication-lag", "AWS/ElastiCache", "ReplicationLag", dims,
                             "GreaterThanThreshold", s.replica_lag_seconds,
                             f"{key}: replication lag above {s.replica_lag_seconds:g} s",
                             statistic="Maximum", period=60, evaluation_periods=5, datapoints_to_alarm=3,
                             treat_missing_data="notBreaching", unit="Seconds"))
            out.append(Watch(f"{key}-connections", "AWS/ElastiCache", "CurrConnections", dims,
                             "GreaterThanThreshold", s.cache_connections,
                             f"{key}: more than {s.cache_connections} client connections",
                             statistic="Maximum", evaluation_periods=2, graph=_GRAPH_CONNECTIONS))
        return out

    # ---- steps, in dependency order --------------------------------------------------------
    def _key_and_slow_log(self, s: CacheSettings) -> tuple[aws.kms.Key, aws.cloudwatch.LogGroup]:
        """One key for the data at rest and the slow log: CloudWatch Logs may use it only for this
        log group (encryption-context condition), ElastiCache through the account."""
        name, w = self.prefix, self._where
        log_group_name = f"/berth/{name}/redis-slow-log"
        key = aws.kms.Key(
            f"{name}-cache-key",
            description=f"{name} ElastiCache at-rest encryption and slow log",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=kms.key_policy(
                kms.account_admin(w.partition, w.account),
                kms.logs_for_group(w.partition, w.region, w.account, log_group_name),
            ),
            tags=self.named("cache-key"),
            opts=self.stateful(),
            **w.kw,
        )
        self.kms_key_arn = key.arn
        slow_log = aws.cloudwatch.LogGroup(
            f"{name}-cache-slow-log",
            name=log_group_name,
            retention_in_days=s.log_retention_days,
            kms_key_id=key.arn,
            tags=self.named("cache-slow-log"),
            opts=self.child(),
            **w.kw,
        )
        self.slow_log_group_name = slow_log.name
        return key, slow_log

    def _security_group(self, vpc_id: pulumi.Input[str],
                        allowed: Sequence[pulumi.Input[str]]) -> aws.ec2.SecurityGroup:
        """Redis's port from the allowed security groups only (components/security.py)."""
        name, kw = self.prefix, self._where.kw
        sg = aws.ec2.SecurityGroup(
            f"{name}-cache-sg",
            vpc_id=vpc_id,
            description=f"{name} ElastiCache: Redis {PORT} from the allowed security groups only",
            # No egress rules: Redis answers on established connections and never dials out.
            tags=self.named("cache-sg"),
            opts=self.child(),
            **kw,
        )
        self.security_group_id = sg.id
        admit_from_groups(
            f"{name}-cache",
            security_group_id=sg.id,
            sources=allowed,
            port=PORT,
            what="Redis",
            named=self.named,
            opts=self.child(),
            region_kw=kw,
        )
        return sg

    def _parameter_group(self, s: CacheSettings) -> aws.elasticache.ParameterGroup:
        """allkeys-lru: the app uses the cache as a cache (losing a key is a miss, never an error)."""
        name = self.prefix
        family = parameter_group_family(s.engine, s.engine_version)
        return aws.elasticache.ParameterGroup(
            f"{name}-cache-params",
            name=f"{name}-cache-{family}",
            family=family,
            description=f"{name} {s.engine} {s.engine_version}: evict any key LRU when full",
            parameters=[aws.elasticache.ParameterGroupParameterArgs(name="maxmemory-policy", value="allkeys-lru")],
            tags=self.named("cache-params"),
            opts=self.child(),
            **self._where.kw,
        )

    def _auth_token(self) -> None:
        # Alphanumeric only: ElastiCache rejects '/', '"', '@' and spaces in AUTH tokens.
        token = random.RandomPassword(
            f"{self.prefix}-cache-auth-token",
            length=64,
            special=False,
            opts=self.child(additional_secret_outputs=["result"]),
        )
        self.auth_token = pulumi.Output.secret(token.result)

    def _replication_group(self, s: CacheSettings, key: aws.kms.Key, slow_log: aws.cloudwatch.LogGroup,
                           sg: aws.ec2.SecurityGroup, subnet_group: aws.elasticache.SubnetGroup,
                           params: aws.elasticache.ParameterGroup) -> None:
        """Cluster mode off: a primary plus replicas, encrypted at rest and in transit, AUTH required."""
        name = self.prefix
        group_id = f"{name}-redis"[:40]
        group = aws.elasticache.ReplicationGroup(
            f"{name}-redis",
            replication_group_id=group_id,
            description=f"{name} Shipments API cache",
            engine=s.engine,
            engine_version=s.engine_version,
            node_type=s.node_type,
            port=PORT,
            num_cache_clusters=self.node_count,
            automatic_failover_enabled=s.automatic_failover,
            multi_az_enabled=s.multi_az,
            parameter_group_name=params.name,
            subnet_group_name=subnet_group.name,
            security_group_ids=[sg.id],
            at_rest_encryption_enabled=True,
            kms_key_id=key.arn,
            transit_encryption_enabled=True,
            transit_encryption_mode="required",
            auth_token=self.auth_token,
            auth_token_update_strategy="ROTATE",
            snapshot_retention_limit=s.snapshot_retention_days,
            snapshot_window=s.snapshot_window,
            maintenance_window=s.maintenance_window,
            final_snapshot_identifier=f"{group_id}-final" if self.protected else None,
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
            tags=self.named("redis"),
            opts=self.stateful(depends_on=[slow_log]),
            **self._where.kw,
        )
        self.replication_group_id = group.id
        self.primary_endpoint = group.primary_endpoint_address
        self.reader_endpoint = group.reader_endpoint_address
        self.member_cluster_ids = group.member_clusters.apply(lambda ids: sorted(ids or []))


def _member(ids: Sequence[str] | None, i: int) -> str:
    """The i-th member cluster id (sorted: stable across runs), once the group exists."""
    ids = list(ids or [])
    if i >= len(ids):
        raise ValueError(f"cache has {len(ids)} member clusters, alarms were planned for at least {i + 1}")
    return sorted(ids)[i]
