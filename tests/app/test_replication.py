"""app tests room: read/write splitting against a real streaming replica: reads come from the
replica, a client's own writes are visible to it at once (read-your-writes), and a lagging replica
leaves the read pool and rejoins."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from local_topology.topology import Topology

from .conftest import auth, detailed, wait_for


@pytest.fixture
def paused_replay(topo: Topology) -> Iterator[Callable[[], None]]:
    def pause() -> None:
        topo.replica_sql("SELECT pg_wal_replay_pause()")

    try:
        yield pause
    finally:
        topo.replica_sql("SELECT pg_wal_replay_resume()")


def _replicated(topo: Topology, shipment_id: str) -> bool:
    return topo.replica_sql(f"SELECT count(*) FROM shipments WHERE id = '{shipment_id}'") == "1"


def test_read_your_writes_while_the_replica_is_behind(
    topo: Topology,
    client: httpx.Client,
    urls: list[str],
    writer_key: str,
    reader_key: str,
    make_shipment: Callable[..., dict[str, Any]],
    paused_replay: Callable[[], None],
) -> None:
    a, b = urls
    seed = make_shipment(writer_key)
    wait_for(lambda: _replicated(topo, seed["id"]), what="seed row on the replica")
    # the reader's key is looked up (and cached) while the replica is current
    assert client.get(f"{b}/api/shipments", headers=auth(reader_key)).status_code == 200
    paused_replay()

    fresh = make_shipment(writer_key, url=a)
    assert not _replicated(topo, fresh["id"]), "replay is paused: the replica must not have the new row"
    # The writer reads at once, on the other process, from the list (never cached): it sees its write.
    mine = client.get(f"{b}/api/shipments", params={"limit": 5}, headers=auth(writer_key)).json()["items"]
    assert mine[0]["id"] == fresh["id"]
    # Another client reads from the replica, which does not have it yet: proof reads go to the replica.
    theirs = client.get(f"{b}/api/shipments", params={"limit": 5}, headers=auth(reader_key)).json()["items"]
    assert fresh["id"] not in {s["id"] for s in theirs}
    # A single item is served write-through from the cache, so everyone sees the new row.
    assert client.get(f"{b}/api/shipments/{fresh['id']}", headers=auth(reader_key)).status_code == 200
    # An update by the writer is read back at once too.
    p = client.patch(
        f"{a}/api/shipments/{fresh['id']}",
        json={"status": "delivered"},
        headers=auth(writer_key, **{"If-Match": '"1"'}),
    )
    assert p.status_code == 200
    assert client.get(f"{b}/api/shipments/{fresh['id']}", headers=auth(writer_key)).json()["status"] == "delivered"


def test_lagging_replica_leaves_the_read_pool_and_rejoins(
    topo: Topology,
    client: httpx.Client,
    urls: list[str],
    writer_key: str,
    reader_key: str,
    admin_key: str,
    make_shipment: Callable[..., dict[str, Any]],
    paused_replay: Callable[[], None],
) -> None:
    a = urls[0]
    seed = make_shipment(writer_key)
    wait_for(lambda: _replicated(topo, seed["id"]), what="seed row on the replica")
    assert client.get(f"{a}/api/shipments", headers=auth(reader_key)).status_code == 200
    paused_replay()
    behind = make_shipment(writer_key)

    def ejected() -> dict[str, Any] | None:
        d = detailed(client, a, admin_key)
        return d if not d["replicas"][0]["in_read_pool"] else None

    d = wait_for(ejected, timeout=15, interval=0.5, what="the lagging replica to leave the read pool")
    assert d["replicas"][0]["reachable"] is True and d["replicas"][0]["lag_seconds"] > 5
    assert d["reads_from"] == "primary" and d["status"] == "degraded"
    # Reads now come from the primary: even a non-writer sees the row the replica lacks.
    listed = client.get(f"{a}/api/shipments", params={"limit": 5}, headers=auth(reader_key)).json()["items"]
    assert behind["id"] in {s["id"] for s in listed}

    topo.replica_sql("SELECT pg_wal_replay_resume()")
    wait_for(
        lambda: detailed(client, a, admin_key)["replicas"][0]["in_read_pool"],
        timeout=15,
        interval=0.5,
        what="the replica to rejoin",
    )


@pytest.fixture
def wal_cut(topo: Topology) -> Iterator[Callable[[], None]]:
    """Stop WAL reaching the replica (its walreceiver is disconnected and cannot log in again) while
    the replica itself stays up and answers: the replica has replayed all it received, so by its
    own account it is current."""

    def cut() -> None:
        topo.primary_sql("ALTER ROLE replicator NOLOGIN")
        topo.primary_sql("SELECT pg_terminate_backend(pid) FROM pg_stat_replication")
        wait_for(lambda: topo.primary_sql("SELECT count(*) FROM pg_stat_replication") == "0", what="walsender gone")

    try:
        yield cut
    finally:
        topo.primary_sql("ALTER ROLE replicator LOGIN")


def test_a_replica_that_stops_receiving_wal_leaves_the_read_pool_within_the_bound(
    topo: Topology,
    client: httpx.Client,
    urls: list[str],
    writer_key: str,
    reader_key: str,
    admin_key: str,
    make_shipment: Callable[..., dict[str, Any]],
    wal_cut: Callable[[], None],
) -> None:
    # REPLICA_MAX_LAG_SECONDS (5) + REPLICA_CHECK_INTERVAL_SECONDS (1): README's bound, plus a
    # second for this machine's scheduling.
    bound = 5 + 1 + 1.0
    seed = make_shipment(writer_key)
    wait_for(lambda: _replicated(topo, seed["id"]), what="seed row on the replica")
    for url in urls:
        wait_for(
            lambda u=url: detailed(client, u, admin_key)["replicas"][0]["in_read_pool"],
            interval=0.5,
            what="the replica in the read pool",
        )
        assert client.get(f"{url}/api/shipments", headers=auth(reader_key)).status_code == 200
    wal_cut()
    cut_at = time.monotonic()
    written: list[dict[str, Any]] = []
    left: dict[str, float] = {}
    while len(left) < len(urls) and time.monotonic() - cut_at < bound + 5:
        written.append(make_shipment(writer_key, url=urls[len(written) % 2]))
        for url in urls:
            if url not in left and not detailed(client, url, admin_key)["replicas"][0]["in_read_pool"]:
                left[url] = time.monotonic() - cut_at
        time.sleep(0.6)  # the writer's key may write 20 times a minute
    assert not _replicated(topo, written[-1]["id"]), "the replica must not be receiving WAL"
    assert set(left) == set(urls), f"the replica stayed in the read pool for {time.monotonic() - cut_at:.1f}s"
    assert max(left.values()) <= bound, left
    for url in urls:
        d = detailed(client, url, admin_key)
        assert d["reads_from"] == "primary" and d["replicas"][0]["reachable"] is True
        assert d["replicas"][0]["lag_seconds"] is None or d["replicas"][0]["lag_seconds"] > 5
        # Reads now come from the primary: another client sees the newest row.
        listed = client.get(f"{url}/api/shipments", params={"limit": 5}, headers=auth(reader_key)).json()["items"]
        assert written[-1]["id"] in {s["id"] for s in listed}
    # Past the read-your-writes window the writer still reads its own write.
    mine = make_shipment(writer_key, url=urls[0])
    time.sleep(5.5)
    listed = client.get(f"{urls[1]}/api/shipments", params={"limit": 5}, headers=auth(writer_key)).json()["items"]
    assert mine["id"] in {s["id"] for s in listed}

    topo.primary_sql("ALTER ROLE replicator LOGIN")
    for url in urls:
        wait_for(
            lambda u=url: detailed(client, u, admin_key)["replicas"][0]["in_read_pool"],
            timeout=30,
            interval=0.5,
            what="the replica to rejoin once WAL flows again",
        )
