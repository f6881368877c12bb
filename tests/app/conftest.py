"""app tests room: fixtures: ONE real local topology per session (PostgreSQL primary + streaming
replica, PgBouncer, Redis, two app processes) from stacks/local.py, and helpers to talk to it.
"""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from local_topology.topology import Topology

_ip_counter = itertools.count(1)
CORS_ORIGIN = "https://shipments.example"


@pytest.fixture(scope="session")
def topo() -> Iterator[Topology]:
    # REDIS_SOCKET_TIMEOUT: on a starved CI machine a 0.25 s Redis call can time out, and the app
    # then (correctly) falls back to its in-process limiter, which would make the exact-boundary
    # tests flaky. The fault tests still see Redis down or frozen quickly.
    topology = Topology(apps=2, app_env={"CORS_ORIGINS": CORS_ORIGIN, "REDIS_SOCKET_TIMEOUT": "1.0"})
    topology.start()
    try:
        yield topology
    finally:
        topology.stop()


@pytest.fixture(scope="session")
def urls(topo: Topology) -> list[str]:
    return topo.app_urls[:2]


@pytest.fixture(scope="session")
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=15.0) as c:
        yield c


# Per-key rate limits are part of the contract, so each test gets fresh keys.
@pytest.fixture
def writer_key(topo: Topology) -> str:
    return topo.create_key("writer", "test")


@pytest.fixture
def reader_key(topo: Topology) -> str:
    return topo.create_key("reader", "test")


@pytest.fixture
def admin_key(topo: Topology) -> str:
    return topo.create_key("admin", "test")


@pytest.fixture
def redis_stopped(topo: Topology, client: httpx.Client, urls: list[str]) -> Iterator[None]:
    """Redis is down for the test; started again (and both apps ready) afterwards."""
    topo.stop_service("redis")
    try:
        yield
    finally:
        topo.start_service("redis")
        wait_for(
            lambda: all(client.get(f"{u}/api/health/ready").status_code == 200 for u in urls),
            timeout=20,
            what="both apps ready again",
        )


def auth(key: str, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", **extra}


def detailed(client: httpx.Client, url: str, admin_key: str) -> dict[str, Any]:
    """GET /api/health/detailed (admins only); polls of it count against the key's read limit, so
    callers wait between polls (interval=0.5)."""
    r = client.get(f"{url}/api/health/detailed", headers=auth(admin_key))
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def unique_ip() -> str:
    """A loopback address of its own (all of 127.0.0.0/8 is this machine's), so per-address limits of
    one test are not spent by another: connect from it with `from_address`. The app keys requests
    by their real peer; no header can choose the address."""
    n = next(_ip_counter)
    return f"127.18.{n // 250}.{n % 250 + 1}"


def from_address(ip: str, timeout: float = 15.0) -> httpx.Client:
    """A client whose connections leave from `ip` (see unique_ip): its requests' real address."""
    return httpx.Client(timeout=timeout, transport=httpx.HTTPTransport(local_address=ip))


def shipment_body(**overrides: Any) -> dict[str, Any]:
    body = {
        "tracking_number": "TN-" + uuid.uuid4().hex[:16].upper(),
        "origin": "Rotterdam",
        "destination": "Oslo",
        "weight_kg": 12.5,
    }
    body.update(overrides)
    return body


@pytest.fixture
def make_shipment(client: httpx.Client, urls: list[str]) -> Callable[..., dict[str, Any]]:
    def make(key: str, url: str | None = None, **overrides: Any) -> dict[str, Any]:
        response = client.post(f"{url or urls[0]}/api/shipments", json=shipment_body(**overrides), headers=auth(key))
        assert response.status_code == 201, response.text
        return response.json()

    return make


def wait_for(predicate: Callable[[], Any], timeout: float = 15.0, interval: float = 0.1, what: str = "") -> Any:
    """Poll until predicate() is truthy; returns its value or fails naming what was awaited."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}; last value {last!r}")
