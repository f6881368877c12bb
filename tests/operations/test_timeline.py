"""Tests room (stacks): the first-deploy timeline drawn from the real graphs.

It must tell a reviewer what the first `pulumi up` waits on: the database tier, then PgBouncer,
then the migrations Job, then the app. Each resource starts only when everything it depends on
(explicitly, through its inputs, or through its provider) is done.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from berth.operations.render import write_build
from berth.operations.timeline import TYPICAL, schedule, summary, typical_seconds
from embedded_cloud.runner import REPO
from tests.conftest import Deployed

JOB = "kubernetes:batch/v1:Job"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
RDS = "aws:rds/instance:Instance"


@pytest.mark.parametrize("name", ["staging", "prod"])
def test_the_path_to_serving_runs_through_the_database_pgbouncer_the_migrations_and_the_app(
    request: pytest.FixtureRequest, name: str
) -> None:
    d: Deployed = request.getfixturevalue(name)
    t = schedule(d.graph)
    kinds = [(t.slots[u].node.type, t.slots[u].node.name) for u in t.serving]
    names = [n for _, n in kinds]
    pgb = next(i for i, (k, n) in enumerate(kinds) if k == DEPLOYMENT and "pgbouncer" in n)
    job = next(i for i, (k, _) in enumerate(kinds) if k == JOB)
    assert kinds[-1][0] == DEPLOYMENT and names[-1].endswith("-deployment") and "pgbouncer" not in names[-1]
    assert any(k == RDS for k, _ in kinds[:pgb]), "the database tier comes first"
    assert pgb < job < len(kinds) - 1
    # Each step starts exactly when the one before it on the path is done.
    for a, b in zip(t.serving, t.serving[1:], strict=False):
        assert t.slots[b].start == t.slots[a].end
    # Half an hour or so, dominated by RDS: the order of magnitude a platform engineer expects.
    assert 20 * 60 < t.serving_seconds < 60 * 60


@pytest.mark.parametrize("name", ["staging", "prod"])
def test_the_cdn_starts_in_the_first_minutes_not_behind_the_app(request: pytest.FixtureRequest, name: str) -> None:
    """The distribution's app origin is a name we own, not the NLB's: it no longer waits for the
    database, the app's pods and the load balancer (~30 min), so a new account's CloudFront
    refusal shows in the first minutes."""
    g = request.getfixturevalue(name).graph
    t = schedule(g)
    cdn = next(s for s in t.slots.values() if s.node.type == "aws:cloudfront/distribution:Distribution")
    assert cdn.start < 5 * 60, f"the CDN starts at {cdn.start} s"
    assert cdn.end < t.serving_seconds / 2
    service = next(s for s in t.slots.values() if s.node.type == "kubernetes:core/v1:Service"
                   and (s.node.inputs.get("spec") or {}).get("type") == "LoadBalancer")
    assert service.node.urn not in cdn.node.dependencies
    # The up now ends with the origin record (after the NLB) or, in prod, the cross-region replica.
    assert "aws:cloudfront/distribution:Distribution" not in {t.slots[u].node.type for u in t.critical}
    assert t.total_seconds > t.serving_seconds
    assert "the app serves after" in summary(g, t)


def test_kubernetes_objects_wait_for_the_cluster_through_their_provider(staging: Deployed) -> None:
    t = schedule(staging.graph)
    eks = next(s for s in t.slots.values() if s.node.type == "aws:eks/cluster:Cluster")
    nodes = next(s for s in t.slots.values() if s.node.type == "aws:eks/nodeGroup:NodeGroup")
    for s in t.slots.values():
        if s.node.type.startswith("kubernetes:"):
            assert s.start >= nodes.end >= eks.end, s.node.name


def test_every_typical_time_says_where_it_comes_from() -> None:
    assert all(seconds > 0 and len(source) > 10 for seconds, source in TYPICAL.values())


def test_timeline_mmd_is_a_gantt_of_the_first_deploy(prod: Deployed, tmp_path: Path) -> None:
    write_build(prod.graph, tmp_path)
    text = (tmp_path / "timeline.mmd").read_text()
    lines = [line for line in text.splitlines() if not line.startswith("%%")]
    assert lines[0] == "gantt" and "dateFormat x" in text
    tasks = [line for line in lines if re.match(r"^    [^ ].* :", line) and not line.strip().startswith(
        ("title", "dateFormat", "axisFormat", "section"))]
    t = schedule(prod.graph)
    crit = [line for line in tasks if ":crit" in line]
    assert len(crit) == sum(1 for u in t.critical if typical_seconds(t.slots[u].node) > 0)
    for line in tasks:
        m = re.match(r"^    (.+) :(?:(?:crit|active), )*r\d+, (\d+), (\d+)s$", line)
        assert m, line
    assert any("berth-prod-migrate" in line and "active" in line for line in tasks)


def mermaid_check(*files: Path) -> list[dict]:
    """Mermaid's own parser and gantt scheduler (tools/mermaid-check.mjs, installed by bootstrap)."""
    done = subprocess.run(["node", str(REPO / "tools" / "mermaid-check.mjs"), *map(str, files)],
                          capture_output=True, text=True, timeout=120, cwd=REPO / "tools")
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def test_mermaid_renders_the_gantt_and_the_architecture_as_berth_scheduled_them(prod: Deployed,
                                                                                  tmp_path: Path) -> None:
    write_build(prod.graph, tmp_path)
    timeline, picture = mermaid_check(tmp_path / "timeline.mmd", tmp_path / "graph.mmd")
    assert picture["ok"] and picture["type"].startswith("flowchart"), picture
    assert timeline["ok"] and timeline["type"] == "gantt", timeline
    t = schedule(prod.graph)
    drawn = {task["name"]: task for task in timeline["tasks"]}
    for u in t.critical:
        s = t.slots[u]
        if s.end > s.start:
            task = drawn[s.node.name]
            assert (task["start"], task["end"], task["crit"]) == (s.start * 1000, s.end * 1000, True)
    assert max(task["end"] for task in timeline["tasks"]) == t.total_seconds * 1000


def test_the_checker_refuses_a_gantt_mermaid_cannot_schedule(tmp_path: Path) -> None:
    bad = tmp_path / "bad.mmd"
    bad.write_text("gantt\n    dateFormat x\n    section s\n    task :crit, r1, tomorrow, 3s\n")
    (result,) = mermaid_check(bad)
    assert not result["ok"] and "Invalid date" in result["error"]
