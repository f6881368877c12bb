"""app tests room: rate limits shared by two app processes through Redis: exact at the boundary for
one request at a time, and within the documented error when both processes are hammered at once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import httpx
from shipments.cache import RedisLink
from shipments.guard import Guard
from shipments.ratelimit import lease_extra_max

from local_topology.topology import Topology

from .conftest import auth, from_address, shipment_body, unique_ip


def _inquiry(n: int) -> dict[str, str]:
    return {"name": "Grace", "email": "grace@example.com", "message": f"question {n}"}


def test_sixth_inquiry_in_a_minute_is_429_across_two_processes(client: httpx.Client, urls: list[str]) -> None:
    statuses = []
    remaining = []
    with from_address(unique_ip()) as visitor:  # the limit keys on the real address
        for n in range(5):
            r = visitor.post(f"{urls[n % 2]}/api/inquiries", json=_inquiry(n))
            statuses.append(r.status_code)
            remaining.append(int(r.headers["ratelimit-remaining"]))
        sixth = visitor.post(f"{urls[1]}/api/inquiries", json=_inquiry(6))
    assert statuses == [201] * 5
    assert remaining == [4, 3, 2, 1, 0]
    assert sixth.status_code == 429
    assert sixth.json()["error"] == "rate_limited"
    assert 50 <= int(sixth.headers["retry-after"]) <= 60
    assert sixth.headers["ratelimit-remaining"] == "0"
    # the limit is per client address: another one is unaffected
    with from_address(unique_ip()) as neighbour:
        other = neighbour.post(f"{urls[0]}/api/inquiries", json=_inquiry(7))
    assert other.status_code == 201
    blocks = client.get(f"{urls[1]}/api/metrics").json()["rate_limit_blocks"]
    assert blocks >= 1


def test_writes_are_limited_to_20_per_minute_per_key(client: httpx.Client, urls: list[str], writer_key: str) -> None:
    codes = [
        client.post(f"{urls[i % 2]}/api/shipments", json=shipment_body(), headers=auth(writer_key)).status_code
        for i in range(21)
    ]
    assert codes == [201] * 20 + [429]


def test_reads_are_limited_to_100_per_minute_per_key(
    client: httpx.Client, urls: list[str], reader_key: str, writer_key: str, make_shipment: Callable[..., Any]
) -> None:
    s = make_shipment(writer_key)
    codes = [
        client.get(f"{urls[i % 2]}/api/shipments/{s['id']}", headers=auth(reader_key)).status_code for i in range(101)
    ]
    assert codes == [200] * 100 + [429]
    # another key still reads
    assert client.get(f"{urls[0]}/api/shipments/{s['id']}", headers=auth(writer_key)).status_code == 200


def test_two_processes_together_stay_within_the_documented_error_of_a_keys_limit(
    topo: Topology, urls: list[str], reader_key: str, writer_key: str, make_shipment: Callable[..., Any]
) -> None:
    # Each process leases permits of a busy key ahead (ratelimit.py); app/README.md documents the
    # bound: at most lease_extra_max(limit) per process above (or below) the limit in a window.
    error = 2 * lease_extra_max(100)
    assert error == 8, "app/README.md states 4 per process for the default read limit"
    s = make_shipment(writer_key)

    async def hammer() -> list[int]:
        async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=64)) as c:
            gate = asyncio.Semaphore(48)

            async def one(i: int) -> int:
                async with gate:
                    r = await c.get(f"{urls[i % 2]}/api/shipments/{s['id']}", headers=auth(reader_key))
                    return r.status_code

            return await asyncio.gather(*(one(i) for i in range(400)))

    codes = asyncio.run(hammer())
    assert set(codes) <= {200, 429}
    admitted = codes.count(200)
    assert 100 - error <= admitted <= 100 + error, admitted
    # Permits left unused went back to the window after LEASE_SECONDS; all told, still within the bound.
    time.sleep(1.5)
    with httpx.Client(timeout=10) as c:
        later = [c.get(f"{u}/api/shipments/{s['id']}", headers=auth(reader_key)).status_code for u in urls]
    assert admitted + later.count(200) <= 100 + error, later


def test_as_windows_slide_two_limiters_stay_within_the_documented_error(topo: Topology) -> None:
    """Two Guards are two processes' limiters on the real Redis; a 2-s window lets edges pass while
    16 clients keep asking. A permit is used at most LEASE_SECONDS after Redis counted it and a
    process holds at most lease_extra_max(limit) of them ahead, so no window (measured here a little
    shorter, so a Redis round trip cannot blur which window a permit belongs to) admits more than
    limit + 2 * lease_extra_max(limit)."""
    window, limit, blur = 2.0, 100, 0.25
    error = 2 * lease_extra_max(limit)
    ident = f"slide-{time.monotonic_ns()}"

    async def run() -> list[float]:
        links = [RedisLink(topo.redis_url, 1.0) for _ in range(2)]
        guards = [Guard(link, 0, window_seconds=window) for link in links]
        admitted: list[float] = []
        stop = time.monotonic() + 3 * window

        async def client(guard: Guard) -> None:
            while time.monotonic() < stop:
                decision, _ = await guard.check("read", ident, limit)
                if decision.allowed:
                    admitted.append(time.time())  # Redis scores permits by its clock: the same wall clock
                await asyncio.sleep(0.002)

        try:
            await asyncio.gather(*(client(guards[i % 2]) for i in range(16)))
        finally:
            for link in links:
                await link.close()
        return sorted(admitted)

    admitted = asyncio.run(run())
    busiest, start = 0, 0
    for end, at in enumerate(admitted):
        while admitted[start] <= at - (window - blur):
            start += 1
        busiest = max(busiest, end - start + 1)
    assert limit - error <= busiest <= limit + error, busiest
    assert len(admitted) >= 2 * limit, "the windows kept freeing permits as they slid"


def test_leased_permits_left_unused_go_back_and_a_quiet_key_is_counted_exactly_again(topo: Topology) -> None:
    ident = f"quiet-{time.monotonic_ns()}"

    async def run() -> list[int]:
        links = [RedisLink(topo.redis_url, 1.0) for _ in range(2)]
        a, b = (Guard(link, 0) for link in links)
        try:
            seen = [(await a.check("read", ident, 100))[0].remaining for _ in range(2)]
            # A's second request found its lease spent in time: it reserved one permit ahead.
            seen.append((await b.check("read", ident, 100))[0].remaining)
            await asyncio.sleep(1.3)  # past LEASE_SECONDS: A gives its unused permit back
            seen.append((await b.check("read", ident, 100))[0].remaining)
            seen.append((await a.check("read", ident, 100))[0].remaining)  # quiet for a second: exact
            return seen
        finally:
            for link in links:
                await link.close()

    # 99, 98 (A holds one more), 96 (B cannot see A's), then 96 and 95: three used, A's one returned.
    assert asyncio.run(run()) == [99, 98, 96, 96, 95]


def test_with_redis_unreachable_each_process_limits_from_its_own_window_within_the_stated_bound(
    topo: Topology,
    client: httpx.Client,
    urls: list[str],
    writer_key: str,
    make_shipment: Callable[..., dict[str, Any]],
    redis_stopped: None,
) -> None:
    """app/README's bound for the fallback: each process admits a key at most `limit` times per
    window from its own in-process window, so with P processes at most P x limit (here 2 x 100),
    plus what Redis admitted earlier in the same window; and never fewer than `limit` per process."""
    s = make_shipment(writer_key)
    reader = topo.create_key("reader", "fallback")
    limit = 100
    admitted = {}
    for url in urls:
        codes = [
            client.get(f"{url}/api/shipments/{s['id']}", headers=auth(reader)).status_code for _ in range(limit + 10)
        ]
        assert set(codes) <= {200, 429}
        admitted[url] = codes.count(200)
        assert codes == [200] * limit + [429] * 10, (url, codes.count(200))
    assert sum(admitted.values()) == len(urls) * limit
