"""Tests room (policy): the pack on the real stacks, run offline in the embedded cloud.

Staging and prod must pass every mandatory rule; a deliberately broken stack (a config
change, or a code-level change of one resource in the graph) must fail naming the rule.
"""

from __future__ import annotations

import copy
import io
import json
from collections.abc import Callable

import pytest
from rich.console import Console

from policy.evaluator import evaluate, node_props
from policy.registry import RULES
from policy.rules.stack import budget_from_resources
from stacks.offline import Graph
from stacks.offline.runner import apply_overrides, read_stack_config
from tests.conftest import Deployed

DB = "aws:rds/instance:Instance"


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


def test_config_change_below_the_prod_minimum_is_caught(deploy: Callable[..., Deployed]) -> None:
    """A config-level mistake the settings accept (3 days of backups) still fails prod's policy."""
    # moto's backends are process-global: a second stack named prod would collide with the
    # session's (unique names such as backup vaults), so the variant runs as its own stack.
    config = apply_overrides(read_stack_config("prod"), {"berth:database.backupRetentionDays": 3})
    broken = deploy("policy-variant", config=config)
    report = evaluate(broken.graph)
    assert report.environment == "prod"
    failed = [v for v in report.mandatory_failures if v.rule_id == "rds-backup-retention"]
    assert [v.name for v in failed] == ["berth-policy-variant-primary"], explain(report)
    assert "needs >= 14 days" in failed[0].message


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
