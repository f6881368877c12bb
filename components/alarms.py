"""Components room: the alarms that page people, and the dashboard they look at first.

One SNS topic per region that holds alarms (the stack's region, us-east-1 for CloudFront's
global metrics, the DR region for a cross-region replica), each encrypted with its own
KMS key whose policy lets CloudWatch and EventBridge publish. Every alarm notifies the
topic on ALARM and on OK and says explicitly how missing data counts, so nobody has to
guess whether silence means healthy. Tiers are optional: pass only what exists.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws

from components import kms
from components.base import Component
from components.bucket import HardenedBucket
from components.placement import locate, region_kw
from components.settings import AlarmSettings

# CloudFront publishes its metrics in us-east-1 only, with the dimension Region=Global.
CLOUDFRONT_METRICS_REGION = "us-east-1"
# The uptime canary: what it calls (behind the CDN), its runtime, how long its artifacts stay.
CANARY_PATH = "/api/health"
CANARY_RUNTIME = "syn-nodejs-puppeteer-9.1"
CANARY_ARTIFACT_RETENTION_DAYS = 30

CANARY_SCRIPT = """\
const { URL } = require('url');
const synthetics = require('Synthetics');
const log = require('SyntheticsLogger');

// Liveness through the whole path users take: CloudFront -> load balancer -> app.
exports.handler = async () => {
  const target = new URL(process.env.TARGET_URL);
  await synthetics.executeHttpStep('api-health', {
    hostname: target.hostname,
    method: 'GET',
    path: target.pathname,
    port: 443,
    protocol: 'https:',
    headers: { 'User-Agent': synthetics.getCanaryUserAgentString() },
  }, async (res) => {
    if (res.statusCode !== 200) {
      throw new Error(`${target} answered ${res.statusCode}`);
    }
    log.info(`${target} answered 200`);
  });
};
"""


@dataclass
class AlarmsArgs:
    """What to watch (wiring: the tiers' identifiers) and how hard (the settings). Leave a tier's
    wiring unset when the stack has no such tier."""

    # Who is paged, the thresholds, whether the uptime canary runs.
    settings: AlarmSettings

    # Database tier: the real RDS instance identifiers, and what the thresholds are relative to
    # (Database.allocated_storage_gib, Database.max_connections).
    database_primary_id: pulumi.Input[str] | None = None
    database_replica_ids: Sequence[pulumi.Input[str]] = ()
    database_cross_region_replica_id: pulumi.Input[str] | None = None
    database_dr_region: str | None = None
    allocated_storage_gib: int = 20
    max_connections: int = 100

    # Cache tier: the member clusters of the replication group (primary + replicas), and how many
    # there are (Cache.node_count: the alarms are planned before the ids are known).
    cache_member_ids: pulumi.Input[Sequence[str]] | None = None
    cache_node_count: int = 0

    # CDN tier; the canary calls https://<cdn_domain>/api/health (Cdn.viewer_domain).
    distribution_id: pulumi.Input[str] | None = None
    cdn_domain: pulumi.Input[str] | None = None

    # Kubernetes tier: Container Insights metrics (the Cluster installs the add-on).
    cluster_name: pulumi.Input[str] | None = None

    # Stateful resources (KMS keys, the artifacts bucket) get `protect` when true.
    protect: bool = False
    tags: dict[str, str] = field(default_factory=dict)
    # Build in this region instead of the provider's (pulumi-aws v7 per-resource region).
    region: str | None = None

    def __post_init__(self) -> None:
        if self.settings.canary and self.cdn_domain is None:
            raise ValueError("canary needs cdn_domain (the canary calls https://<cdn_domain>/api/health)")
        if self.database_cross_region_replica_id is not None and not self.database_dr_region:
            raise ValueError("database_cross_region_replica_id needs database_dr_region")
        if self.cache_member_ids is not None and self.cache_node_count < 1:
            raise ValueError("cache_member_ids needs cache_node_count >= 1 (one alarm set per member)")


def zip_bytes(files: dict[str, str]) -> bytes:
    """A zip whose bytes depend on the contents only (fixed timestamps and modes, sorted entries)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, files[name])
    return buf.getvalue()


ASSET_DIR = Path("build") / "assets"


def canary_zip(directory: Path | None = None) -> Path:
    """The canary's code package (Synthetics' Node.js layout), written once per content.

    Content-addressed and never deleted, so the path stays valid for the whole deployment
    (the engine reads it when it uploads the object, after this function returns). Relative to
    the project directory (where Pulumi runs the program): the state records the asset's path,
    and an absolute temp path would differ between machines and read as a change.
    """
    data = zip_bytes({"nodejs/node_modules/apiHealth.js": CANARY_SCRIPT})
    folder = directory or ASSET_DIR
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"canary-{hashlib.sha256(data).hexdigest()[:16]}.zip"
    if not path.exists() or path.read_bytes() != data:
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
    return path


@dataclass(frozen=True)
class _Alarm:
    """One threshold alarm on one metric; the component fills in actions and tags."""

    key: str
    namespace: str
    metric: str
    dimensions: dict[str, pulumi.Input[str]]
    comparison: str
    threshold: float
    description: str
    statistic: str | None = "Average"
    extended_statistic: str | None = None
    period: int = 300
    evaluation_periods: int = 3
    datapoints_to_alarm: int | None = None
    treat_missing_data: str = "missing"
    unit: str | None = None


class Alarms(Component):
    """SNS topics with subscriptions, CloudWatch alarms per tier, a canary, a dashboard."""

    topic_arn: pulumi.Output[str]
    alarm_names: list[pulumi.Output[str]]
    dashboard_name: pulumi.Output[str]
    composite_alarm_name: pulumi.Output[str] | None
    canary_name: pulumi.Output[str] | None

    def __init__(self, name: str, args: AlarmsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, opts, tags=args.tags, protect=args.protect)
        self._args, self._s = args, args.settings
        where = locate(self, args.region)
        self._account, self._partition, self._home = where.account, where.partition, where.region
        self._topics: dict[str, aws.sns.Topic] = {}
        self._alarms: dict[str, aws.cloudwatch.MetricAlarm] = {}

        home_topic = self._topic(self._home)
        self.topic_arn = home_topic.arn

        if args.database_primary_id is not None:
            self._database_alarms()
        if args.cache_member_ids is not None:
            self._cache_alarms()
        if args.distribution_id is not None:
            self._cdn_alarms()
        if args.cluster_name is not None:
            self._cluster_alarms()
        self.canary_name = self._canary() if args.settings.canary else None
        self.composite_alarm_name = self._composite()
        self.alarm_names = [a.name for a in self._alarms.values()]
        self.dashboard_name = self._dashboard()

        self.register_outputs({
            "topicArn": self.topic_arn,
            "alarmNames": self.alarm_names,
            "dashboardName": self.dashboard_name,
            "compositeAlarmName": self.composite_alarm_name,
            "canaryName": self.canary_name,
        })

    # ---- plumbing ---------------------------------------------------------------------
    def _suffix(self, region: str) -> str:
        return "" if region == self._home else f"-{region}"

    def _region_kw(self, region: str) -> dict[str, str]:
        """The per-resource region argument: named for another region, or when the component was
        placed explicitly; nothing for the provider's own region."""
        return region_kw(region if (self._args.region or region != self._home) else None)

    def _topic(self, region: str) -> aws.sns.Topic:
        """The alarm topic of one region (alarm actions must be a topic in the alarm's region)."""
        if region in self._topics:
            return self._topics[region]
        s, name, sfx = self._s, self.prefix, self._suffix(region)
        region_kw = self._region_kw(region)
        root = f"arn:{self._partition}:iam::{self._account}:root"
        publishers = ["cloudwatch.amazonaws.com", "events.amazonaws.com"]
        key = aws.kms.Key(
            f"{name}-alarms-key{sfx}",
            description=f"{name} alarm topic ({region})",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=kms.key_policy(
                kms.account_admin(self._partition, self._account),
                # Publishing to an encrypted topic needs the publisher to use the key. As AWS
                # documents it, without conditions: the services do not all send source keys
                # to KMS, and an alarm that cannot publish fails silently. The topic policy
                # below is what limits publishing to this account.
                {"Sid": "AlarmPublishers", "Effect": "Allow", "Principal": {"Service": publishers},
                 "Action": ["kms:Decrypt", "kms:GenerateDataKey*"], "Resource": "*"},
            ),
            tags=self.named(f"alarms-key{sfx}"),
            opts=self.stateful(),
            **region_kw,
        )
        aws.kms.Alias(f"{name}-alarms-key-alias{sfx}", name=f"alias/{name}-alarms{sfx}", target_key_id=key.key_id,
                      opts=self.child(), **region_kw)
        topic = aws.sns.Topic(
            f"{name}-alarms{sfx}",
            name=f"{name}-alarms",
            kms_master_key_id=key.arn,
            tags=self.named(f"alarms{sfx}"),
            opts=self.child(),
            **region_kw,
        )
        aws.sns.TopicPolicy(
            f"{name}-alarms-policy{sfx}",
            arn=topic.arn,
            policy=topic.arn.apply(lambda arn: json.dumps({
                "Version": "2012-10-17",
                "Statement": [
                    {"Sid": "AccountOwner", "Effect": "Allow", "Principal": {"AWS": root},
                     "Action": ["sns:Publish", "sns:Subscribe", "sns:GetTopicAttributes",
                                "sns:SetTopicAttributes", "sns:ListSubscriptionsByTopic"],
                     "Resource": arn},
                    {"Sid": "AlarmPublishers", "Effect": "Allow", "Principal": {"Service": publishers},
                     "Action": "sns:Publish", "Resource": arn,
                     "Condition": {"StringEquals": {"aws:SourceAccount": self._account}}},
                    {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*",
                     "Action": "sns:Publish", "Resource": arn,
                     "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
                ],
            })),
            opts=self.child(),
            **region_kw,
        )
        for i, email in enumerate(s.emails):
            aws.sns.TopicSubscription(f"{name}-alarms-email-{i}{sfx}", topic=topic.arn, protocol="email",
                                      endpoint=email, opts=self.child(), **region_kw)
        for i, url in enumerate(s.https_endpoints):
            # Paging services (PagerDuty, Opsgenie) confirm subscriptions themselves.
            aws.sns.TopicSubscription(f"{name}-alarms-https-{i}{sfx}", topic=topic.arn, protocol="https",
                                      endpoint=url, endpoint_auto_confirms=True, opts=self.child(), **region_kw)
        self._topics[region] = topic
        return topic

    def _alarm(self, a: _Alarm, region: str | None = None) -> aws.cloudwatch.MetricAlarm:
        region = region or self._home
        topic = self._topic(region)
        region_kw = self._region_kw(region)
        alarm = aws.cloudwatch.MetricAlarm(
            f"{self.prefix}-{a.key}",
            name=f"{self.prefix}-{a.key}",
            alarm_description=a.description,
            namespace=a.namespace,
            metric_name=a.metric,
            dimensions=a.dimensions,
            statistic=a.statistic if a.extended_statistic is None else None,
            extended_statistic=a.extended_statistic,
            period=a.period,
            evaluation_periods=a.evaluation_periods,
            datapoints_to_alarm=a.datapoints_to_alarm,
            comparison_operator=a.comparison,
            threshold=a.threshold,
            unit=a.unit,
            treat_missing_data=a.treat_missing_data,
            alarm_actions=[topic.arn],
            ok_actions=[topic.arn],
            tags=self.named(a.key),
            opts=self.child(),
            **region_kw,
        )
        self._alarms[a.key] = alarm
        return alarm

    # ---- tiers ------------------------------------------------------------------------
    def _database_alarms(self) -> None:
        args, s = self._args, self._s
        gib = 1024**3
        free_storage_bytes = args.allocated_storage_gib * gib * s.free_storage_percent / 100
        connections = int(args.max_connections * s.connections_percent / 100)
        instances: list[tuple[str, pulumi.Input[str], str | None]] = [("db-primary", args.database_primary_id, None)]
        instances += [(f"db-replica-{i + 1}", rid, None) for i, rid in enumerate(args.database_replica_ids)]
        if args.database_cross_region_replica_id is not None:
            instances.append(("db-dr-replica", args.database_cross_region_replica_id, args.database_dr_region))

        for key, ident, region in instances:
            dims = {"DBInstanceIdentifier": ident}
            self._alarm(_Alarm(f"{key}-cpu", "AWS/RDS", "CPUUtilization", dims, "GreaterThanThreshold",
                               s.cpu_percent, f"{key}: CPU above {s.cpu_percent:g}% for 15 minutes",
                               unit="Percent"), region)
            self._alarm(_Alarm(f"{key}-free-storage", "AWS/RDS", "FreeStorageSpace", dims, "LessThanThreshold",
                               free_storage_bytes,
                               f"{key}: free storage below {s.free_storage_percent:g}% of "
                               f"{args.allocated_storage_gib} GiB", evaluation_periods=2, unit="Bytes"), region)
            if key == "db-primary":
                self._alarm(_Alarm(f"{key}-freeable-memory", "AWS/RDS", "FreeableMemory", dims, "LessThanThreshold",
                                   s.freeable_memory_mib * 1024**2,
                                   f"{key}: freeable memory below {s.freeable_memory_mib} MiB", unit="Bytes"))
                self._alarm(_Alarm(f"{key}-connections", "AWS/RDS", "DatabaseConnections", dims,
                                   "GreaterThanThreshold", connections,
                                   f"{key}: more than {connections} connections ({s.connections_percent:g}% of "
                                   f"max_connections {args.max_connections})", statistic="Maximum",
                                   evaluation_periods=2))
                for metric in ("ReadLatency", "WriteLatency"):
                    label = metric.removesuffix("Latency").lower()
                    self._alarm(_Alarm(f"{key}-{label}-latency", "AWS/RDS", metric, dims, "GreaterThanThreshold",
                                       s.latency_seconds,
                                       f"{key}: {label} latency above {s.latency_seconds * 1000:g} ms",
                                       unit="Seconds"))
            else:
                # A replica that stops reporting lag has stopped replicating: that is an alarm.
                self._alarm(_Alarm(f"{key}-lag", "AWS/RDS", "ReplicaLag", dims, "GreaterThanThreshold",
                                   s.replica_lag_seconds,
                                   f"{key}: replication lag above {s.replica_lag_seconds:g} s",
                                   statistic="Maximum", period=60, evaluation_periods=5, datapoints_to_alarm=3,
                                   treat_missing_data="breaching", unit="Seconds"), region)

    def _cache_alarms(self) -> None:
        args, s = self._args, self._s
        members = pulumi.Output.from_input(args.cache_member_ids)
        for i in range(args.cache_node_count):
            member = members.apply(lambda ids, i=i: _member(ids, i))
            key = f"cache-{i + 1:03d}"
            dims = {"CacheClusterId": member}
            self._alarm(_Alarm(f"{key}-engine-cpu", "AWS/ElastiCache", "EngineCPUUtilization", dims,
                               "GreaterThanThreshold", s.cpu_percent,
                               f"{key}: Redis engine CPU above {s.cpu_percent:g}%", unit="Percent"))
            self._alarm(_Alarm(f"{key}-memory", "AWS/ElastiCache", "DatabaseMemoryUsagePercentage", dims,
                               "GreaterThanThreshold", s.cache_memory_percent,
                               f"{key}: memory usage above {s.cache_memory_percent:g}%", unit="Percent"))
            self._alarm(_Alarm(f"{key}-evictions", "AWS/ElastiCache", "Evictions", dims, "GreaterThanThreshold", 0,
                               f"{key}: keys evicted for lack of memory", statistic="Sum",
                               treat_missing_data="notBreaching"))
            # Only replicas emit ReplicationLag and roles move on failover: silence is fine.
            self._alarm(_Alarm(f"{key}-replication-lag", "AWS/ElastiCache", "ReplicationLag", dims,
                               "GreaterThanThreshold", s.replica_lag_seconds,
                               f"{key}: replication lag above {s.replica_lag_seconds:g} s",
                               statistic="Maximum", period=60, evaluation_periods=5, datapoints_to_alarm=3,
                               treat_missing_data="notBreaching", unit="Seconds"))
            self._alarm(_Alarm(f"{key}-connections", "AWS/ElastiCache", "CurrConnections", dims,
                               "GreaterThanThreshold", s.cache_connections,
                               f"{key}: more than {s.cache_connections} client connections",
                               statistic="Maximum", evaluation_periods=2))

    def _cdn_alarms(self) -> None:
        args, s = self._args, self._s
        dims = {"DistributionId": args.distribution_id, "Region": "Global"}
        self._alarm(_Alarm("cdn-5xx-rate", "AWS/CloudFront", "5xxErrorRate", dims, "GreaterThanThreshold",
                           s.cdn_5xx_percent, f"CDN: 5xx error rate above {s.cdn_5xx_percent:g}%",
                           period=60, evaluation_periods=5, datapoints_to_alarm=3,
                           treat_missing_data="notBreaching", unit="Percent"), CLOUDFRONT_METRICS_REGION)
        # OriginLatency is one of CloudFront's additional metrics (a monitoring subscription).
        self._alarm(_Alarm("cdn-origin-latency-p95", "AWS/CloudFront", "OriginLatency", dims,
                           "GreaterThanThreshold", s.cdn_origin_latency_ms,
                           f"CDN: origin latency p95 above {s.cdn_origin_latency_ms} ms", statistic=None,
                           extended_statistic="p95", evaluation_periods=3,
                           treat_missing_data="notBreaching"), CLOUDFRONT_METRICS_REGION)

    def _cluster_alarms(self) -> None:
        args, s = self._args, self._s
        dims = {"ClusterName": args.cluster_name}
        self._alarm(_Alarm("cluster-node-cpu", "ContainerInsights", "node_cpu_utilization", dims,
                           "GreaterThanThreshold", s.node_cpu_percent,
                           f"cluster: node CPU above {s.node_cpu_percent:g}%"))
        self._alarm(_Alarm("cluster-node-memory", "ContainerInsights", "node_memory_utilization", dims,
                           "GreaterThanThreshold", s.node_memory_percent,
                           f"cluster: node memory above {s.node_memory_percent:g}%"))

    def _canary(self) -> pulumi.Output[str]:
        """Synthetics calls https://<cdn_domain>/api/health every minute; its failures page."""
        args, name = self._args, self.prefix
        # Deterministic and globally unique: S3 names are shared by every account.
        bucket_name = f"{name}-canary-{self._account}-{self._home}"
        bucket, code = self._canary_bucket(bucket_name)
        role = self._canary_role(f"arn:{self._partition}:s3:::{bucket_name}")
        canary = aws.synthetics.Canary(
            f"{name}-api-health",
            name=f"{name}-api-health".lower(),
            runtime_version=CANARY_RUNTIME,
            handler="apiHealth.handler",
            s3_bucket=bucket.id,
            s3_key=code.key,
            s3_version=code.version_id,
            execution_role_arn=role.arn,
            artifact_s3_location=f"s3://{bucket_name}/artifacts/",
            artifact_config={"s3_encryption": {"encryption_mode": "SSE_S3"}},
            schedule={"expression": "rate(1 minute)"},
            run_config={
                "timeout_in_seconds": 30,
                "environment_variables": {
                    "TARGET_URL": pulumi.Output.from_input(args.cdn_domain).apply(
                        lambda d: f"https://{d}{CANARY_PATH}"),
                },
            },
            start_canary=True,
            # The canary's Lambda is an implementation detail: delete it with the canary.
            delete_lambda=True,
            success_retention_period=CANARY_ARTIFACT_RETENTION_DAYS,
            failure_retention_period=CANARY_ARTIFACT_RETENTION_DAYS,
            tags=self.named("api-health"),
            opts=self.child(),
            **self._region_kw(self._home),
        )
        # A canary that stopped running proves nothing: missing data counts as down.
        self._alarm(_Alarm("uptime-api-health", "CloudWatchSynthetics", "SuccessPercent",
                           {"CanaryName": canary.name}, "LessThanThreshold", 100,
                           f"uptime: https://<cdn>{CANARY_PATH} failed", period=60, evaluation_periods=3,
                           datapoints_to_alarm=2, treat_missing_data="breaching", unit="Percent"))
        return canary.name

    def _canary_bucket(self, bucket_name: str) -> tuple[aws.s3.Bucket, aws.s3.BucketObjectv2]:
        """The canary's code and artifacts: private, encrypted, versioned (the code object's version
        pins the canary to the script deployed with it), artifacts expired."""
        name = self.prefix
        region_kw = self._region_kw(self._home)
        bucket = HardenedBucket(self, f"{name}-canary", bucket_name=bucket_name, force_destroy=not self.protected,
                                tags=self.named("canary"), region_kw=region_kw)
        bucket.encrypt(bucket_key=True)
        # The code object's version id pins the canary to the script deployed with it.
        versioning = bucket.version()
        bucket.lifecycle([{"id": "expire-artifacts", "status": "Enabled", "filter": {"prefix": "artifacts/"},
                           "expiration": {"days": CANARY_ARTIFACT_RETENTION_DAYS},
                           "noncurrent_version_expiration": {"noncurrent_days": 7}}],
                         depends_on=[versioning])
        # The name is known (it is ours), so the policy is a plain document.
        bucket.policy(arn=f"arn:{self._partition}:s3:::{bucket_name}")
        code = aws.s3.BucketObjectv2(
            f"{name}-canary-code",
            bucket=bucket.id,
            key="code/api-health.zip",
            # The provider maps `source` as a file *asset*: an Archive there is refused by the
            # bridge. The zip is built here, byte-for-byte the same every run (no diff per up).
            source=pulumi.FileAsset(str(canary_zip())),
            server_side_encryption="AES256",
            tags=self.named("canary-code"),
            opts=self.child(depends_on=[versioning]),
            **region_kw,
        )
        return bucket.bucket, code

    def _canary_role(self, bucket_arn: str) -> aws.iam.Role:
        """What the canary's Lambda may do: its bucket, its log groups, its metrics, X-Ray."""
        name = self.prefix
        role = aws.iam.Role(
            f"{name}-canary-role",
            description=f"{name}: Synthetics canary execution",
            assume_role_policy=json.dumps({
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                               "Action": "sts:AssumeRole"}],
            }),
            tags=self.named("canary-role"),
            opts=self.child(),
        )
        logs_arn = f"arn:{self._partition}:logs:{self._home}:{self._account}:log-group:/aws/lambda/cwsyn-*"
        aws.iam.RolePolicy(
            f"{name}-canary-role-policy",
            role=role.id,
            policy=json.dumps({
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Action": ["s3:PutObject", "s3:GetObject", "s3:GetObjectVersion"],
                     "Resource": f"{bucket_arn}/*"},
                    {"Effect": "Allow", "Action": ["s3:GetBucketLocation", "s3:ListBucket"], "Resource": bucket_arn},
                    {"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"},
                    {"Effect": "Allow", "Action": ["logs:CreateLogGroup", "logs:CreateLogStream",
                                                   "logs:PutLogEvents"], "Resource": logs_arn},
                    {"Effect": "Allow", "Action": "cloudwatch:PutMetricData", "Resource": "*",
                     "Condition": {"StringEquals": {"cloudwatch:namespace": "CloudWatchSynthetics"}}},
                    {"Effect": "Allow", "Action": ["xray:PutTraceSegments"], "Resource": "*"},
                ],
            }),
            opts=self.child(),
        )
        return role

    def _composite(self) -> pulumi.Output[str] | None:
        """ALARM when users cannot reach the API: the canary fails, or the CDN serves errors."""
        # A composite may only name alarms of its own region; CloudFront's live in us-east-1.
        region = self._home
        down_keys = [k for k in ("uptime-api-health", "cdn-5xx-rate")
                     if k in self._alarms and (k != "cdn-5xx-rate" or region == CLOUDFRONT_METRICS_REGION)]
        if not down_keys and "cdn-5xx-rate" in self._alarms:
            region, down_keys = CLOUDFRONT_METRICS_REGION, ["cdn-5xx-rate"]
        if not down_keys:
            return None
        topic = self._topic(region)
        members = [self._alarms[k].name for k in down_keys]
        composite = aws.cloudwatch.CompositeAlarm(
            f"{self.prefix}-shipments-api-down",
            alarm_name=f"{self.prefix}-shipments-api-down",
            alarm_description="Shipments API unreachable for users: " + ", ".join(down_keys),
            alarm_rule=pulumi.Output.all(*members).apply(lambda ns: " OR ".join(f'ALARM("{n}")' for n in ns)),
            alarm_actions=[topic.arn],
            ok_actions=[topic.arn],
            tags=self.named("shipments-api-down"),
            opts=self.child(depends_on=[self._alarms[k] for k in down_keys]),
            **self._region_kw(region),
        )
        return composite.alarm_name

    def _dashboard(self) -> pulumi.Output[str]:
        """One row of graphs per tier, each graph drawn from the same metrics the alarms watch."""
        home = self._home
        widgets: list[pulumi.Output[dict[str, Any]]] = []

        def graph(title: str, keys: list[str], region: str = home) -> None:
            present = [k for k in keys if k in self._alarms]
            if not present:
                return
            specs = [self._alarms[k] for k in present]

            def build(resolved: list[Any]) -> dict[str, Any]:
                metrics = []
                for ns, metric, dims, stat in resolved:
                    dim_list: list[str] = []
                    for k, v in sorted((dims or {}).items()):
                        dim_list += [k, v]
                    metrics.append([ns, metric, *dim_list, {"stat": stat}])
                return {"type": "metric", "width": 12, "height": 6,
                        "properties": {"title": title, "region": region, "view": "timeSeries",
                                       "stacked": False, "period": 300, "metrics": metrics}}

            parts = [pulumi.Output.all(a.namespace, a.metric_name, a.dimensions,
                                       pulumi.Output.all(a.statistic, a.extended_statistic).apply(
                                           lambda s: s[1] or s[0] or "Average"))
                     for a in specs]
            widgets.append(pulumi.Output.all(*parts).apply(build))

        db = [k for k in self._alarms if k.startswith("db-") and "-dr-" not in k]
        graph("Database CPU %", [k for k in db if k.endswith("-cpu")])
        graph("Database connections", [k for k in db if k.endswith("-connections")])
        graph("Database free storage (bytes)", [k for k in db if k.endswith("-free-storage")])
        graph("Database latency (s)", [k for k in db if k.endswith("-latency")])
        graph("Replica lag (s)", [k for k in db if k.endswith("-lag")])
        cache = [k for k in self._alarms if k.startswith("cache-")]
        graph("Redis engine CPU %", [k for k in cache if k.endswith("-engine-cpu")])
        graph("Redis memory %", [k for k in cache if k.endswith("-memory")])
        graph("Redis connections", [k for k in cache if k.endswith("-connections")])
        graph("CDN 5xx error rate %", ["cdn-5xx-rate"], CLOUDFRONT_METRICS_REGION)
        graph("CDN origin latency p95 (ms)", ["cdn-origin-latency-p95"], CLOUDFRONT_METRICS_REGION)
        graph("Cluster nodes CPU / memory %", ["cluster-node-cpu", "cluster-node-memory"])
        graph("Uptime: /api/health success %", ["uptime-api-health"])

        body = pulumi.Output.all(*widgets).apply(lambda ws: json.dumps({"widgets": list(ws)}))
        dashboard = aws.cloudwatch.Dashboard(
            f"{self.prefix}-dashboard",
            dashboard_name=f"{self.prefix}-shipments",
            dashboard_body=body,
            opts=self.child(),
            **self._region_kw(self._home),
        )
        return dashboard.dashboard_name


def _member(ids: Sequence[str] | None, i: int) -> str:
    ids = list(ids or [])
    if i >= len(ids):
        raise ValueError(f"cache has {len(ids)} member clusters, alarms were planned for at least {i + 1}")
    return sorted(ids)[i]
