"""app tests room: cache-aside with the in-process L1 kept coherent across two app processes via
Redis pub/sub (also when the writer could not reach Redis, and after Redis forgot its scripts), and
the hit rate reported by /api/metrics and /api/health/detailed."""

from __future__ import annotations

import asyncio
import re
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import redis
from shipments import cache as cache_module
from shipments.cache import CHANNEL, FLUSH_L1, KEY_PREFIX, RedisLink, ShipmentCache

from local_topology.topology import Topology

from .conftest import auth, detailed, wait_for
from .relay import Relay


def _l1_hits(topo: Topology, client: httpx.Client, url: str) -> float:
    text = client.get(topo.metrics_url(url)).text
    match = re.search(r'^cache_hits_total\{layer="l1"\} (\S+)$', text, re.M)
    return float(match.group(1)) if match else 0.0


def test_invalidation_is_seen_across_processes_and_hits_are_reported(
    topo: Topology,
    client: httpx.Client,
    urls: list[str],
    writer_key: str,
    reader_key: str,
    admin_key: str,
    make_shipment: Callable[..., dict[str, Any]],
) -> None:
    a, b = urls
    s = make_shipment(writer_key, url=a)
    item = f"/api/shipments/{s['id']}"
    before = client.get(f"{b}/api/metrics").json()["cache"]
    l1_before = _l1_hits(topo, client, b)
    # The reader never wrote, so it is served from the caches: Redis first, then B's L1.
    for _ in range(5):
        r = client.get(f"{b}{item}", headers=auth(reader_key))
        assert r.status_code == 200 and r.json()["version"] == 1
    assert _l1_hits(topo, client, b) >= l1_before + 4, "repeated reads on one process are not served from its L1"

    # Prove the next read could only be right through invalidation: the database changes behind the
    # caches' back would NOT be seen...
    topo.primary_sql(f"UPDATE shipments SET destination = 'Behind-the-back' WHERE id = '{s['id']}'", db="shipments")
    assert client.get(f"{b}{item}", headers=auth(reader_key)).json()["destination"] == "Oslo"

    # ...while a write through process A is seen at once by process B (pub/sub dropped B's L1 copy).
    patched = client.patch(f"{a}{item}", json={"origin": "Hamburg"}, headers=auth(writer_key, **{"If-Match": '"1"'}))
    assert patched.status_code == 200
    seen = client.get(f"{b}{item}", headers=auth(reader_key)).json()
    assert seen["version"] == 2 and seen["origin"] == "Hamburg"

    after = client.get(f"{b}/api/metrics").json()["cache"]
    assert after["hits"] >= before["hits"] + 6
    assert after["hit_rate"] is not None and 0 < after["hit_rate"] <= 1
    cache = detailed(client, b, admin_key)["cache"]
    assert cache["l1_size"] >= 1 and cache["hit_rate"] > 0


def test_cache_miss_is_filled_once_then_served_from_cache(
    topo: Topology,
    client: httpx.Client,
    urls: list[str],
    writer_key: str,
    reader_key: str,
    make_shipment: Callable[..., dict[str, Any]],
) -> None:
    s = make_shipment(writer_key)
    # Drop the write-through copy from Redis and both L1s via the invalidation channel.
    import redis

    r = redis.Redis.from_url(topo.redis_url)
    r.delete(f"shipment:{s['id']}")
    r.publish("shipments:invalidate", f"{s['id']}:99")
    r.close()
    misses_before = client.get(f"{urls[0]}/api/metrics").json()["cache"]["misses"]
    for _ in range(3):
        assert client.get(f"{urls[0]}/api/shipments/{s['id']}", headers=auth(reader_key)).status_code == 200
    misses_after = client.get(f"{urls[0]}/api/metrics").json()["cache"]["misses"]
    assert misses_after == misses_before + 1



def _version(client: httpx.Client, url: str, key: str) -> int:
    r = client.get(url, headers=auth(key))
    assert r.status_code == 200, r.text
    return int(r.json()["version"])


def test_a_write_redis_did_not_take_reaches_the_other_processes_when_redis_answers_again(
    topo: Topology,
    client: httpx.Client,
    urls: list[str],
    writer_key: str,
    reader_key: str,
    make_shipment: Callable[..., dict[str, Any]],
) -> None:
    """The writer (its own process, reaching Redis through a proxy) loses Redis alone; its PATCH
    is committed but neither written through nor announced. Process B cannot know meanwhile; once
    the writer reaches Redis again it delivers what it owes, and B serves the new version at once
    (without that, B's L1 and Redis kept version 1 for their 300-s TTLs)."""
    b = urls[1]
    proxy = Relay(topo.ports["redis"])
    name = f"app-redis-proxy-{time.monotonic_ns()}"
    writer = topo.start_app(name=name, env={"REDIS_URL": f"redis://127.0.0.1:{proxy.port}/0"})
    try:
        s = make_shipment(writer_key, url=b)
        item = f"{b}/api/shipments/{s['id']}"
        for _ in range(3):  # B holds version 1 in its L1 (its hot path answers from it)
            assert _version(client, item, reader_key) == 1

        proxy.cut()
        patched = client.patch(
            f"{writer}/api/shipments/{s['id']}",
            json={"origin": "Hamburg"},
            headers=auth(writer_key, **{"If-Match": '"1"'}),
        )
        assert patched.status_code == 200 and patched.json()["version"] == 2, patched.text
        # The window the README documents: B was never told, so it still answers version 1.
        assert _version(client, item, reader_key) == 1

        proxy.restore()
        restored = time.monotonic()
        # (polled gently: the reader key may read 100 times a minute)
        wait_for(lambda: _version(client, item, reader_key) == 2, timeout=10, interval=0.3, what="B to serve v2")
        assert time.monotonic() - restored < 10
        assert client.get(item, headers=auth(reader_key)).json()["origin"] == "Hamburg"
        cached = redis.Redis.from_url(topo.redis_url)
        try:
            raw = cached.get(f"{KEY_PREFIX}{s['id']}")
        finally:
            cached.close()
        assert raw is not None and raw.startswith(b"2|"), raw  # the write-through was delivered too
    finally:
        proxy.restore()
        topo.stop_service(name)
        proxy.close()


def _monitor(port: int, stop: threading.Event, lines: list[str], ready: threading.Event) -> None:
    """Every command Redis runs, as MONITOR shows it (scripts' commands as `[0 lua]`)."""
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(b"MONITOR\r\n")
        sock.settimeout(0.1)
        buffer = b""
        while not stop.is_set():
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                continue
            if not chunk:
                return
            buffer += chunk
            *done, buffer = buffer.split(b"\r\n")
            for line in done:
                if line == b"+OK":
                    ready.set()
                else:
                    lines.append(line.decode(errors="replace"))


def test_after_redis_forgot_its_scripts_the_invalidation_follows_the_write_through(
    topo: Topology,
    client: httpx.Client,
    urls: list[str],
    writer_key: str,
    make_shipment: Callable[..., dict[str, Any]],
) -> None:
    """After SCRIPT FLUSH (a Redis restart or failover) the write-through's EVALSHA fails NOSCRIPT
    and is run again after SCRIPT LOAD. The invalidation must still follow the SET: a process that
    hears it and reads Redis at once (here the test, subscribed) must find the new version, never
    the old one (MONITOR shows the order; a separate PUBLISH used to run before the rerun)."""
    a = urls[0]
    s = make_shipment(writer_key, url=a)
    message = f"{s['id']}:2"
    stop, ready = threading.Event(), threading.Event()
    lines: list[str] = []
    monitor = threading.Thread(target=_monitor, args=(topo.ports["redis"], stop, lines, ready), daemon=True)
    monitor.start()
    seen: list[bytes | None] = []
    r = redis.Redis.from_url(topo.redis_url)
    pubsub = r.pubsub()
    pubsub.subscribe(CHANNEL)
    try:
        assert ready.wait(5), "MONITOR did not start"
        wait_for(lambda: pubsub.get_message(timeout=0.1), what="the subscription")  # its confirmation
        r.script_flush()
        patched = client.patch(
            f"{a}/api/shipments/{s['id']}", json={"origin": "Hamburg"}, headers=auth(writer_key, **{"If-Match": '"1"'})
        )
        assert patched.status_code == 200, patched.text

        def heard() -> bool:
            msg = pubsub.get_message(timeout=0.1)
            if msg is not None and msg["type"] == "message" and msg["data"] == message.encode():
                seen.append(r.get(f"{KEY_PREFIX}{s['id']}"))  # what a process that heard it would read
            return bool(seen)

        wait_for(heard, timeout=5, interval=0, what="the invalidation")
        time.sleep(0.3)  # let MONITOR show the rest
    finally:
        stop.set()
        monitor.join(5)
        pubsub.close()
        r.close()
    assert seen[0] is not None and seen[0].startswith(b"2|"), seen
    writes = [i for i, line in enumerate(lines) if f'"SET" "{KEY_PREFIX}{s["id"]}" "2|' in line]
    publishes = [i for i, line in enumerate(lines) if f'"PUBLISH" "{CHANNEL}" "{message}"' in line]
    loads = [i for i, line in enumerate(lines) if '"SCRIPT" "LOAD"' in line and "string.match(cur" in line]
    assert loads, "the write-through's script was not reloaded: the scenario did not happen"
    assert writes and publishes, lines[-20:]
    assert writes[0] < publishes[0], [lines[i] for i in (*writes, *publishes)]


def test_more_owed_invalidations_than_remembered_sweep_redis_and_every_l1(
    topo: Topology, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past OWED_MAX the writer forgets the ids and owes everything: once Redis answers it drops
    every cached shipment from Redis, then tells every process to drop its L1."""
    monkeypatch.setattr(cache_module, "OWED_MAX", 2)
    stale = f"{KEY_PREFIX}stale-{time.monotonic_ns()}"
    r = redis.Redis.from_url(topo.redis_url)
    pubsub = r.pubsub()
    pubsub.subscribe(CHANNEL)
    wait_for(lambda: pubsub.get_message(timeout=0.1), what="the subscription")

    async def run() -> None:
        link = RedisLink(topo.redis_url, 1.0)
        writer = ShipmentCache(link, ttl=60, l1_size=10, l1_ttl=60)
        other = ShipmentCache(link, ttl=60, l1_size=10, l1_ttl=60)
        try:
            link.down_until = float("inf")  # Redis unreachable for the writer
            for n in range(3):
                await writer.put(f"k{n}", {"version": 2, "n": n}, publish=True)
            assert writer.owes("never-written"), "an overflow must distrust Redis for every key"
            r.set(stale, b'1|{"version": 1}')  # what it could no longer name
            link.down_until = 0.0
            await writer._settle_owed()
            assert not writer.owes("k0")
            other.l1.set("k0", "old", 1)
            other._on_invalidation(FLUSH_L1)
            assert other.l1.get("k0") is None
        finally:
            await link.close()

    try:
        asyncio.run(run())
        assert r.get(stale) is None
        assert wait_for(lambda: pubsub.get_message(timeout=0.1), what="the flush")["data"] == FLUSH_L1
    finally:
        pubsub.close()
        r.close()


def test_a_raising_pipeline_callback_strands_no_other_request(topo: Topology) -> None:
    """batch() has no timeout: a contributor or a part's callback that raises must not leave the
    other parts of the pipeline unresolved."""

    async def run() -> None:
        link = RedisLink(topo.redis_url, 1.0)
        calls = 0

        def broken_contributor() -> list[Any]:
            nonlocal calls
            calls += 1
            if calls == 1:
                raise RuntimeError("contributor")
            return [([("PING",)], lambda results: 1 / 0, lambda exc: None)]

        link.contribute(broken_contributor)
        try:
            for _ in range(2):  # first the contributor raises, then its part's callback
                assert await asyncio.wait_for(link.batch([("ECHO", "x")]), timeout=5) == [b"x"]
        finally:
            await link.close()
        assert calls == 2

    asyncio.run(run())
