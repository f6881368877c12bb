"""Tests room (operations): `berth up` adopts the log groups AWS made before the stack declared them."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from berth.operations.adopt import service_log_groups
from berth.operations.deploy import adopt_service_log_groups
from berth.operations.errors import OpsError
from berth.operations.stackfile import StackFile
from tests.conftest import Deployed


class FakeStack:
    """The Automation API stack as adopt uses it: its exported state, and the import it is asked for."""

    def __init__(self, resources: list[dict[str, Any]]) -> None:
        self._deployment = {"resources": resources}
        self.imported: dict[str, Any] | None = None

    def export_stack(self) -> Any:
        return SimpleNamespace(deployment=self._deployment)

    def import_resources(self, **kw: Any) -> None:
        self.imported = kw


def test_groups_rds_and_the_agents_made_are_imported_once_and_new_ones_are_left_to_the_up(prod: Deployed) -> None:
    graph = prod.graph
    (canary,) = graph.by_type("aws:synthetics/canary:Canary")
    real_engine = "arn:aws:lambda:us-east-1:210987654321:function:cwsyn-berth-prod-api-health-0a1b2c3d:4"
    # Yesterday's prod: everything but the service log groups it now declares.
    declared = {a.urn for a in service_log_groups(graph, {canary.urn: real_engine})}
    state = [{"urn": n.urn, "type": n.type, "outputs": {"engineArn": real_engine} if n.urn == canary.urn else {}}
             for n in graph.nodes if n.urn not in declared]
    made_by_aws = {("us-east-1", "/aws/rds/instance/berth-prod-primary/postgresql"),
                   ("us-west-2", "/aws/rds/instance/berth-prod-dr-replica/upgrade"),
                   ("us-east-1", "/aws/containerinsights/berth-prod/application"),
                   ("us-east-1", "/aws/lambda/cwsyn-berth-prod-api-health-0a1b2c3d")}
    st = FakeStack(state)
    adopted = adopt_service_log_groups(StackFile.read("prod"), st, echo=lambda _: None, graph=graph,
                                       exists=lambda region, name: (region, name) in made_by_aws)
    assert sorted(adopted) == sorted(n for _, n in made_by_aws)
    assert st.imported is not None and st.imported["generate_code"] is False
    ids = {r["id"] for r in st.imported["resources"]}
    # Outside the provider's region the import id names the region, as pulumi-aws v7 takes it.
    assert "/aws/rds/instance/berth-prod-dr-replica/upgrade@us-west-2" in ids
    assert "/aws/rds/instance/berth-prod-primary/postgresql" in ids
    parents = st.imported["name_table"]
    assert all(r["parent"] in parents for r in st.imported["resources"])
    # Once in the state, nothing is imported again; a new stack has nothing to adopt.
    again = FakeStack([*state, *({"urn": u, "type": "aws:cloudwatch/logGroup:LogGroup"} for u in declared)])
    assert adopt_service_log_groups(StackFile.read("prod"), again, echo=lambda _: None, graph=graph,
                                    exists=lambda region, name: True) == []
    # A new stack has no parent to import under: leftovers its creates would collide with are named.
    fresh = FakeStack([])
    with pytest.raises(OpsError, match=r"log groups it would create already exist .*berth-prod-primary/postgresql"):
        adopt_service_log_groups(StackFile.read("prod"), fresh, echo=lambda _: None, graph=graph,
                                 exists=lambda region, name: True)
    assert fresh.imported is None
    assert adopt_service_log_groups(StackFile.read("prod"), fresh, echo=lambda _: None, graph=graph,
                                    exists=lambda region, name: False) == []
