"""app tests room: what the caches answer when the infrastructure misbehaves (issue 27), on the real
topology: a write whose answer was lost, a 409 on a stale cache, read-your-writes with Redis down."""

from __future__ import annotations

import concurrent.futures
import signal
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import redis

from local_topology.topology import Topology

from .conftest import auth, detailed, wait_for


@pytest.fixture
def replay_paused(topo: Topology) -> Iterator[None]:
    topo.replica_sql("SELECT pg_wal_replay_pause()")
    try:
        yield
    finally:
        topo.replica_sql("SELECT pg_wal_replay_resume()")


def _cache_everywhere(client: httpx.Client, urls: list[str], item: str, key: str, version: int) -> None:
    for url in urls:
        for _ in range(2):  # the first may fill from Redis, the second is the L1's
            r = client.get(f"{url}{item}", headers=auth(key))
            assert r.status_code == 200 and r.json()["version"] == version


def test_a_409_replaces_a_stale_cached_version(
    topo: Topology,
    client: httpx.Client,
    urls: list[str],
    writer_key: str,
    reader_key: str,
    make_shipment: Callable[..., dict[str, Any]],
) -> None:
    s = make_shipment(writer_key)
    item = f"/api/shipments/{s['id']}"
    _cache_everywhere(client, urls, item, reader_key, 1)
    # Version 2 exists, but no cache heard of it (a write whose answer and announcement were lost).
    topo.primary_sql(f"UPDATE shipments SET version = 2, destination = 'Bergen' WHERE id = '{s['id']}'", db="shipments")
    assert client.get(f"{urls[1]}{item}", headers=auth(reader_key)).json()["version"] == 1
    conflict = client.patch(
        f"{urls[0]}{item}", json={"origin": "Ghent"}, headers=auth(writer_key, **{"If-Match": '"1"'})
    )
    assert conflict.status_code == 409 and conflict.json()["current_version"] == 2
    # Everyone (not only the process that answered 409) now answers version 2: no GET -> PATCH -> 409 loop.
    for url in urls:
        seen = client.get(f"{url}{item}", headers=auth(reader_key))
        assert seen.json()["version"] == 2 and seen.json()["destination"] == "Bergen"
        assert seen.headers["etag"] == '"2"'


def test_a_write_that_commits_but_answers_503_does_not_leave_the_old_version_cached(
    topo: Topology,
    client: httpx.Client,
    urls: list[str],
    writer_key: str,
    reader_key: str,
    make_shipment: Callable[..., dict[str, Any]],
) -> None:
    s = make_shipment(writer_key)
    item = f"/api/shipments/{s['id']}"
    _cache_everywhere(client, urls, item, reader_key, 1)
    # A session straight on the primary holds the row: the app's UPDATE waits behind it.
    blocker = threading.Thread(
        target=topo.primary_sql,
        args=(f"BEGIN; SELECT 1 FROM shipments WHERE id = '{s['id']}' FOR UPDATE; SELECT pg_sleep(2); COMMIT;",),
        kwargs={"db": "shipments"},
    )
    blocker.start()
    answer: dict[str, httpx.Response] = {}

    def patch() -> None:
        answer["r"] = client.patch(
            f"{urls[0]}{item}", json={"status": "delivered"}, headers=auth(writer_key, **{"If-Match": '"1"'})
        )

    time.sleep(0.5)
    writer = threading.Thread(target=patch)
    writer.start()
    time.sleep(0.5)
    # PgBouncer stalls with the UPDATE already on the primary: the row lock is released, the UPDATE
    # commits there, and its answer never reaches the app (which gives up after DB_COMMAND_TIMEOUT).
    topo.signal("pgbouncer", signal.SIGSTOP)
    try:
        blocker.join(timeout=10)
        wait_for(
            lambda: topo.primary_sql(f"SELECT version FROM shipments WHERE id = '{s['id']}'", db="shipments") == "2",
            timeout=5,
            what="the UPDATE committed",
        )
        writer.join(timeout=20)
    finally:
        topo.signal("pgbouncer", signal.SIGCONT)
    assert answer["r"].status_code == 503, answer["r"].text
    # The write did commit: nobody may be answered version 1 any more, the writer included.
    for url in urls:
        for key in (reader_key, writer_key):
            seen = client.get(f"{url}{item}", headers=auth(key))
            assert seen.status_code == 200 and seen.json()["version"] == 2, (url, seen.json())


def test_read_your_writes_holds_with_redis_down_under_concurrent_replica_loads(
    topo: Topology,
    client: httpx.Client,
    urls: list[str],
    writer_key: str,
    admin_key: str,
    make_shipment: Callable[..., dict[str, Any]],
    redis_stopped: None,
    replay_paused: None,
) -> None:
    url = urls[0]
    readers = [topo.create_key("reader", "test") for _ in range(8)]
    s = make_shipment(writer_key)
    item = f"/api/shipments/{s['id']}"
    # Replay is paused: the replica keeps version 1 while the primary gets version 2. (It leaves the
    # read pool REPLICA_MAX_LAG_SECONDS after the write; the race is run well within that.)
    topo.replica_sql("SELECT pg_wal_replay_resume()")
    wait_for(
        lambda: topo.replica_sql(f"SELECT count(*) FROM shipments WHERE id = '{s['id']}'") == "1",
        what="the row on the replica",
    )
    # In the read pool (a test before may have left it out for a moment): the race needs its loads.
    wait_for(
        lambda: detailed(client, url, admin_key)["replicas"][0]["in_read_pool"],
        interval=0.5,
        what="the replica in the read pool",
    )
    topo.replica_sql("SELECT pg_wal_replay_pause()")
    p = client.patch(f"{url}{item}", json={"origin": "Lyon"}, headers=auth(writer_key, **{"If-Match": '"1"'}))
    assert p.status_code == 200 and p.json()["version"] == 2
    started = time.monotonic()
    stop = threading.Event()

    def other_clients(key: str) -> int:
        n = 0
        with httpx.Client(timeout=5) as c:
            while not stop.is_set() and n < 90:
                c.get(f"{url}{item}", headers=auth(key))
                n += 1
        return n

    with concurrent.futures.ThreadPoolExecutor(len(readers)) as pool:
        loads = [pool.submit(other_clients, k) for k in readers]
        try:
            with httpx.Client(timeout=5) as mine:
                versions = [mine.get(f"{url}{item}", headers=auth(writer_key)).json()["version"] for _ in range(40)]
        finally:
            stop.set()
        assert sum(f.result() for f in loads) > 40, "the other clients' reads must overlap the writer's"
    assert time.monotonic() - started < 4, "the replica (still behind) must be in the read pool throughout"
    assert versions == [2] * 40, versions


def test_a_lagging_replicas_fill_after_redis_lost_its_data_lives_no_longer_than_the_lag_bound(
    topo: Topology,
    client: httpx.Client,
    urls: list[str],
    writer_key: str,
    reader_key: str,
    admin_key: str,
    make_shipment: Callable[..., dict[str, Any]],
) -> None:
    a, b = urls
    max_lag = 5.0  # REPLICA_MAX_LAG_SECONDS: how long a replica's fill may be served
    s = make_shipment(writer_key, url=a)
    item = f"/api/shipments/{s['id']}"
    wait_for(
        lambda: topo.replica_sql(f"SELECT version FROM shipments WHERE id = '{s['id']}'") == "1",
        what="the row on the replica",
    )
    _cache_everywhere(client, urls, item, reader_key, 1)
    for url in urls:  # a test before may have left the replica out of the pool for a moment
        wait_for(
            lambda u=url: detailed(client, u, admin_key)["replicas"][0]["in_read_pool"],
            interval=0.5,
            what="the replica in the read pool",
        )
    topo.replica_sql("SELECT pg_wal_replay_pause()")
    try:
        assert (
            client.patch(
                f"{a}{item}", json={"origin": "Porto"}, headers=auth(writer_key, **{"If-Match": '"1"'})
            ).status_code
            == 200
        )
        # Redis loses everything (a flush; a restart without persistence does the same): version 2's
        # write-through is gone, and nothing newer is left to refuse a fill of version 1.
        redis.Redis.from_url(topo.redis_url).flushall()
        filled = client.get(f"{b}{item}", headers=auth(reader_key))
        filled_at = time.monotonic()
        # Within the lag bound a reader may be answered what the replica has (version 1)...
        assert filled.json()["version"] == 1, "the read must have filled from the lagging replica"
    finally:
        topo.replica_sql("SELECT pg_wal_replay_resume()")
    wait_for(
        lambda: topo.replica_sql(f"SELECT version FROM shipments WHERE id = '{s['id']}'") == "2",
        what="the replica caught up",
    )
    # ...but not for the cache TTL (300 s): once the fill's life (the lag bound) is over, everyone
    # gets version 2.
    time.sleep(max(0.0, filled_at + max_lag + 0.5 - time.monotonic()))
    for url in urls:
        seen = client.get(f"{url}{item}", headers=auth(reader_key)).json()
        assert seen["version"] == 2 and seen["origin"] == "Porto", (url, seen["version"])
