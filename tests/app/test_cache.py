"""app tests room: cache-aside with the in-process L1 kept coherent across two app processes via
Redis pub/sub, and the hit rate reported by /api/metrics and /api/health/detailed."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import httpx

from stacks.local import Topology

from .conftest import auth, detailed


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
