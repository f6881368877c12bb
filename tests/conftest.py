"""Tests room: shared fixtures. Each stack runs once per session in the embedded cloud.

`staging` and `prod` are `Deployed` stacks: the recorded graph plus a live moto server
holding what the program created, queried through `client(service, region)`. Each stack
runs in its own child process against its own moto server, so runs never share the Pulumi
runtime's global state. `deploy(stack, overrides)` makes a one-off variant.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import pytest

from embedded_cloud import EmbeddedCloud, Graph, run_isolated

# Fixtures that deploy a stack into the embedded cloud or start the local topology: a test using one
# is in the slow tier (`uv run pytest -m "not slow"` is the fast one, README). Tests that start such
# things themselves carry @pytest.mark.slow.
SLOW_FIXTURES = frozenset({"staging", "prod", "deployed", "deploy", "topo", "urls", "writer_key", "reader_key",
                           "admin_key", "make_shipment", "world"})


def _slow(item: pytest.Item) -> bool:
    if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
        return True
    # Parametrized over the deployed stacks, fetched with request.getfixturevalue(name).
    params = getattr(getattr(item, "callspec", None), "params", {})
    return "request" in getattr(item, "fixturenames", ()) and any(v in ("staging", "prod") for v in params.values())


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("slow") is None and _slow(item):
            item.add_marker(pytest.mark.slow)


@dataclass
class Deployed:
    stack: str
    graph: Graph
    cloud: EmbeddedCloud

    def client(self, service: str, region: str | None = None) -> Any:
        return self.cloud.client(service, region or self.graph.region or "us-east-1")


def _deploy(
    stack: str,
    overrides: Mapping[str, Any] | None = None,
    seed: Callable[[EmbeddedCloud], None] | None = None,
    **kw: Any,
) -> Deployed:
    """Run a stack against a fresh moto server; `seed` prepares that server before the run."""
    cloud = EmbeddedCloud.serve()
    try:
        if seed is not None:
            seed(cloud)
        graph = run_isolated(stack, endpoint_url=cloud.endpoint_url or "", overrides=overrides, **kw)
    except Exception:
        cloud.close()
        raise
    return Deployed(stack, graph, cloud)


@pytest.fixture(scope="session")
def deployed() -> Iterator[Callable[[str], Deployed]]:
    cache: dict[str, Deployed] = {}

    def get(stack: str) -> Deployed:
        if stack not in cache:
            cache[stack] = _deploy(stack)
        return cache[stack]

    yield get
    for d in cache.values():
        d.cloud.close()


@pytest.fixture(scope="session")
def staging(deployed: Callable[[str], Deployed]) -> Deployed:
    return deployed("staging")


@pytest.fixture(scope="session")
def prod(deployed: Callable[[str], Deployed]) -> Deployed:
    return deployed("prod")


@pytest.fixture
def deploy() -> Iterator[Callable[..., Deployed]]:
    """Deploy a variant (e.g. overrides={"berth:database.replicas": 3}); cleaned up after the test."""
    made: list[Deployed] = []

    def make(stack: str, overrides: Mapping[str, Any] | None = None, **kw: Any) -> Deployed:
        d = _deploy(stack, overrides, **kw)
        made.append(d)
        return d

    yield make
    for d in made:
        d.cloud.close()
