"""Components room: the alarms that page people, and the dashboard they look at first.

One SNS topic per region that holds alarms (the stack's region, us-east-1 for CloudFront's
global metrics, the DR region for a cross-region replica), each encrypted with its own
KMS key whose policy lets CloudWatch and EventBridge publish. Every alarm notifies the
topic on ALARM and on OK and says explicitly how missing data counts, so nobody has to
guess whether silence means healthy. What to watch is each component's to say: an alarm per
`Watch` (components/monitoring.py) the stack passes in, whichever tiers it has.
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
from components.monitoring import Graph, Watch
from components.placement import locate, region_kw
from components.settings import AlarmSettings

# The uptime canary: what it calls (behind the CDN), its runtime, how long its artifacts stay.
CANARY_PATH = "/api/health"
CANARY_RUNTIME = "syn-nodejs-puppeteer-9.1"
CANARY_ARTIFACT_RETENTION_DAYS = 30
# The canary's alarm (its failures page, and it is the first sign users cannot reach the API).
UPTIME_KEY = "uptime-api-health"

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
    """What to watch (wiring: every component's watches) and how hard (the settings)."""

    # Who is paged, the thresholds, whether the uptime canary runs.
    settings: AlarmSettings
    # Wiring: the watches of the tiers the stack has (Database.watches(settings), Cache's, Cdn's,
    # Cluster's, ...): one alarm each.
    watches: Sequence[Watch] = ()
    # The canary calls https://<cdn_domain>/api/health (Cdn.viewer_domain).
    cdn_domain: pulumi.Input[str] | None = None

    # Stateful resources (the topics' KMS keys, the canary's bucket) are protected and retained on
    # delete when true.
    protect: bool = False
    tags: dict[str, str] = field(default_factory=dict)
    # Build in this region instead of the provider's (pulumi-aws v7 per-resource region).
    region: str | None = None

    def __post_init__(self) -> None:
        if self.settings.canary and self.cdn_domain is None:
            raise ValueError("canary needs cdn_domain (the canary calls https://<cdn_domain>/api/health)")
        keys = [w.key for w in self.watches]
        if self.settings.canary:
            keys.append(UPTIME_KEY)
        repeated = sorted({k for k in keys if keys.count(k) > 1})
        if repeated:
            raise ValueError(f"watch keys must be unique (each names an alarm): {', '.join(repeated)} repeated")


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


def _canary_log_group(engine_arn: str | None) -> str:
    """/aws/lambda/<function> from the canary's engine ARN (arn:aws:lambda:<region>:<account>:function:<name>:<v>)."""
    parts = (engine_arn or "").split(":")
    if len(parts) < 7 or parts[5] != "function":
        raise ValueError(f"the canary reported no Lambda engine ARN ({engine_arn!r}): its log group cannot be named")
    return f"/aws/lambda/{parts[6]}"


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
        self._keys: dict[str, aws.kms.Key] = {}
        self._canary_name = f"{self.prefix}-api-health".lower()
        self._alarms: dict[str, aws.cloudwatch.MetricAlarm] = {}
        self._watches: dict[str, Watch] = {}

        home_topic = self._topic(self._home)
        self.topic_arn = home_topic.arn

        for watch in args.watches:
            self._alarm(watch)
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
                # The canary's Lambda log group (made here, encrypted with this key).
                # Any canary Lambda's group (Synthetics may shorten a long canary name in the function's).
                kms.logs_for_group(self._partition, region, self._account, "/aws/lambda/cwsyn-*"),
            ),
            tags=self.named(f"alarms-key{sfx}"),
            opts=self.stateful(),
            **region_kw,
        )
        self._keys[region] = key
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

    def _alarm(self, a: Watch) -> aws.cloudwatch.MetricAlarm:
        region = a.region or self._home
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
        self._alarms[a.key], self._watches[a.key] = alarm, a
        return alarm

    # ---- the canary, the composite, the dashboard -------------------------------------
    def _canary(self) -> pulumi.Output[str]:
        """Synthetics calls https://<cdn_domain>/api/health every minute; its failures page."""
        args, name = self._args, self.prefix
        # Deterministic and globally unique: S3 names are shared by every account.
        bucket_name = f"{name}-canary-{self._account}-{self._home}"
        bucket, code = self._canary_bucket(bucket_name)
        role = self._canary_role(f"arn:{self._partition}:s3:::{bucket_name}")
        canary = aws.synthetics.Canary(
            f"{name}-api-health",
            name=self._canary_name,
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
        # Synthetics names the canary's Lambda cwsyn-<canary>-<id> (the id is AWS's, known once the
        # canary exists), so its group can only follow the canary; the role may not create log
        # groups, so the Lambda never makes its own (unexpiring, unencrypted) one: the first run's
        # lines, before this group exists, are dropped instead.
        aws.cloudwatch.LogGroup(
            f"{name}-canary-logs",
            name=canary.engine_arn.apply(_canary_log_group),
            retention_in_days=self._s.canary_log_retention_days,
            kms_key_id=self._keys[self._home].arn,
            tags=self.named("canary-logs"),
            opts=self.child(),
            **self._region_kw(self._home),
        )
        # A canary that stopped running proves nothing: missing data counts as down.
        self._alarm(Watch(UPTIME_KEY, "CloudWatchSynthetics", "SuccessPercent", {"CanaryName": canary.name},
                          "LessThanThreshold", 100, f"uptime: https://<cdn>{CANARY_PATH} failed", period=60,
                          evaluation_periods=3, datapoints_to_alarm=2, treat_missing_data="breaching",
                          unit="Percent", graph=Graph("Uptime: /api/health success %", "uptime"), down=True))
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
                    # No logs:CreateLogGroup: the stack makes the group (see _canary).
                    {"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                     "Resource": logs_arn},
                    {"Effect": "Allow", "Action": "cloudwatch:PutMetricData", "Resource": "*",
                     "Condition": {"StringEquals": {"cloudwatch:namespace": "CloudWatchSynthetics"}}},
                    {"Effect": "Allow", "Action": ["xray:PutTraceSegments"], "Resource": "*"},
                ],
            }),
            opts=self.child(),
        )
        return role

    def _composite(self) -> pulumi.Output[str] | None:
        """ALARM when users cannot reach the API: any watch marked `down` (the canary fails, the
        CDN serves errors) is in ALARM."""
        home = self._home
        # The canary first: it is what users see; then the tiers' watches in the order given.
        down = sorted((w for w in self._watches.values() if w.down), key=lambda w: w.key != UPTIME_KEY)
        if not down:
            return None
        # A composite may only name alarms of its own region (CloudFront's live in us-east-1):
        # the stack's region if any is there, else the first one's.
        regions = [w.region or home for w in down]
        region = home if home in regions else regions[0]
        down_keys = [w.key for w, r in zip(down, regions, strict=True) if r == region]
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
        """The watches' graphs, a section per tier, each graph drawn from the same metrics its
        alarms watch (in the region they are published in)."""
        home = self._home
        drawn: dict[Graph, list[str]] = {}
        for key, watch in self._watches.items():
            if watch.graph is not None:
                drawn.setdefault(watch.graph, []).append(key)
        sections = list(dict.fromkeys(g.section for g in drawn))
        order = sorted(drawn, key=lambda g: (sections.index(g.section), g.place))
        widgets: list[pulumi.Output[dict[str, Any]]] = []
        for graph in order:
            keys = drawn[graph]
            region = self._watches[keys[0]].region or home

            def build(resolved: list[Any], title: str = graph.title, region: str = region) -> dict[str, Any]:
                metrics = []
                for ns, metric, dims, stat in resolved:
                    dim_list: list[str] = []
                    for k, v in sorted((dims or {}).items()):
                        dim_list += [k, v]
                    metrics.append([ns, metric, *dim_list, {"stat": stat}])
                return {"type": "metric", "width": 12, "height": 6,
                        "properties": {"title": title, "region": region, "view": "timeSeries",
                                       "stacked": False, "period": 300, "metrics": metrics}}

            # From the alarms' own outputs: the dashboard is drawn once they exist.
            parts = [pulumi.Output.all(a.namespace, a.metric_name, a.dimensions,
                                       pulumi.Output.all(a.statistic, a.extended_statistic).apply(
                                           lambda s: s[1] or s[0] or "Average"))
                     for a in (self._alarms[k] for k in keys)]
            widgets.append(pulumi.Output.all(*parts).apply(build))

        body = pulumi.Output.all(*widgets).apply(lambda ws: json.dumps({"widgets": list(ws)}))
        dashboard = aws.cloudwatch.Dashboard(
            f"{self.prefix}-dashboard",
            dashboard_name=f"{self.prefix}-shipments",
            dashboard_body=body,
            opts=self.child(),
            **self._region_kw(self._home),
        )
        return dashboard.dashboard_name
