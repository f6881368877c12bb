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
