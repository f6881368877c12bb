"""Tests room (policy): the pack on the real stacks, run offline in the embedded cloud.

Staging and prod must pass every mandatory rule; a deliberately broken stack (a config
change, or a code-level change of one resource in the graph) must fail naming the rule.
"""

from __future__ import annotations

import copy
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from rich.console import Console

from embedded_cloud import Graph
from embedded_cloud.runner import apply_overrides, read_stack_config
from policy.evaluator import evaluate, node_props
from policy.registry import RULES
from policy.rules.stack import budget_from_resources
from tests.conftest import Deployed

DB = "aws:rds/instance:Instance"
REPO = Path(__file__).resolve().parents[2]


def explain(report: object) -> str:
    buf = io.StringIO()
    report.render(Console(file=buf, width=200, color_system=None))  # type: ignore[attr-defined]
    return buf.getvalue()


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_stack_passes_every_mandatory_rule(stack: str, request: pytest.FixtureRequest) -> None:
    deployed: Deployed = request.getfixturevalue(stack)
    report = evaluate(deployed.graph)
    assert report.environment == stack
    assert report.rules_evaluated == len(RULES)
    assert report.mandatory_failures == [], explain(report)


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_connection_budget_recomputed_from_resources_matches_the_config(
    stack: str, request: pytest.FixtureRequest
) -> None:
    """The rule reads the deployed HPA, ConfigMaps and parameter group, not the config: same numbers."""
    graph: Graph = request.getfixturevalue(stack).graph
    from policy.evaluator import stack_view

    deployed = budget_from_resources(stack_view(graph), None)  # type: ignore[arg-type]
    declared = graph.outputs["connectionBudget"]
    assert deployed is not None, "could not find the app/PgBouncer/parameter-group numbers in the graph"
    for key in ("app_client_connections", "pgbouncer_max_client_conn", "pgbouncer_server_connections",
                "database_max_connections"):
        assert deployed[key] == declared[key], key


def test_unencrypted_database_in_code_is_caught_naming_the_rule(prod: Deployed) -> None:
    graph = copy.deepcopy(prod.graph)
    primary = next(n for n in graph.by_type(DB) if not node_props(n).get("replicateSourceDb"))
    for values in (primary.inputs, primary.outputs):
        values["storageEncrypted"] = False
    report = evaluate(graph)
    assert not report.passed
    hits = [v for v in report.mandatory_failures if v.rule_id == "rds-storage-encrypted"]
    assert [v.urn for v in hits] == [primary.urn]
    assert "rds-storage-encrypted" in explain(report)


def test_report_serialises_for_build_policy_json(staging: Deployed) -> None:
    report = evaluate(staging.graph)
    data = json.loads(json.dumps(report.to_dict()))
    assert data["stack"] == "staging" and data["environment"] == "staging"
    assert data["passed"] is report.passed
    assert data["summary"]["mandatory"] == len(report.mandatory_failures)
    assert data["rulesEvaluated"] == len(RULES)
    assert data["resourcesEvaluated"] == len([n for n in staging.graph.nodes if n.custom])
    text = explain(report)
    assert "berth@v" in text and f"{len(RULES)} rules on" in text


def test_cli_adapter_and_offline_evaluator_agree_on_a_broken_prod(prod: Deployed) -> None:
    """The pulumi_policy policies, fed the prod graph as the analyzer would, find what evaluate() finds."""
    from pulumi_policy import (
        PolicyCustomTimeouts,
        PolicyResource,
        PolicyResourceOptions,
        ResourceValidationArgs,
        ResourceValidationPolicy,
        StackValidationArgs,
    )

    from policy.adapter import policies

    graph = copy.deepcopy(prod.graph)
    # Break one resource rule and one stack rule so both adapters have something to find.
    primary = next(n for n in graph.by_type(DB) if not node_props(n).get("replicateSourceDb"))
    primary.inputs["publiclyAccessible"] = primary.outputs["publiclyAccessible"] = True
    graph.nodes = [n for n in graph.nodes if not (n.type == "aws:cloudwatch/metricAlarm:MetricAlarm"
                                                  and node_props(n).get("metricName") == "FreeStorageSpace")]
    offline = {(v.rule_id, v.urn) for v in evaluate(graph).violations}

    opts = PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [])
    nodes = [n for n in graph.nodes if n.custom]
    # The engine hands each resource its own options: `protect` and `ignore_changes` among them.
    res = {n.urn: PolicyResource(n.type, node_props(n), n.urn, n.name,
                                 PolicyResourceOptions(n.protect, list(n.ignore_changes), None, [],
                                                       PolicyCustomTimeouts(0, 0, 0), []),
                                 None, None, [], {}) for n in nodes}
    for n in nodes:
        res[n.urn].dependencies = [res[u] for u in n.dependencies if u in res]
        res[n.urn].property_dependencies = {k: [res[u] for u in v if u in res]
                                            for k, v in n.property_dependencies.items()}
    stack_node = PolicyResource("pulumi:pulumi:Stack", graph.outputs, "urn:stack", "berth-prod", opts, None, None,
                                [], {})
    config = {"environment": "prod"}
    cli: set[tuple[str, str | None]] = set()
    for policy in policies():
        if isinstance(policy, ResourceValidationPolicy):
            for n in nodes:
                args = ResourceValidationArgs(n.type, res[n.urn].props, n.urn, n.name, opts, None, config)
                policy.validate(args, lambda msg, urn=None, p=policy.name, u=n.urn: cli.add((p, u)))
        else:
            args = StackValidationArgs([*res.values(), stack_node], config)
            policy.validate(args, lambda msg, urn=None, p=policy.name: cli.add((p, urn)))
    assert ("rds-not-public", primary.urn) in offline
    assert any(rule == "stack-database-alarms" for rule, _ in offline)
    assert cli == offline


@pytest.mark.slow
def test_berth_preview_exits_non_zero_naming_the_rule(tmp_path: Path) -> None:
    """The issue's demonstration: a broken prod config makes `berth preview` fail and say which rule."""
    config = apply_overrides(read_stack_config("prod"), {"berth:database.backupRetentionDays": 3})
    stack_file = tmp_path / "Pulumi.prod.yaml"
    stack_file.write_text(yaml.safe_dump({"config": config}))
    proc = subprocess.run(
        [sys.executable, "-m", "berth", "preview", "prod", "--config", str(stack_file),
         "--out", str(tmp_path / "build"), "--no-tree"],
        capture_output=True, text=True, timeout=600, cwd=REPO, env={**os.environ, "COLUMNS": "200"},
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output
    assert "rds-backup-retention" in output and "mandatory policy violation" in output
    written = json.loads((tmp_path / "build" / "prod" / "policy.json").read_text())
    assert not written["passed"]
    assert {v["rule_id"] for v in written["violations"]} == {"rds-backup-retention"}
