"""Tests room (operations): the offline second `up` (`berth preview STACK --again [--set]`).

Each stack is deployed once into a served embedded cloud and refreshed; every plan below runs the
program again against that state, as the next real `pulumi up` would.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from berth.commands import app as berth_app
from berth.operations import envs
from berth.operations.again import Again, Deployed, again, deployed
from berth.operations.errors import OpsError
from berth.operations.stackfile import REPO, StackFile

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def prod() -> Iterator[Deployed]:
    with deployed(StackFile.read("prod")) as d:
        yield d


def ops(a: Again) -> dict[str, str]:
    return {s.name: s.op for s in a.steps}


def props(a: Again, name: str) -> dict[str, bool]:
    step = next(s for s in a.steps if s.name == name)
    return {c.prop: c.replace for c in step.changes}


def test_the_unchanged_program_plans_nothing_for_prod(prod: Deployed) -> None:
    a = prod.plan()
    assert a.steps == [], [s.line() for s in a.steps]
    assert a.resources > 250 and a.refused == []


def test_staging_and_a_review_environment_plan_nothing(tmp_path: Path) -> None:
    for f in ("Pulumi.staging.yaml", "Pulumi.prod.yaml"):
        shutil.copy(REPO / f, tmp_path / f)
    envs.create("pr-7", config_dir=tmp_path)
    for stack in (StackFile.read("staging"), StackFile.read("pr-7", tmp_path)):
        with deployed(stack) as d:
            a = d.plan()
        assert a.steps == [], (stack.name, [s.line() for s in a.steps])


def test_replica_count_and_cache_node_type_update_in_place_a_new_family_replaces_and_is_refused(
        prod: Deployed) -> None:
    a = prod.plan({"berth:app.replicas": 5, "berth:cache.nodeType": "cache.r7g.xlarge",
                   "berth:database.engineVersion": "17"})
    found = ops(a)
    assert found["berth-prod-deployment"] == "update"
    assert props(a, "berth-prod-deployment") == {"spec.replicas": False}
    assert found["berth-prod-redis"] == "update"
    assert props(a, "berth-prod-redis") == {"nodeType": False}
    # A parameter group's family is ForceNew; the instances move to the new group in place.
    assert found["berth-prod-params"] == "replace" and props(a, "berth-prod-params")["family"] is True
    assert found["berth-prod-primary"] == "update"
    assert {s.name for s in a.refused} == {"berth-prod-params", "berth-prod-dr-params"}
    # Named as intended, the same change is no longer refused.
    intended = prod.plan({"berth:database.engineVersion": "17",
                          "berth:intendedReplacements": ["berth-prod-params", "berth-prod-dr-params"]})
    assert intended.refused == [] and ops(intended)["berth-prod-params"] == "replace"


def test_moving_the_network_replaces_the_cluster_and_the_data_tiers_and_prod_refuses_it(prod: Deployed) -> None:
    a = prod.plan({"berth:network.cidr": "10.30.0.0/16"})
    found = ops(a)
    for name in ("berth-prod-vpc", "berth-prod-private-a"):
        assert found[name] == "replace", name
    assert props(a, "berth-prod-vpc")["cidrBlock"] is True
    # The provider plans updates that AWS refuses: nothing moves into another VPC in place.
    for name in ("berth-prod-eks", "berth-prod-subnets", "berth-prod-primary", "berth-prod-redis"):
        assert found[name] == "blocked", name
    assert "vpc" in props(a, "berth-prod-subnets")
    # The standby lives in the recovery VPC of the other region: untouched.
    assert "berth-prod-dr-replica" not in found
    refused = {s.name for s in a.refused}
    assert {"berth-prod-eks", "berth-prod-subnets", "berth-prod-primary", "berth-prod-redis"} <= refused
    # Downstream of a replacement, what the cloud fills in is unknown until it exists.
    deployment = next(s for s in a.steps if s.name == "berth-prod-deployment")
    assert any(c.new == "(known after replacement)" for c in deployment.changes)


def test_command_prints_one_line_when_nothing_changes_and_exits_1_naming_each_change(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The command over the operation's answers (the operation itself is tested on real deploys above)."""
    from berth.operations import again as agains
    from embedded_cloud.plan import Change, Step

    urn = "urn:pulumi:prod::berth::aws:rds/subnetGroup:SubnetGroup::berth-prod-subnets"
    moved = Step(urn, "aws:rds/subnetGroup:SubnetGroup", "berth-prod-subnets", "replace",
                 [Change("name", "berth-prod-db", "berth-prod-db2", True, "the program sets a different value")])
    answers = {
        "none": Again("staging", {}, [], 209),
        "changed": Again("staging", {}, [moved], 209),
        "refused": Again("prod", {"berth:x.y": 1}, [moved], 305, [moved]),
    }
    pick = {"which": "none"}
    monkeypatch.setattr(agains, "again", lambda stack, sets=None, timeout=300: answers[pick["which"]])
    runner = CliRunner()
    ok = runner.invoke(berth_app, ["preview", "staging", "--again"])
    assert ok.exit_code == 0, ok.output
    assert "second up of staging (the program unchanged): nothing would change (209 resources)" in " ".join(
        ok.output.split())
    pick["which"] = "changed"
    changed = runner.invoke(berth_app, ["preview", "staging", "--again"])
    assert changed.exit_code == 1
    text = " ".join(changed.output.split())
    assert "replace aws:rds/subnetGroup:SubnetGroup berth-prod-subnets" in text
    assert "name: berth-prod-db -> berth-prod-db2 (forces replacement" in text
    pick["which"] = "refused"
    refused = runner.invoke(berth_app, ["preview", "prod", "--again", "--set", "berth:x.y=1", "--json"])
    assert refused.exit_code == 1
    assert '"op": "replace"' in refused.output and '"refused": true' in refused.output


def test_bad_input_runs_nothing() -> None:
    runner = CliRunner()
    alone = runner.invoke(berth_app, ["preview", "staging", "--set", "berth:app.replicas=3"])
    assert alone.exit_code == 1 and "--set needs --again" in alone.output
    with pytest.raises(OpsError, match=r"berth:app\.replicas"):
        again(StackFile.read("staging"), {"berth:app.replicas": -1})
    bad = runner.invoke(berth_app, ["preview", "staging", "--again", "--set", "berth:database.replicas=99"])
    assert bad.exit_code == 1
    assert "--set makes the config of 'staging' invalid (nothing was run)" in " ".join(bad.output.split())
