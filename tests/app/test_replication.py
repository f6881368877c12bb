"""app tests room: read/write splitting against a real streaming replica: reads come from the
replica, a client's own writes are visible to it at once (read-your-writes), and a lagging replica
leaves the read pool and rejoins."""

from __future__ import annotations

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
