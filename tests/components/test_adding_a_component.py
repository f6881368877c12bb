"""Tests room (components): docs/HACKING.md's "Adding a component" checklist, followed and kept.

A small component written the way the checklist says -- an SNS topic for notices with a
hardened archive bucket and one watch on failed deliveries -- goes into a throwaway program
(beside it, so its settings model lives in its own module instead of components/settings.py)
with `Alarms` fed its watches, and runs offline through the embedded cloud twice: as a
disposable stack and as a protected (production) one. What the checklist promises must hold:
the derived type token, tags with a Name on every taggable resource, stateful children
protected and retained in production only, the bucket hardened, and the watch paged on (an
alarm in moto, drawn on the dashboard) without a field added to AlarmsArgs.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest

from embedded_cloud import EmbeddedCloud, run_isolated
from embedded_cloud.graph import Graph, Node

COMPONENT = '''\
"""Components room: notices for operators -- a topic, its archive bucket, an alarm on failed deliveries."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.base import Component
from components.bucket import HardenedBucket
from components.monitoring import Graph, Watch
from components.placement import locate
from components.settings import AlarmSettings, Model


class NoticesSettings(Model):
    archive_days: int = 30
    failed_deliveries: int = 0


@dataclass
class NoticesArgs:
    settings: NoticesSettings
    protect: bool = False
    force_destroy: bool = False
    tags: dict[str, str] = field(default_factory=dict)


class Notices(Component):
    topic_name: pulumi.Output[str]
    archive_bucket_name: pulumi.Output[str]

    def __init__(self, name: str, args: NoticesArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, opts, tags=args.tags, protect=args.protect)
        self._settings = args.settings
        where = locate(self)
        topic = aws.sns.Topic(f"{self.prefix}-notices", tags=self.named("notices"), opts=self.child())
        archive = HardenedBucket(self, f"{self.prefix}-archive", bucket_name=f"{self.prefix}-archive-{where.account}",
                                 force_destroy=args.force_destroy, tags=self.named("archive"))
        archive.encrypt()
        archive.version()
        archive.lifecycle([{"id": "expire-notices", "status": "Enabled", "filter": {"prefix": ""},
                            "expiration": {"days": args.settings.archive_days}}])
        archive.policy()
        self.topic_name = topic.name
        self.archive_bucket_name = archive.bucket.bucket
        self.register_outputs({"topicName": self.topic_name, "archiveBucketName": self.archive_bucket_name})

    def watches(self, s: AlarmSettings) -> list[Watch]:
        return [Watch("notices-failed", "AWS/SNS", "NumberOfNotificationsFailed", {"TopicName": self.topic_name},
                      "GreaterThanThreshold", self._settings.failed_deliveries, "notices: deliveries failed",
                      statistic="Sum", treat_missing_data="notBreaching", graph=Graph("Notices failed", "notices"))]
'''

PROGRAM = '''\
import pulumi

from components.alarms import Alarms, AlarmsArgs
from components.settings import AlarmSettings
from notices import Notices, NoticesArgs, NoticesSettings

stack = pulumi.get_stack()
prod = stack == "live"
tags = {"Project": "notices", "Stack": stack}
alarm_settings = AlarmSettings(emails=["ops@example.com"])
notices = Notices(f"n-{stack}", NoticesArgs(settings=NoticesSettings(), protect=prod, force_destroy=not prod, tags=tags))
Alarms(f"n-{stack}", AlarmsArgs(watches=notices.watches(alarm_settings), settings=alarm_settings, protect=prod,
                                tags=tags))
'''

REGION = "us-east-1"


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The program run as `dev` (disposable) and `live` (protected), against one moto server."""
    repo: Path = tmp_path_factory.mktemp("notices")
    (repo / "notices.py").write_text(COMPONENT)
    (repo / "__main__.py").write_text(PROGRAM)
    for stack in ("dev", "live"):
        (repo / f"Pulumi.{stack}.yaml").write_text(textwrap.dedent(f"config:\n  aws:region: {REGION}\n"))
    with EmbeddedCloud.serve() as cloud:
        graphs = {stack: run_isolated(stack, endpoint_url=cloud.endpoint_url or "", repo=repo)
                  for stack in ("dev", "live")}
        yield graphs, cloud


def notices(graph: Graph) -> tuple[Node, list[Node]]:
    (component,) = [n for n in graph.components if n.name == f"n-{graph.stack}" and "notices" in n.type]
    return component, graph.descendants(component.urn)


def one(nodes: list[Node], type_: str) -> Node:
    (node,) = [n for n in nodes if n.type == type_]
    return node


def test_the_type_token_comes_from_the_module_and_the_class(runs: Any) -> None:
    graphs, _ = runs
    component, _ = notices(graphs["dev"])
    assert component.type == "berth:notices:Notices"


@pytest.mark.parametrize("stack", ["dev", "live"])
def test_every_taggable_resource_carries_the_stacks_tags_and_a_name(runs: Any, stack: str) -> None:
    graphs, _ = runs
    _, children = notices(graphs[stack])
    tagged = [n for n in children if "tags" in n.inputs]
    assert {n.type for n in tagged} == {"aws:sns/topic:Topic", "aws:s3/bucket:Bucket"}
    for node in tagged:
        assert node.inputs["tags"] == {"Project": "notices", "Stack": stack, "Name": node.name}, node.name


def test_stateful_children_are_protected_and_retained_in_production_only(runs: Any) -> None:
    graphs, _ = runs
    for stack, guarded in (("dev", False), ("live", True)):
        _, children = notices(graphs[stack])
        bucket = one(children, "aws:s3/bucket:Bucket")
        assert (bucket.protect, bucket.retain_on_delete) == (guarded, guarded), stack
        assert bucket.inputs["forceDestroy"] is not guarded
        # Nothing else is guarded: the topic holds no data.
        assert [n.name for n in children if n.protect or n.retain_on_delete] == ([bucket.name] if guarded else [])


def test_the_archive_bucket_is_hardened(runs: Any) -> None:
    graphs, cloud = runs
    _, children = notices(graphs["live"])
    block = one(children, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock").inputs
    assert all(block[k] for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"))
    ownership = one(children, "aws:s3/bucketOwnershipControls:BucketOwnershipControls").inputs
    assert ownership["rule"]["objectOwnership"] == "BucketOwnerEnforced"
    name = one(children, "aws:s3/bucket:Bucket").outputs["bucket"]
    s3 = cloud.client("s3", REGION)
    sse = s3.get_bucket_encryption(Bucket=name)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert sse["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert s3.get_bucket_versioning(Bucket=name)["Status"] == "Enabled"
    rules = s3.get_bucket_lifecycle_configuration(Bucket=name)["Rules"]
    # The component asked only to expire old notices; the part adds the abort, always.
    (rule,) = rules
    assert rule["Expiration"]["Days"] == 30 and rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"] == 7
    policy = json.loads(s3.get_bucket_policy(Bucket=name)["Policy"])
    (deny,) = policy["Statement"]
    assert (deny["Sid"], deny["Effect"], deny["Condition"]) == (
        "DenyInsecureTransport", "Deny", {"Bool": {"aws:SecureTransport": "false"}})


def test_its_watch_becomes_an_alarm_on_the_stacks_topic_and_a_dashboard_graph(runs: Any) -> None:
    graphs, cloud = runs
    _, children = notices(graphs["live"])
    topic_name = one(children, "aws:sns/topic:Topic").outputs["name"]
    cw = cloud.client("cloudwatch", REGION)
    (alarm,) = cw.describe_alarms(AlarmNames=["n-live-notices-failed"])["MetricAlarms"]
    assert (alarm["Namespace"], alarm["MetricName"], alarm["Statistic"]) == (
        "AWS/SNS", "NumberOfNotificationsFailed", "Sum")
    assert alarm["Dimensions"] == [{"Name": "TopicName", "Value": topic_name}]
    assert (alarm["ComparisonOperator"], alarm["Threshold"], alarm["TreatMissingData"]) == (
        "GreaterThanThreshold", 0, "notBreaching")
    alarm_topic = f"arn:aws:sns:{REGION}:123456789012:n-live-alarms"
    assert alarm["AlarmActions"] == alarm["OKActions"] == [alarm_topic]
    body = json.loads(cw.get_dashboard(DashboardName="n-live-shipments")["DashboardBody"])
    (widget,) = body["widgets"]
    assert widget["properties"]["title"] == "Notices failed"
    assert widget["properties"]["metrics"] == [["AWS/SNS", "NumberOfNotificationsFailed", "TopicName", topic_name,
                                                {"stat": "Sum"}]]
    # Nothing marked `down`, no canary: no "users cannot reach it" composite.
    assert graphs["live"].by_type("aws:cloudwatch/compositeAlarm:CompositeAlarm") == []
