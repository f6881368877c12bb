"""app tests room: faults injected into the real topology, each restored before the test ends:
replica down, Redis down, Redis frozen, PgBouncer restarted, and graceful shutdown on SIGTERM."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from local_topology.topology import Topology

from .conftest import auth, detailed, from_address, unique_ip, wait_for


def _all_ready(client: httpx.Client, urls: list[str]) -> bool:
    return all(client.get(f"{u}/api/health/ready").status_code == 200 for u in urls)


@pytest.fixture
def restore(topo: Topology, client: httpx.Client, urls: list[str]) -> Iterator[Callable[[str], None]]:
    """Stop services through this fixture: they are started again (and readiness awaited) afterwards."""
    stopped: list[str] = []

    def stop(name: str) -> None:
        topo.stop_service(name)
        stopped.append(name)

    try:
        yield stop
    finally:
        for name in stopped:
            if topo.services[name].pid is None:
                topo.start_service(name)
        wait_for(lambda: _all_ready(client, urls), timeout=20, what="both apps ready again")


def test_replica_down_reads_fall_back_to_the_primary(
    topo: Topology,
    client: httpx.Client,
    urls: list[str],
    writer_key: str,
    reader_key: str,
    admin_key: str,
    make_shipment: Callable[..., dict[str, Any]],
    restore: Callable[[str], None],
) -> None:
    s = make_shipment(writer_key)
    restore("replica")
    for url in urls:
        listed = client.get(f"{url}/api/shipments", params={"limit": 3}, headers=auth(reader_key))
        assert listed.status_code == 200, listed.text
        assert client.get(f"{url}/api/shipments/{s['id']}", headers=auth(reader_key)).status_code == 200
    for url in urls:
        d = wait_for(
            lambda u=url: (lambda j: j if not j["replicas"][0]["reachable"] else None)(detailed(client, u, admin_key)),
            timeout=10,
            interval=0.5,
            what="replica reported unreachable",
        )
        assert d["replicas"][0]["in_read_pool"] is False and d["reads_from"] == "primary"
        assert d["status"] == "degraded" and d["primary"]["reachable"] is True
    # readiness only needs the primary and Redis
    assert client.get(f"{urls[0]}/api/health/ready").status_code == 200
    # a write still works, and its row is readable by others (from the primary) at once
    t = make_shipment(writer_key)
    assert (
        client.get(f"{urls[1]}/api/shipments", params={"limit": 50}, headers=auth(reader_key)).json()["items"][0]["id"]
        == t["id"]
    )

    topo.start_service("replica")
    for url in urls:
        wait_for(
            lambda u=url: detailed(client, u, admin_key)["replicas"][0]["in_read_pool"],
            timeout=20,
            interval=0.5,
            what="replica back in the read pool",
        )


def test_redis_down_serves_from_database_and_limits_in_process(
    topo: Topology,
    client: httpx.Client,
    urls: list[str],
    writer_key: str,
    reader_key: str,
    admin_key: str,
    make_shipment: Callable[..., dict[str, Any]],
    restore: Callable[[str], None],
) -> None:
    a, b = urls
    s = make_shipment(writer_key)
    restore("redis")
    # reads, writes, lists: all 200 without Redis
    for url in urls:
        got = client.get(f"{url}/api/shipments/{s['id']}", headers=auth(reader_key))
        assert got.status_code == 200 and got.json()["id"] == s["id"]
        assert client.get(f"{url}/api/shipments", headers=auth(reader_key)).status_code == 200
    t = make_shipment(writer_key, url=b)
    p = client.patch(
        f"{a}/api/shipments/{t['id']}", json={"origin": "Antwerp"}, headers=auth(writer_key, **{"If-Match": '"1"'})
    )
    assert p.status_code == 200
    # no stale L1 while invalidations cannot flow: B sees A's write once its replica has it (the
    # reader key cannot write, so its reads go to a replica even without Redis: only keys that can
    # write need the primary for read-your-writes)
    wait_for(
        lambda: topo.replica_sql(f"SELECT origin FROM shipments WHERE id = '{t['id']}'") == "Antwerp",
        what="the write on the replica",
    )
    assert client.get(f"{b}/api/shipments/{t['id']}", headers=auth(reader_key)).json()["origin"] == "Antwerp"

    # readiness says degraded (Redis failed), naming it; detailed health agrees
    def degraded() -> httpx.Response | None:
        r = client.get(f"{a}/api/health/ready")
        return r if r.status_code == 503 else None

    ready = wait_for(degraded, timeout=5, what="readiness to report Redis")
    assert ready.json()["status"] == "degraded" and ready.json()["failed"] == ["redis"]
    d = detailed(client, a, admin_key)
    assert (
        d["cache"]["redis_reachable"] is False
        and d["cache"]["redis_error"] in ("ConnectionError", "TimeoutError")
        and d["rate_limit"]["backend"] == "in-process"
    )
    assert client.get(f"{a}/api/health").status_code == 200  # liveness is untouched

    # the per-IP limit still holds, in process
    body = {"name": "Lin", "email": "lin@example.com", "message": "hello"}
    with from_address(unique_ip()) as visitor:
        codes = [visitor.post(f"{a}/api/inquiries", json=body).status_code for _ in range(6)]
    assert codes == [201] * 5 + [429]

    topo.start_service("redis")
    wait_for(lambda: _all_ready(client, urls), timeout=10, what="readiness back after Redis returns")
    d = wait_for(
        lambda: (lambda j: j if j["cache"]["l1_enabled"] else None)(detailed(client, a, admin_key)),
        timeout=10,
        interval=0.5,
        what="L1 re-enabled",
    )
    assert d["cache"]["connected"] is True


def test_frozen_redis_costs_latency_not_errors(
    topo: Topology,
    client: httpx.Client,
    urls: list[str],
    writer_key: str,
    reader_key: str,
    make_shipment: Callable[..., dict[str, Any]],
) -> None:
    s = make_shipment(writer_key)
    topo.pause("redis")
    try:
        started = time.monotonic()
        for _ in range(10):
            r = client.get(f"{urls[0]}/api/shipments/{s['id']}", headers=auth(reader_key))
            assert r.status_code == 200
        assert time.monotonic() - started < 5, "short Redis timeouts and the breaker must bound the latency"
    finally:
        topo.resume("redis")
    wait_for(lambda: _all_ready(client, urls), timeout=15, what="readiness after Redis resumes")


def test_pgbouncer_restart_recovers_without_app_restart(
    topo: Topology,
    client: httpx.Client,
    urls: list[str],
    writer_key: str,
    reader_key: str,
    make_shipment: Callable[..., dict[str, Any]],
) -> None:
    s = make_shipment(writer_key)
    app_pids = {n: topo.services[n].pid for n in ("app0", "app1")}
    for url in urls:  # open pooled connections through PgBouncer in both apps
        assert client.get(f"{url}/api/shipments", headers=auth(reader_key)).status_code == 200
    topo.restart_service("pgbouncer")
    for url in urls:
        listed = client.get(f"{url}/api/shipments", headers=auth(reader_key))
        assert listed.status_code == 200, listed.text
    p = client.patch(
        f"{urls[1]}/api/shipments/{s['id']}",
        json={"status": "in_transit"},
        headers=auth(writer_key, **{"If-Match": '"1"'}),
    )
    assert p.status_code == 200, p.text
    make_shipment(writer_key, url=urls[0])
    assert {n: topo.services[n].pid for n in ("app0", "app1")} == app_pids


def test_sigterm_drains_then_exits_cleanly(topo: Topology, client: httpx.Client) -> None:
    url = topo.start_app(name="app-drain", env={"DRAIN_SECONDS": "2"})
    assert client.get(f"{url}/api/health/ready").status_code == 200
    topo.signal("app-drain", signal.SIGTERM)
    # while draining: not ready (the load balancer stops routing here) but still serving
    r = wait_for(
        lambda: (lambda x: x if x.status_code == 503 else None)(client.get(f"{url}/api/health/ready")),
        timeout=2,
        interval=0.05,
        what="readiness to fail on SIGTERM",
    )
    assert r.json()["status"] == "draining"
    assert client.get(f"{url}/api/health").status_code == 200
    assert client.get(topo.metrics_url(url)).status_code == 200  # the last scrapes still answer
    # uvicorn re-raises the captured SIGTERM after its graceful shutdown, hence -15 rather than 0
    assert topo.wait_exit("app-drain", timeout=15) in (0, -signal.SIGTERM)
    log = Path(topo.services["app-drain"].log).read_text()
    assert '"msg":"stopped"' in log, "the lifespan shutdown (closing the pools) did not run"
    assert '"level":"error"' not in log
    with pytest.raises(httpx.ConnectError):
        client.get(f"{url}/api/health")
