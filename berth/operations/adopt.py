"""Operations room: adopting what AWS made on a stack's behalf before the stack declared it.

Before the stack made the log groups its services write, RDS (exported logs), the Container Insights
agents and the canary's Lambda made them themselves. On the first `up` that declares them, creating
them would fail ("already exists": the provider does not adopt). So `berth up` imports each such
group that exists in the account and is not yet in the stack's state, as the provider reads it,
before the `up`; the `up` then converges it in place (retention, key and tags are not ForceNew).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from embedded_cloud.graph import Graph

LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
CANARY = "aws:synthetics/canary:Canary"
# The groups services create for themselves when missing.
SERVICE_PREFIXES = ("/aws/rds/instance/", "/aws/containerinsights/", "/aws/lambda/cwsyn-")


@dataclass(frozen=True)
class Adoption:
    """One service log group the stack declares: where it lives and what to import it as."""

    urn: str
    name: str
    parent: str | None
    group: str
    region: str | None

    def import_id(self, default_region: str | None) -> str:
        """The provider's import id: the group's name (`@region` outside the provider's region, as
        pulumi-aws v7 / terraform-provider-aws v6 take per-resource regions)."""
        return self.group if not self.region or self.region == default_region else f"{self.group}@{self.region}"


def service_log_groups(graph: Graph, canary_engine_arns: Mapping[str, str] | None = None) -> list[Adoption]:
    """The stack's service log groups. A canary's group is named from its Lambda (an id AWS assigns):
    `canary_engine_arns` (canary URN -> its engineArn in the real stack's state) names it; without
    one, it is skipped."""
    out: list[Adoption] = []
    for node in graph.by_type(LOG_GROUP):
        name = node.inputs.get("name")
        canary = next((u for us in node.property_dependencies.values() for u in us
                       if (c := graph.get(u)) is not None and c.type == CANARY), None)
        if canary is not None:
            arn = (canary_engine_arns or {}).get(canary)
            if not arn:
                continue
            name = f"/aws/lambda/{arn.split(':')[6]}"
        if isinstance(name, str) and name.startswith(SERVICE_PREFIXES):
            out.append(Adoption(node.urn, node.name, node.parent, name, node.region))
    return out


def pending(adoptions: Iterable[Adoption], managed: set[str], exists: Callable[[str | None, str], bool]) -> list[Adoption]:
    """Those the stack does not manage yet and the account already holds."""
    return [a for a in adoptions if a.urn not in managed and exists(a.region, a.group)]


def import_request(adoptions: list[Adoption], default_region: str | None) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The Automation API's import_resources arguments: resources and the name table of their parents."""
    parents = sorted({a.parent for a in adoptions if a.parent})
    table = {f"parent{i}": urn for i, urn in enumerate(parents)}
    by_urn = {urn: name for name, urn in table.items()}
    resources = []
    version = _provider_version()
    for a in adoptions:
        # The installed provider's version: the import then uses the provider the `up` uses (no
        # unversioned default provider recorded, no provider change on the next `up`).
        r: dict[str, Any] = {"type": LOG_GROUP, "name": a.name, "id": a.import_id(default_region), "version": version}
        if a.parent:
            r["parent"] = by_urn[a.parent]
        resources.append(r)
    return resources, table


def _provider_version() -> str:
    from importlib.metadata import version

    return version("pulumi-aws")


def state_of(deployment: Mapping[str, Any]) -> tuple[set[str], dict[str, str]]:
    """From an exported deployment: the URNs it manages and each canary's engineArn."""
    managed: set[str] = set()
    engines: dict[str, str] = {}
    for res in deployment.get("resources") or []:
        managed.add(res.get("urn", ""))
        if res.get("type") == CANARY and (res.get("outputs") or {}).get("engineArn"):
            engines[res["urn"]] = res["outputs"]["engineArn"]
    return managed, engines
