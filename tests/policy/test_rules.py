"""Tests room (policy): every rule catches its failing fixture, passes the compliant stack, and
survives the unknown and missing values previews are full of."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from policy.core import UNKNOWN, Ctx, Resource, StackView, is_unknown
from policy.evaluator import evaluate_view
from policy.registry import RULES
from tests.policy.golden import DIGEST, MUTATIONS, broken, golden

PROD_ONLY = [r for r in RULES if r.id.endswith("-prod")]


def run(view: StackView, env: str) -> Any:
    return evaluate_view(view, stack=env, environment=env)


def retag(view: StackView, env: str) -> StackView:
    """The same stack as another environment would tag it (and, outside prod, make it destroyable)."""
    view = copy.deepcopy(view)
    for r in view.resources:
        if isinstance(r.props.get("tags"), dict):
            r.props["tags"].update(Environment=env, Stack=env)
        if env != "prod":
            r.protect = False
            if r.type == "aws:rds/instance:Instance":
                r.props.update(deletionProtection=False, skipFinalSnapshot=True)
            if r.type in ("aws:s3/bucket:Bucket", "aws:backup/vault:Vault"):
                r.props["forceDestroy"] = True
    return view


def all_unknown(value: Any) -> Any:
    """Every leaf replaced by the unknown value (a preview before anything exists)."""
    if isinstance(value, dict):
        return {k: all_unknown(v) for k, v in value.items()}
    if isinstance(value, list):
        return [all_unknown(v) for v in value]
    return UNKNOWN


def test_pack_has_at_least_30_rules_with_complete_metadata() -> None:
    assert len(RULES) >= 30
    assert len({r.id for r in RULES}) == len(RULES)
    for r in RULES:
        assert r.description and r.remediation and r.severity in ("low", "medium", "high", "critical")
        assert r.types, f"{r.id} names no resource type"
        assert r.enforcement == "mandatory" or r.enforcement_reason


@pytest.mark.parametrize("env", ["prod", "staging"])
def test_compliant_stack_passes_every_rule(env: str) -> None:
    report = run(retag(golden(), env), env)
    assert report.violations == []
    assert report.passed and report.rules_evaluated == len(RULES)


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_failing_fixture_violates_exactly_its_rule(rule: Any) -> None:
    assert rule.id in MUTATIONS, f"rule {rule.id} has no failing fixture in tests/policy/golden.py"
    view, target, env = broken(rule.id)
    report = run(view, env)
    assert report.rule_ids() == {rule.id}, [(v.rule_id, v.message) for v in report.violations]
    assert {v.urn for v in report.violations} == {target.urn}
    assert not report.passed and all(v.message for v in report.violations)


@pytest.mark.parametrize("rule", PROD_ONLY, ids=lambda r: r.id)
def test_prod_only_rules_leave_staging_alone(rule: Any) -> None:
    view, _, _ = broken(rule.id)
    assert rule.id not in run(retag(view, "staging"), "staging").rule_ids()


@pytest.mark.parametrize("rule", [r for r in RULES if r.kind == "resource"], ids=lambda r: r.id)
def test_resource_rule_cannot_judge_unknown_values(rule: Any) -> None:
    """Unknown values (a preview) give no violation and no crash, top-level or at every leaf."""
    env = MUTATIONS[rule.id][2]
    ctx = Ctx(environment=env, stack=env)
    candidates = [r for r in golden().resources if rule.applies_to(r.type)]
    assert candidates
    for res in candidates:
        assert rule.check({k: UNKNOWN for k in res.props}, ctx) == []
        assert rule.check(all_unknown(res.props), ctx) == []


@pytest.mark.parametrize("rule", [r for r in RULES if r.kind == "stack"], ids=lambda r: r.id)
def test_stack_rule_cannot_judge_unknown_values(rule: Any) -> None:
    view, env = golden(), MUTATIONS[rule.id][2]
    for r in view.resources:
        r.props = all_unknown(r.props)
    assert rule.check(view, Ctx(environment=env, stack=env)) == []


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_rules_survive_missing_values(rule: Any) -> None:
    """A resource with nothing set (defaults everywhere) is judged, never a crash."""
    ctx = Ctx(environment="prod", stack="prod")
    if rule.kind == "resource":
        for type_ in sorted(rule.types)[:20]:
            result = rule.check({}, ctx)
            assert isinstance(result, list), type_
    else:
        bare = StackView(resources=[Resource(t, f"bare-{i}", f"urn:bare:{i}", {}) for i, t in
                                    enumerate(sorted(rule.types))])
        assert isinstance(rule.check(bare, ctx), list)


def test_rds_replica_inherits_encryption_but_cross_region_replica_needs_a_key() -> None:
    from policy.rules.rds import customer_kms_key, storage_encrypted

    ctx = Ctx(environment="prod", stack="prod")
    same_region = {"replicateSourceDb": "berth-prod-primary", "region": "us-east-1"}
    assert storage_encrypted(same_region, ctx) == [] and customer_kms_key(same_region, ctx) == []
    cross = {"replicateSourceDb": "arn:aws:rds:us-east-1:123456789012:db:berth-prod-primary", "region": "us-west-2",
             "storageEncrypted": True}
    assert customer_kms_key(cross, ctx) == ["kmsKeyId is not set: storage would use the AWS-managed aws/rds key"]


def test_force_ssl_defaults_follow_the_postgres_major() -> None:
    from policy.rules.rds import force_ssl

    ctx = Ctx()
    assert force_ssl({"family": "postgres16", "parameters": []}, ctx) == []  # RDS PG15+ defaults to 1
    assert force_ssl({"family": "postgres14", "parameters": []}, ctx) != []
    assert force_ssl({"family": "mysql8.0", "parameters": []}, ctx) == []


def test_world_ingress_allows_only_load_balancer_ports() -> None:
    from policy.rules.network import no_world_ingress

    ctx = Ctx()
    assert no_world_ingress({"ipProtocol": "tcp", "fromPort": 443, "toPort": 443, "cidrIpv4": "0.0.0.0/0"}, ctx) == []
    assert no_world_ingress({"ipProtocol": "-1", "cidrIpv6": "::/0"}, ctx) != []
    assert no_world_ingress({"ipProtocol": "tcp", "fromPort": 80, "toPort": 443, "cidrIpv4": "0.0.0.0/0"}, ctx) != []
    assert no_world_ingress({"ipProtocol": "tcp", "fromPort": 5432, "toPort": 5432, "cidrIpv4": "10.0.0.0/16"},
                            ctx) == []


def test_connection_budget_reads_the_deployed_numbers() -> None:
    from policy.rules.stack import budget_from_resources

    b = budget_from_resources(golden(), Ctx(environment="prod"))
    assert b == {
        "app_max_pods": 12, "app_pool_per_pod": 20, "app_client_connections": 240,
        # (60 + 10 reserve) + (60 + 10 reserve) per pod: the reserve adds to every pool
        "pgbouncer_replicas": 3, "pgbouncer_max_client_conn": 1200, "pgbouncer_server_connections": 420,
        "database_max_connections": 800, "database_reserved": 0,
    }


def test_pgbouncer_pools_are_counted_per_name_and_bounded_by_max_db_connections() -> None:
    from components.pgbouncer_config import render_ini, server_connections
    from components.settings import PgBouncerSettings
    from policy.rules.stack import parse_pgbouncer_ini

    s = PgBouncerSettings(replicas=1, default_pool_size=30, read_only_pool_size=20, reserve_pool_size=5)
    # berth's ini says each name's bound: exactly what the config's budget counts
    assert parse_pgbouncer_ini(render_ini(s, "p", ["r"]))["server"] == server_connections(s) == 35 + 25 + 2
    bare = "[databases]\na = host=p pool_size=7 reserve_pool=1\nb = host=p\nc = host=p max_db_connections=3\n" \
           "[pgbouncer]\ndefault_pool_size = 10\nreserve_pool_size = 2\n"
    assert parse_pgbouncer_ini(bare)["server"] == (7 + 1) + (10 + 2) + 3
    capped = bare.replace("reserve_pool_size = 2", "reserve_pool_size = 2\nmax_db_connections = 4")
    assert parse_pgbouncer_ini(capped)["server"] == 4 + 4 + 3


def test_connection_budget_falls_back_to_the_stack_output() -> None:
    from policy.rules.stack import connection_budget

    view = StackView(resources=[], outputs={"connectionBudget": {
        "app_client_connections": 240, "pgbouncer_max_client_conn": 1200, "pgbouncer_server_connections": 900,
        "database_max_connections": 800, "database_reserved": 40}})
    findings = connection_budget(view, Ctx(environment="prod"))
    assert len(findings) == 1 and "800 - 40 reserved = 760" in findings[0][1]


def test_unknown_sentinels_from_the_engine_are_unknown() -> None:
    from policy.core import normalize

    raw = {"a": "04da6b54-80e4-46f7-96ec-b56ff0331ba9", "b": ["1c4a061d-8072-4f0a-a4cb-0ff528b18fe7", "x"]}
    norm = normalize(raw)
    assert is_unknown(norm["a"]) and is_unknown(norm["b"][0]) and norm["b"][1] == "x"


def test_readme_lists_every_rule() -> None:
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "policy" / "README.md").read_text()
    assert [r.id for r in RULES if f"`{r.id}`" not in readme] == []


def test_instance_on_the_default_parameter_group_needs_postgres_15() -> None:
    from policy.rules.rds import force_ssl

    ctx = Ctx()
    assert force_ssl({"engine": "postgres", "engineVersion": "14.12", "instanceClass": "db.t4g.medium"}, ctx) != []
    assert force_ssl({"engine": "postgres", "engineVersion": "16.4", "instanceClass": "db.t4g.medium"}, ctx) == []
    assert force_ssl({"engine": "postgres", "engineVersion": "14.12", "parameterGroupName": "pg"}, ctx) == []


def _scaling(view: StackView, rule: str) -> list[tuple[str | None, str]]:
    from policy.registry import RULES as ALL

    (r,) = [x for x in ALL if x.id == rule]
    return r.check(view, Ctx(environment="prod", stack="prod"))


def _named(view: StackView, name: str) -> Resource:
    return next(r for r in view.resources if r.name == name)


def test_hpa_metrics_needs_requests_for_each_utilization_metric() -> None:
    view = golden()
    hpa = _named(view, "app-hpa")
    hpa.props["spec"]["metrics"].append({"type": "Resource", "resource": {
        "name": "memory", "target": {"type": "Utilization", "averageUtilization": 80}}})
    api = _named(view, "app").props["spec"]["template"]["spec"]["containers"][0]
    del api["resources"]["requests"]["memory"]
    assert [(u, m) for u, m in _scaling(view, "stack-hpa-metrics")] == [
        (hpa.urn, "HPA app-hpa scales app on memory utilization but container(s) api request no memory")]
    # An AverageValue target divides by nothing: no request needed.
    hpa.props["spec"]["metrics"][-1]["resource"]["target"] = {"type": "AverageValue", "averageValue": "200Mi"}
    assert _scaling(view, "stack-hpa-metrics") == []


def test_hpa_metrics_accepts_any_metrics_server_and_skips_clusters_it_does_not_own() -> None:
    view = golden()
    view.resources = [r for r in view.resources if r.name != "metrics-server"]
    assert len(_scaling(view, "stack-hpa-metrics")) == 1
    apiservice = Resource("kubernetes:apiregistration.k8s.io/v1:APIService", "metrics-api", "urn:x:api",
                          {"metadata": {"name": "v1beta1.metrics.k8s.io"}})
    assert _scaling(StackView([*view.resources, apiservice]), "stack-hpa-metrics") == []
    # Deployed onto an existing cluster: its metrics API is its owners' business.
    no_cluster = StackView([r for r in view.resources if r.type != "aws:eks/cluster:Cluster"])
    assert _scaling(no_cluster, "stack-hpa-metrics") == []


def test_node_autoscaling_judges_only_groups_that_may_grow_and_accepts_karpenter() -> None:
    view = golden()
    view.resources = [r for r in view.resources if r.name != "cluster-autoscaler"]
    (finding,) = _scaling(view, "stack-node-autoscaling")
    assert "no node autoscaler" in finding[1]
    # A fixed-size group needs no autoscaler.
    _named(view, "nodes").props["scalingConfig"]["maxSize"] = 3
    assert _scaling(view, "stack-node-autoscaling") == []
    _named(view, "nodes").props["scalingConfig"]["maxSize"] = 9
    # An autoscaler discovering another cluster's groups does not count.
    other = golden()
    ca = _named(other, "cluster-autoscaler").props["spec"]["template"]["spec"]["containers"][0]
    ca["command"] = [a.replace("/berth-prod", "/someone-else") for a in ca["command"]]
    assert "no node autoscaler" in _scaling(other, "stack-node-autoscaling")[0][1]
    karpenter = copy.deepcopy(_named(golden(), "cluster-autoscaler"))
    karpenter.props["spec"]["template"]["spec"]["containers"][0]["image"] = f"public.ecr.aws/karpenter/controller@{DIGEST}"
    assert _scaling(StackView([*view.resources, karpenter]), "stack-node-autoscaling") == []


def test_node_autoscaling_reads_ignore_changes_in_either_spelling() -> None:
    view = golden()
    ng = _named(view, "nodes")
    for spelling in (["scaling_config.desired_size"], ["scalingConfig"]):
        ng.ignore_changes = spelling
        assert _scaling(view, "stack-node-autoscaling") == []
    ng.ignore_changes = ["tags"]
    assert "does not ignore scalingConfig.desiredSize" in _scaling(view, "stack-node-autoscaling")[0][1]


def test_adding_a_rule_follows_the_checklist() -> None:
    """docs/HACKING.md, "Adding a policy rule": every rule module is imported by the package (a module
    left out registers nothing and checks nothing, silently), every rule has its failing fixture in
    golden.MUTATIONS and its row in policy/README.md."""
    import pkgutil
    from pathlib import Path

    import policy.rules

    modules = {m.name for m in pkgutil.iter_modules(policy.rules.__path__)}
    init = Path(policy.rules.__file__).read_text()
    # Data, not rules: the taggable-type table (read by stack.py) and the generator that writes it.
    assert {m for m in modules - {"taggable", "taggable_gen"} if f"    {m},\n" not in init} == set()
    assert {r.service for r in RULES} <= modules
    assert [r.id for r in RULES if r.id not in MUTATIONS] == []
    readme = (Path(__file__).resolve().parents[2] / "policy" / "README.md").read_text()
    assert [r.id for r in RULES if f"| `{r.id}` |" not in readme] == []
    hacking = (Path(__file__).resolve().parents[2] / "docs" / "HACKING.md").read_text()
    for step in ("policy/rules/<service>.py", "policy/rules/__init__.py", "MUTATIONS", "policy/README.md"):
        assert step in hacking
