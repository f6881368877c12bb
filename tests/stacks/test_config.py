"""Tests room (stacks): typed settings — both stacks load, every bad value is named."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from embedded_cloud.runner import REPO
from stacks.config import ConfigError, capacity, connection_budget, parse_settings, raw_from_config_map


def load(stack: str) -> dict[str, Any]:
    return raw_from_config_map(yaml.safe_load((REPO / f"Pulumi.{stack}.yaml").read_text())["config"])


def with_(raw: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    import copy

    out = copy.deepcopy(raw)
    cur = out
    parts = path.split(".")
    for p in parts[:-1]:
        cur = cur.setdefault(p, {})
    cur[parts[-1]] = value
    return out


def test_staging_and_prod_load_with_their_environment_values() -> None:
    staging = parse_settings("staging", load("staging"))
    prod = parse_settings("prod", load("prod"))
    assert (staging.environment, prod.environment) == ("staging", "prod")
    assert prod.region == "us-east-1" and prod.dr.region == "us-west-2"
    assert staging.network.nat_gateways == "single" and prod.network.nat_gateways == "one_per_az"
    assert staging.database.replicas == 1 and prod.database.replicas == 2
    assert prod.database.multi_az and prod.database.deletion_protection
    assert staging.database.backup_retention_days == 7 and prod.database.backup_retention_days == 35
    assert connection_budget(prod).fits and connection_budget(staging).fits


@pytest.mark.parametrize(
    ("path", "value", "key", "hint"),
    [
        ("database.replicas", 7, "berth:database.replicas", "less than or equal to 5"),
        ("database.replicas", "two", "berth:database.replicas", "integer"),
        ("database.instanceClass", "m5.large", "berth:database.instanceClass", "nearest: db.m5.large"),
        ("database.colour", "blue", "berth:database.colour", "allowed keys here"),
        ("network.cidr", "10.0.0.0/33", "berth:network.cidr", "not an IPv4 CIDR"),
        ("network.cidr", "8.8.0.0/16", "berth:network.cidr", "private"),
        ("network.azCount", 4, "berth:network.azCount", "less than or equal to 3"),
        ("network.natGateways", "many", "berth:network.natGateways", "'single' or 'one_per_az'"),
        ("region", "mars-north-1", "aws:region", "us-east-1"),
        ("dr.region", "atlantis-1", "berth:dr.region", "not an AWS region"),
        ("cluster.nodeMin", 5, "berth:cluster", "nodeMin <= nodeDesired <= nodeMax"),
        ("cluster.publicAccessCidrs", ["0.0.0.0/0"], "berth:cluster", "0.0.0.0/0"),
        ("cache.nodeType", "r6g.large", "berth:cache.nodeType", "nearest: cache.r6g.large"),
        ("app.maxReplicas", 1, "berth:app", "minReplicas <= replicas <= maxReplicas"),
        ("backup.vaultLockMaxDays", 30, "berth:backup", "vaultLockMaxDays"),
    ],
)
def test_bad_values_fail_naming_key_value_and_what_is_allowed(path: str, value: Any, key: str, hint: str) -> None:
    raw = with_(load("prod"), path, value)
    with pytest.raises(ConfigError) as exc:
        parse_settings("prod", raw)
    message = str(exc.value)
    assert key in message
    assert hint in message
    if not isinstance(value, list) and key.endswith(path.split(".")[-1]):
        assert str(value) in message


def test_a_connection_budget_that_does_not_fit_names_the_numbers() -> None:
    raw = with_(load("prod"), "app.maxReplicas", 200)
    with pytest.raises(ConfigError) as exc:
        parse_settings("prod", raw)
    msg = str(exc.value)
    assert "connection budget" in msg
    assert "app.maxReplicas (200)" in msg and "pgbouncer.maxClientConn" in msg

    raw = with_(load("prod"), "database.maxConnections", 100)
    with pytest.raises(ConfigError) as exc:
        parse_settings("prod", raw)
    assert "database.maxConnections (100)" in str(exc.value)


def test_every_problem_is_reported_at_once() -> None:
    raw = with_(with_(load("staging"), "database.replicas", 9), "network.cidr", "nope")
    with pytest.raises(ConfigError) as exc:
        parse_settings("staging", raw)
    assert len(exc.value.problems) == 2


def test_dr_features_need_a_dr_region_distinct_from_the_home_region() -> None:
    raw = load("prod")
    raw["dr"] = {**raw["dr"], "region": "us-east-1"}
    with pytest.raises(ConfigError, match=r"berth:dr.region \(us-east-1\) must differ"):
        parse_settings("prod", raw)
    raw["dr"].pop("region")
    with pytest.raises(ConfigError, match=r"berth:dr\.region is required"):
        parse_settings("prod", raw)


@pytest.mark.parametrize(
    ("stack", "path", "value", "expected"),
    [
        ("staging", "dns", None, "berth:dns"),
        ("staging", "cdn.acceptDefaultCertificate", False, "acceptDefaultCertificate: true"),
        ("staging", "cdn.domain", "shipments.elsewhere.net", "must be a name in berth:dns.zone"),
        ("staging", "app.originDomain", "origin.elsewhere.net", "berth:app.originDomain (origin.elsewhere.net)"),
        ("prod", "cdn.domain", None, "berth:cdn.domain is required in production"),
    ],
)
def test_names_and_certificates_are_checked_before_anything(stack: str, path: str, value: Any, expected: str) -> None:
    raw = load(stack)
    if value is None:
        area, _, key = path.partition(".")
        if key:
            raw[area].pop(key)
            if stack == "prod":
                raw[area]["acceptDefaultCertificate"] = True
        else:
            raw.pop(area)
    else:
        raw = with_(raw, path, value)
        if path == "cdn.domain" and stack == "staging":
            raw["cdn"].pop("acceptDefaultCertificate")
    with pytest.raises(ConfigError) as exc:
        parse_settings(stack, raw)
    assert expected in str(exc.value)


def test_the_origin_name_defaults_to_one_per_stack_in_the_zone() -> None:
    assert parse_settings("staging", load("staging")).origin_domain == "staging-origin.staging.shipments.example.com"
    assert parse_settings("prod", load("prod")).origin_domain == "prod-origin.shipments.example.com"


# ---- capacity: every pod at full scale has a node ---------------------------------------------
def test_both_stacks_fit_their_node_max_and_the_arithmetic_is_the_documented_one() -> None:
    staging, prod = (capacity(parse_settings(s, load(s))) for s in ("staging", "prod"))
    assert staging is not None and prod is not None and staging.fits and prod.fits
    # m6i.large (and m6a.large): 2 vCPU, 8 GiB, 3 ENIs x 10 IPv4 -> 29 pods; kube-reserved 70m and
    # 11 x 29 + 255 = 574Mi; 8192 x 0.925 - 574 - 100 (eviction) = 6903Mi.
    assert prod.instance_type == "m6i.large"
    assert prod.node_allocatable == {"cpu_m": 1930, "memory_mib": 6903, "pods": 29}
    # The app at its HPA maximum (12) plus the rollout's extra pod.
    assert {"name": "app", "pods": 13, "cpu_m": 250, "memory_mib": 256} in prod.workloads
    assert prod.nodes_needed is not None and prod.nodes_needed <= prod.node_max == 9
    assert staging.node_allocatable == {"cpu_m": 1930, "memory_mib": 6837, "pods": 35}  # t3.large: 3 x 12 IPv4
    assert {w["name"] for w in prod.workloads} >= {"pgbouncer", "coredns", "metrics-server", "cluster-autoscaler"}


def test_an_hpa_max_that_does_not_fit_node_max_is_refused_with_the_numbers() -> None:
    raw = with_(with_(with_(load("staging"), "app.maxReplicas", 8), "cluster.nodeMax", 2), "cluster.nodeDesired", 2)
    assert connection_budget(parse_settings("staging", with_(raw, "cluster.nodeMax", 4))).fits
    with pytest.raises(ConfigError) as exc:
        parse_settings("staging", raw)
    (msg,) = exc.value.problems
    assert msg.startswith("berth: capacity: at full scale the pods request 3400m CPU")
    assert "app 9 x 250m/256Mi" in msg and "app.maxReplicas (8) + 1" in msg
    assert "cluster.nodeMax (2) x t3.large (allocatable 1930m/6837Mi/35 pods" in msg
    assert "less DaemonSets 455m/273Mi/6 pods) = 2950m" in msg


def test_a_pod_bigger_than_a_node_and_an_unknown_instance_type_are_refused() -> None:
    with pytest.raises(ConfigError, match=r"capacity: .*cannot place 13 of them \(app\)"):
        parse_settings("prod", with_(load("prod"), "app.cpuRequest", "1500m"))
    with pytest.raises(ConfigError) as exc:
        parse_settings("prod", with_(load("prod"), "cluster.instanceTypes", ["m6i.large", "m6i.larg"]))
    (problem,) = exc.value.problems
    assert problem.startswith("berth:cluster.instanceTypes[1] = 'm6i.larg': not an EC2 instance type")
    assert "nearest: m6i.large" in problem


# ---- sizes AWS would refuse, from the data moto and cfn-lint ship (components/catalog.py) ------
@pytest.mark.parametrize(
    ("path", "value", "key", "nearest"),
    [
        ("database.instanceClass", "db.t4g.enormous", "berth:database.instanceClass", "db.t4g."),
        ("database.replicaInstanceClass", "db.r6g.larg", "berth:database.replicaInstanceClass", "db.r6g.large"),
        ("cache.nodeType", "cache.t4g.huge", "berth:cache.nodeType", "cache.t4g."),
    ],
)
def test_a_size_aws_does_not_sell_is_refused_naming_key_value_and_the_nearest(
    path: str, value: str, key: str, nearest: str
) -> None:
    with pytest.raises(ConfigError) as exc:
        parse_settings("prod", with_(load("prod"), path, value))
    (problem,) = exc.value.problems
    assert problem.startswith(f"{key} = {value!r}: not ")
    assert f"nearest: {nearest}" in problem


def test_an_instance_class_is_checked_for_the_engine_version_and_the_region() -> None:
    # db.t3.micro is sold for PostgreSQL, but not db.m1.small (retired), and no class is sold for
    # a major the data does not know.
    ok = parse_settings("staging", with_(load("staging"), "database.instanceClass", "db.t3.micro"))
    assert ok.database.instance_class == "db.t3.micro"
    with pytest.raises(ConfigError, match=r"berth:database.instanceClass = 'db.m1.small': not an RDS instance class "
                                          r"offered for PostgreSQL 16"):
        parse_settings("staging", with_(load("staging"), "database.instanceClass", "db.m1.small"))
    # A size sold in us-east-1 but not in every region is refused where it is not sold.
    from components import catalog
    from components.settings import aws_regions

    node = "cache.c7gn.large"
    region = next(r for r in sorted(aws_regions()) if node not in catalog.cache_node_types(r)
                  and catalog.cache_node_types(r) and "t3.large" in catalog.ec2_offered_in(r))
    raw = with_(with_(load("staging"), "cache.nodeType", node), "region", region)
    assert parse_settings("staging", with_(raw, "region", "us-east-1")).cache.node_type == node
    with pytest.raises(ConfigError) as exc:
        parse_settings("staging", raw)
    (problem,) = exc.value.problems
    assert problem.startswith(f"berth:cache.nodeType = '{node}': not an ElastiCache node type in {region}")


def test_any_instance_type_ec2_sells_is_sized_from_its_own_figures() -> None:
    for t in ("m7i.2xlarge", "c7g.large"):
        s = parse_settings("prod", with_(load("prod"), "cluster.instanceTypes", [t]))
        sized = capacity(s)
        assert sized is not None and sized.instance_type == t and sized.fits
    big = capacity(parse_settings("prod", with_(load("prod"), "cluster.instanceTypes", ["m7i.2xlarge"])))
    small = capacity(parse_settings("prod", with_(load("prod"), "cluster.instanceTypes", ["c7g.large"])))
    assert big is not None and small is not None
    # 8 vCPUs / 32 GiB against 2 vCPUs / 4 GiB (DescribeInstanceTypes).
    assert big.node_allocatable["cpu_m"] == 8000 - 90 and small.node_allocatable["cpu_m"] == 2000 - 70
    assert big.node_allocatable["memory_mib"] > 7 * small.node_allocatable["memory_mib"]


def test_an_existing_cluster_is_not_sized_here() -> None:
    raw = with_(load("staging"), "cluster", {"existing": True, "existingClusterName": "shared",
                                             "existingNodeSecurityGroupId": "sg-0123456789abcdef0"})
    assert capacity(parse_settings("staging", raw)) is None


def test_allocatable_follows_the_eks_formulas() -> None:
    from components import capacity as cap

    # eni-max-pods.txt of amazon-eks-ami.
    from components.catalog import ec2_instance_types

    assert [cap.max_pods(ec2_instance_types()[t]) for t in ("t3.medium", "t3.large", "m6i.large", "m6i.xlarge")] == [
        17, 35, 29, 58]
    assert [cap.kube_reserved_cpu_m(n) for n in (1, 2, 4, 8)] == [60, 70, 80, 90]
    assert cap.memory_mib("1Gi") == 1024 and cap.memory_mib("512M") == 489 and cap.cpu_millicores("1.5") == 1500
    big = cap.Workload("x", 1, cap.pod("2", "1Gi"))
    assert cap.place([big], cap.allocatable("m6i.large"), 9).unplaced == ["x"]


def test_prod_keeps_cluster_logs_at_least_as_long_as_flow_logs() -> None:
    with pytest.raises(ConfigError) as exc:
        parse_settings("prod", with_(load("prod"), "cluster.logRetentionDays", 90))
    assert "berth:cluster.logRetentionDays (90) must not be below berth:network.flowLogsRetentionDays (365)" in str(
        exc.value)
    # Staging's own choice (flow logs 30 days) is not constrained.
    assert parse_settings("staging", with_(load("staging"), "cluster.logRetentionDays", 30))


def test_the_autoscaler_image_follows_the_cluster_version() -> None:
    with pytest.raises(ConfigError, match=r"autoscalerImage .*v1.34.x tag.*follows the cluster's version \(1.34\)"):
        parse_settings("staging", with_(load("staging"), "cluster.version", "1.34"))
    ok = with_(with_(load("staging"), "cluster.version", "1.34"), "cluster.autoscalerImage",
               "registry.k8s.io/autoscaling/cluster-autoscaler:v1.34.0")
    assert parse_settings("staging", ok).cluster.autoscaler_image.endswith(":v1.34.0")


# ---- patterns the user must match are explained in words -------------------------------------
def test_every_pattern_a_setting_must_match_is_explained_in_words() -> None:
    import ast

    from components import settings as component_settings
    from components.settings import PATTERN_WORDS

    patterns: set[str] = set()
    for path in (REPO / "components" / "settings.py", REPO / "stacks" / "config.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.keyword) and node.arg == "pattern":
                value = node.value
                patterns.add(value.value if isinstance(value, ast.Constant)
                             else getattr(component_settings, value.id))  # type: ignore[attr-defined]
    assert len(patterns) >= 15
    assert patterns - set(PATTERN_WORDS) == set(), "give these patterns their words in PATTERN_WORDS"


def test_a_pattern_error_reads_as_words_and_bracketed_values_stay_literal() -> None:
    with pytest.raises(ConfigError) as exc:
        parse_settings("staging", with_(load("staging"), "alarms.emails", ["ops[at]example"]))
    (problem,) = exc.value.problems
    assert problem == "berth:alarms.emails[0] = 'ops[at]example': not an e-mail address such as oncall@example.com"


def test_both_stacks_declare_who_reaches_the_cluster_api() -> None:
    for stack in ("staging", "prod"):
        c = parse_settings(stack, load(stack)).cluster
        assert c.ci_role_arn and c.admin_role_arns and c.read_only_role_arns, stack
    assert parse_settings("staging", load("staging")).cluster.review_ci_role_arn


@pytest.mark.parametrize(
    ("value", "hint"),
    [
        (None, "berth:cluster.ciRoleArn is required for a new cluster"),
        ("arn:aws:sts::210987654321:assumed-role/deploy/ci", "arn:aws"),
        ("deploy", "arn:aws"),
        ("arn:aws:iam::210987654321:role/platform-oncall", "named more than once"),
    ],
)
def test_the_ci_role_is_required_an_iam_role_and_named_once(value: Any, hint: str) -> None:
    raw = load("prod")
    raw["cluster"]["readOnlyRoleArns"] = ["arn:aws:iam::210987654321:role/platform-oncall"]
    if value is None:
        del raw["cluster"]["ciRoleArn"]
    else:
        raw["cluster"]["ciRoleArn"] = value
    with pytest.raises(ConfigError) as exc:
        parse_settings("prod", raw)
    assert hint in str(exc.value) and "ciRoleArn" in str(exc.value)


def test_an_existing_cluster_needs_no_ci_role_here() -> None:
    raw = load("staging")
    del raw["cluster"]["ciRoleArn"]
    raw["cluster"].update(existing=True, existingClusterName="shared", existingNodeSecurityGroupId="sg-0123456789abcdef0")
    assert parse_settings("staging", raw).cluster.ci_role_arn is None
