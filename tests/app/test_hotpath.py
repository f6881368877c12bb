"""app tests room: the hot path (shipments/hotpath.py) answers as the routes do, byte for byte: a
cached item, a page, and the 503 of a database that cannot answer. A request in a form the hot
path leaves to the route (an id in capitals, a limit with a leading zero) is the control."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
from shipments.hotpath import DEFAULT_LIMIT, page_query

from stacks.local import Topology

from .conftest import auth, detailed, wait_for

PER_REQUEST = {"date", "ratelimit-remaining", "x-request-id"}


def _cache(client: httpx.Client, url: str) -> dict[str, int]:
    return client.get(f"{url}/api/metrics").json()["cache"]  # type: ignore[no-any-return]


def assert_alike(fast: httpx.Response, slow: httpx.Response) -> None:
    assert fast.status_code == slow.status_code
    assert fast.content == slow.content
    assert [(k, v) for k, v in fast.headers.items() if k not in PER_REQUEST] == [
        (k, v) for k, v in slow.headers.items() if k not in PER_REQUEST
    ]


def test_page_queries_in_their_plain_form_are_read_here_and_any_other_by_the_route() -> None:
    assert page_query(b"") == (None, DEFAULT_LIMIT, None)
    assert page_query(b"limit=10") == (None, 10, None)
    assert page_query(b"status=in_transit&limit=100&cursor=abc-_9") == ("in_transit", 100, "abc-_9")
    for query in (
        b"limit=0",
        b"limit=101",
        b"limit=010",  # what int() would read, but the route decides
        b"limit=10&limit=20",
        b"limit=",
        b"limit",
        b"status=lost",
        b"status=in%5Ftransit",
        b"cursor=a%3D",
        b"cursor=" + b"a" * 201,
        b"other=1",
        b"limit=10&",
    ):
        assert page_query(query) is None, query


def test_a_cached_item_is_answered_alike(
    client: httpx.Client, urls: list[str], writer_key: str, reader_key: str, make_shipment: Callable[..., Any]
) -> None:
    s = make_shipment(writer_key, url=urls[0], destination="Tromsø")  # not ASCII: the body is UTF-8
    assert client.get(f"{urls[0]}/api/shipments?limit=1", headers=auth(reader_key)).status_code == 200  # key cached
    before = _cache(client, urls[0])
    fast, slow = (
        client.get(f"{urls[0]}/api/shipments/{id_}", headers=auth(reader_key)) for id_ in (s["id"], s["id"].upper())
    )
    after = _cache(client, urls[0])
    assert (after["hits"], after["misses"]) == (before["hits"] + 2, before["misses"]), "both reads are cache hits"
    assert_alike(fast, slow)
    assert "Tromsø".encode() in fast.content and fast.headers["etag"] == '"1"'
    assert int(fast.headers["ratelimit-remaining"]) == int(slow.headers["ratelimit-remaining"]) + 1


def test_a_page_is_answered_alike(
    topo: Topology,
    client: httpx.Client,
    urls: list[str],
    writer_key: str,
    reader_key: str,
    make_shipment: Callable[..., Any],
) -> None:
    made = [make_shipment(writer_key, origin="Hot-page") for _ in range(3)]
    wait_for(
        lambda: topo.replica_sql(f"SELECT count(*) FROM shipments WHERE id = '{made[-1]['id']}'") == "1",
        what="the rows on the replica",
    )
    url = f"{urls[1]}/api/shipments"
    first = client.get(url, params={"limit": 1}, headers=auth(reader_key)).json()
    cursor = first["next_cursor"]
    # Past a cursor no row written meanwhile can appear: both answers read the same rows.
    fast = client.get(f"{url}?cursor={cursor}&limit=2", headers=auth(reader_key))
    slow = client.get(f"{url}?cursor={cursor}&limit=02", headers=auth(reader_key))
    assert fast.status_code == 200 and len(fast.json()["items"]) == 2
    assert_alike(fast, slow)


def test_a_database_that_cannot_answer_gets_the_same_503(
    topo: Topology, client: httpx.Client, urls: list[str], reader_key: str, admin_key: str
) -> None:
    url = f"{urls[0]}/api/shipments"
    assert client.get(url, headers=auth(reader_key)).status_code == 200  # key cached
    topo.stop_service("pgbouncer")
    try:
        fast = client.get(f"{url}?limit=5", headers=auth(reader_key))
        slow = client.get(f"{url}?limit=05", headers=auth(reader_key))
    finally:
        topo.start_service("pgbouncer")
        # Back as the other tests expect it: both processes ready, reading from the replica again.
        for u in urls:
            wait_for(
                lambda u=u: (
                    client.get(f"{u}/api/health/ready").status_code == 200
                    and detailed(client, u, admin_key)["replicas"][0]["in_read_pool"]
                ),
                interval=0.5,
                what=f"{u} ready and reading from the replica",
            )
    assert fast.status_code == 503 and fast.headers["retry-after"] == "1"
    assert fast.json() == {"error": "unavailable", "message": "database unavailable"}
    assert_alike(fast, slow)
