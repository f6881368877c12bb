"""app tests room: the hot path (shipments/hotpath.py) answers as the routes do, byte for byte: a
cached item, a page, and the 503 of a database that cannot answer. A request in a form the hot
path leaves to the route (an id in capitals, a limit with a leading zero) is the control."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
from shipments.hotpath import DEFAULT_LIMIT, page_query

from local_topology.topology import Topology

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


def test_an_unexpected_error_on_the_hot_path_is_counted_under_its_route(topo: Topology) -> None:
    """A page read failing in a way nobody answers (not a 503) is a 500 the route's template counts,
    as the route's own 500 would be: dashboards and alarms by route see it."""
    import asyncio
    import uuid

    from shipments import main as api
    from shipments.auth import KeyStore, generate_key
    from shipments.cache import RedisLink, ShipmentCache
    from shipments.deps import Services
    from shipments.guard import Guard
    from shipments.metrics import METRICS
    from shipments.settings import Settings

    class Conn:
        async def fetchrow(self, _sql: str, *_args: Any) -> dict[str, Any]:  # the API key's row
            return {"id": uuid.uuid4(), "name": "hot-500", "role": "reader"}

        async def fetch(self, _sql: str, *_args: Any) -> list[Any]:
            raise RuntimeError("a failure no handler answers")

    class Db:
        async def read(self, fn: Callable[[Conn], Any], primary: bool = False) -> Any:
            return await fn(Conn())

    async def scenario() -> list[int]:
        settings = Settings(database_url="postgresql://unused/db", redis_url=topo.redis_url, metrics_port=0)
        app = api.create_app(settings)
        link = RedisLink(settings.redis_url, 1.0)
        keys = KeyStore(Db())  # type: ignore[arg-type]
        key = generate_key()
        digest = keys.digest(key)
        assert digest is not None and await keys.fetch(digest) is not None  # cached: the hot path may answer
        app.state.services = Services(
            settings, Db(), link, ShipmentCache(link, 300, 500, 300), Guard(link, 5.0), keys  # type: ignore[arg-type]
        )
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as c:
            # limit=5 is read by the hot path, limit=05 by the route: both end in the same 500.
            codes = [(await c.get(f"/api/shipments?{q}", headers=auth(key))).status_code for q in ("limit=5", "limit=05")]
        await link.client.aclose()
        return codes

    before = METRICS.http.requests.get(("GET", "/api/shipments", "500"), 0)
    assert asyncio.run(scenario()) == [500, 500]
    assert METRICS.http.requests.get(("GET", "/api/shipments", "500"), 0) == before + 2
    assert ("GET", "unmatched", "500") not in METRICS.http.requests


def test_a_column_added_to_the_table_stays_out_of_pages(
    topo: Topology,
    client: httpx.Client,
    urls: list[str],
    writer_key: str,
    reader_key: str,
    make_shipment: Callable[..., Any],
) -> None:
    """Pages are encoded straight from their rows: a later migration's column (an internal note)
    must not appear in them, on the hot path or the route, any more than in the item."""
    topo.primary_sql("ALTER TABLE shipments ADD COLUMN internal_note text DEFAULT 'not for clients'", db="shipments")
    try:
        s = make_shipment(writer_key, url=urls[0], origin="Column-test")
        wait_for(
            lambda: topo.replica_sql(f"SELECT count(*) FROM shipments WHERE id = '{s['id']}'") == "1",
            what="the row on the replica",
        )
        url = f"{urls[0]}/api/shipments"
        fast = client.get(f"{url}?limit=3", headers=auth(reader_key))
        slow = client.get(f"{url}?limit=03", headers=auth(reader_key))
        item = client.get(f"{url}/{s['id']}", headers=auth(reader_key)).json()
        for page in (fast, slow):
            assert page.status_code == 200
            assert "not for clients" not in page.text
            assert [set(i) for i in page.json()["items"]] == [set(item)] * len(page.json()["items"])
    finally:
        topo.primary_sql("ALTER TABLE shipments DROP COLUMN internal_note", db="shipments")
