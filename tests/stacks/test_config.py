"""Tests room (stacks): typed settings — both stacks load, every bad value is named."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from stacks.config import ConfigError, connection_budget, parse_settings, raw_from_config_map
from stacks.offline.runner import REPO


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
        ("database.instanceClass", "m5.large", "berth:database.instanceClass", "^db\\."),
        ("database.colour", "blue", "berth:database.colour", "allowed keys here"),
        ("network.cidr", "10.0.0.0/33", "berth:network.cidr", "not an IPv4 CIDR"),
        ("network.cidr", "8.8.0.0/16", "berth:network.cidr", "private"),
        ("network.azCount", 4, "berth:network.azCount", "less than or equal to 3"),
        ("network.natGateways", "many", "berth:network.natGateways", "'single' or 'one_per_az'"),
        ("region", "mars-north-1", "aws:region", "us-east-1"),
        ("dr.region", "atlantis-1", "berth:dr.region", "not an AWS region"),
        ("cluster.nodeMin", 5, "berth:cluster", "nodeMin <= nodeDesired <= nodeMax"),
        ("cluster.publicAccessCidrs", ["0.0.0.0/0"], "berth:cluster", "0.0.0.0/0"),
        ("cache.nodeType", "r6g.large", "berth:cache.nodeType", "^cache\\."),
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
