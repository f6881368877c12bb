"""Tests room (components): every log group a service writes is the stack's own, made first, with
retention from config, a customer key and tags; kept by prod, removed with any other stack."""

from __future__ import annotations

from typing import Any

import pytest

from policy.core import Ctx
from policy.evaluator import stack_view as view_of
from policy.rules.logs import service_log_groups
from tests.conftest import Deployed

LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"


def groups(d: Deployed) -> dict[tuple[str | None, str], Any]:
    return {(n.region, n.outputs["name"]): n for n in d.graph.by_type(LOG_GROUP)}


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_each_instance_exports_into_groups_the_stack_made_first(stack: str, request: pytest.FixtureRequest) -> None:
    d: Deployed = request.getfixturevalue(stack)
    made = groups(d)
    dbs = d.graph.by_type("aws:rds/instance:Instance")
    assert dbs
    for db in dbs:
        ident, exports = db.outputs["identifier"], db.inputs["enabledCloudwatchLogsExports"]
        assert set(exports) == {"postgresql", "upgrade"}
        for log in exports:
            group = made[(db.region, f"/aws/rds/instance/{ident}/{log}")]
            assert group.urn in d.graph.waits_for(db), f"{ident} may write before {log} exists"
            assert group.inputs["retentionInDays"] == 30 and group.inputs["kmsKeyId"]
            assert group.inputs["tags"]["Stack"] == stack
            assert group.retain_on_delete is (stack == "prod")
    # moto holds them with the retention and key: RDS would find them and make none of its own.
    primary = next(db for db in dbs if db.name.endswith("-primary"))
    (live,) = d.client("logs").describe_log_groups(
        logGroupNamePrefix=f"/aws/rds/instance/{primary.outputs['identifier']}/postgresql")["logGroups"]
    assert live["retentionInDays"] == 30 and live["kmsKeyId"]


def test_the_dr_replica_groups_live_in_the_dr_region_with_its_key(prod: Deployed) -> None:
    (dr,) = [n for n in prod.graph.by_type("aws:rds/instance:Instance") if n.name.endswith("-dr-replica")]
    group = groups(prod)[(dr.region, f"/aws/rds/instance/{dr.outputs['identifier']}/postgresql")]
    assert dr.region == "us-west-2" and group.inputs["kmsKeyId"] == dr.inputs["kmsKeyId"]


def test_container_insights_and_the_canary_write_into_groups_of_the_stack(prod: Deployed) -> None:
    made = groups(prod)
    (addon,) = [a for a in prod.graph.by_type("aws:eks/addon:Addon")
                if a.inputs["addonName"] == "amazon-cloudwatch-observability"]
    cluster = addon.inputs["clusterName"]
    for kind in ("performance", "application", "host", "dataplane"):
        group = made[(addon.region, f"/aws/containerinsights/{cluster}/{kind}")]
        assert group.urn in prod.graph.waits_for(addon)
        assert group.inputs["kmsKeyId"] and group.inputs["retentionInDays"] == 30
    (canary,) = prod.graph.by_type("aws:synthetics/canary:Canary")
    function = canary.outputs["engineArn"].split(":")[6]
    assert function.startswith(f"cwsyn-{canary.outputs['name']}-")
    group = made[(canary.region, f"/aws/lambda/{function}")]
    assert group.inputs["kmsKeyId"] and group.inputs["retentionInDays"] == 30
    # The canary's role may not create a group of its own.
    (policy,) = [p for p in prod.graph.by_type("aws:iam/rolePolicy:RolePolicy") if "canary" in p.name]
    assert "logs:CreateLogGroup" not in policy.inputs["policy"]


def test_the_log_group_rule_passes_both_stacks_and_names_a_missing_group(staging: Deployed, prod: Deployed) -> None:
    for d in (staging, prod):
        view = view_of(d.graph)
        assert service_log_groups(view, Ctx(environment=d.stack, stack=d.stack)) == []
    view = view_of(prod.graph)
    view.resources = [r for r in view.resources
                      if not (r.type == LOG_GROUP and str(r.props.get("name", "")).endswith("-replica-1/upgrade"))]
    (finding,) = service_log_groups(view, Ctx(environment="prod", stack="prod"))
    assert "berth-prod-replica-1/upgrade, which the stack does not make" in finding[1]


def test_the_cluster_upgrade_policy_is_explicit(staging: Deployed, deploy: Any) -> None:
    # Staging says EXTENDED (its 1.33 is in extended support, where EKS refuses STANDARD).
    (cluster,) = staging.graph.by_type("aws:eks/cluster:Cluster")
    assert cluster.inputs["upgradePolicy"] == {"supportType": "EXTENDED"}
    from embedded_cloud import read_stack_config

    unset = deploy("upgrade-default", {"berth:cluster.upgradePolicy": None}, config=read_stack_config("staging"))
    (cluster,) = unset.graph.by_type("aws:eks/cluster:Cluster")
    assert cluster.inputs["upgradePolicy"] == {"supportType": "STANDARD"}  # the default nobody has to guess


def test_an_unknown_upgrade_policy_is_refused_before_anything() -> None:
    from stacks.config import ConfigError, parse_settings

    with pytest.raises(ConfigError, match=r"berth:cluster\.upgradePolicy"):
        parse_settings("staging", {"environment": "staging", "region": "us-east-1",
                                   "dns": {"zone": "example.com"}, "cdn": {},
                                   "cluster": {"upgradePolicy": "SOMETIMES"}})
