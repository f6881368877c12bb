"""app tests room: a failover to a promoted asynchronous replica under the app (issue 27), on a
topology of its own (the failover is not undone): versions the old primary wrote after the replica
stopped receiving WAL are lost, their numbers are reissued with other data, and no cache may keep
answering the lost bodies."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator

import httpx
import pytest

from local_topology.topology import Topology

from .conftest import auth, shipment_body, wait_for


@pytest.fixture(scope="module")
def doomed() -> Iterator[Topology]:
    topology = Topology(apps=2, app_env={"REDIS_SOCKET_TIMEOUT": "1.0"})
    topology.start()
    try:
        yield topology
    finally:
        topology.stop()


def _fail_over(topo: Topology) -> None:
    """The primary dies; the replica is promoted; PgBouncer's read-write pool now points at it (what
    the DR failover does with the database's address)."""
    topo.stop_service("primary")
    topo.replica_sql("SELECT pg_promote()")
    assert topo.root is not None
    ini = topo.root / "pgbouncer" / "pgbouncer.ini"
    ini.write_text(ini.read_text().replace(f"port={topo.ports['primary']} ", f"port={topo.ports['replica']} "))
    topo.signal("pgbouncer", signal.SIGHUP)


def test_after_a_failover_no_cache_serves_a_lost_version(doomed: Topology) -> None:
    topo = doomed
    a, b = topo.app_urls
    writer, reader = topo.create_key("writer", "failover"), topo.create_key("reader", "failover")
    with httpx.Client(timeout=15) as client:
        created = client.post(f"{a}/api/shipments", json=shipment_body(), headers=auth(writer))
        assert created.status_code == 201
        item = f"/api/shipments/{created.json()['id']}"
        wait_for(
            lambda: topo.replica_sql(f"SELECT count(*) FROM shipments WHERE id = '{created.json()['id']}'") == "1",
            what="the row on the replica",
        )
        # The replica stops receiving WAL: what the primary writes from now on is lost in the failover.
        topo.primary_sql("ALTER ROLE replicator NOLOGIN")
        topo.primary_sql("SELECT pg_terminate_backend(pid) FROM pg_stat_replication")
        wait_for(lambda: topo.primary_sql("SELECT count(*) FROM pg_stat_replication") == "0", what="walsender gone")
        lost = client.patch(f"{a}{item}", json={"destination": "Lost"}, headers=auth(writer, **{"If-Match": '"1"'}))
        assert lost.status_code == 200 and lost.json()["version"] == 2
        for url in (a, b):  # every cache holds the version the failover will lose
            for _ in range(2):
                assert client.get(f"{url}{item}", headers=auth(reader)).json()["destination"] == "Lost"

        _fail_over(topo)
        # The database now says version 1: so must every process, soon (not after the 300 s TTL).
        started = time.monotonic()
        for url in (a, b):
            wait_for(
                lambda u=url: client.get(f"{u}{item}", headers=auth(reader)).json().get("version") == 1,
                timeout=15,
                interval=0.25,
                what=f"{url} to answer the surviving version",
            )
        assert time.monotonic() - started < 15
        # The next write is on the new timeline: its version is above anything the old one issued,
        # so the lost version 2 is never issued again with other data.
        real = client.patch(f"{a}{item}", json={"destination": "Real"}, headers=auth(writer, **{"If-Match": '"1"'}))
        assert real.status_code == 200 and real.json()["version"] == 2**32, real.json()
        assert real.headers["ETag"] == f'"{2**32}"'
        for url in (a, b):
            for _ in range(2):
                seen = client.get(f"{url}{item}", headers=auth(reader)).json()
                assert (seen["version"], seen["destination"]) == (2**32, "Real"), url
        # A client that saw the lost body edits with its ETag: refused, never applied to data it never saw.
        phantom = client.patch(f"{b}{item}", json={"destination": "Phantom"},
                               headers=auth(writer, **{"If-Match": '"2"'}))
        assert phantom.status_code == 409 and phantom.headers["ETag"] == f'"{2**32}"', phantom.text
