"""app tests room: 50 clients race to update one shipment through both app processes: optimistic
locking must lose no update (final version = 1 + successes; successes + 409s = 50)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx

from local_topology.topology import Topology

from .conftest import auth


def test_fifty_concurrent_conflicting_patches_lose_no_update(
    topo: Topology, urls: list[str], writer_key: str, make_shipment: Callable[..., dict[str, Any]]
) -> None:
    s = make_shipment(writer_key)
    keys = topo.create_keys("writer", 50, "race")  # 50 distinct clients, each within its own write limit

    async def race() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=100)
        async with httpx.AsyncClient(timeout=30, limits=limits) as client:
            start = asyncio.Event()

            async def one(i: int) -> httpx.Response:
                url = f"{urls[i % 2]}/api/shipments/{s['id']}"
                await start.wait()
                # read-modify-write: each client sends the version it read (many read the same one)
                current = await client.get(url, headers=auth(keys[i]))
                version = current.json()["version"]
                return await client.patch(
                    url, json={"origin": f"client-{i}"}, headers=auth(keys[i], **{"If-Match": f'"{version}"'})
                )

            tasks = [asyncio.create_task(one(i)) for i in range(50)]
            await asyncio.sleep(0.05)
            start.set()
            return await asyncio.gather(*tasks)

    responses = asyncio.run(race())
    codes = [r.status_code for r in responses]
    successes = [r.json() for r in responses if r.status_code == 200]
    conflicts = [r.json() for r in responses if r.status_code == 409]
    assert len(successes) + len(conflicts) == 50, codes
    assert successes, "at least one update must win"
    # every success produced a distinct version: no two updates were applied on top of the same one
    assert sorted(x["version"] for x in successes) == list(range(2, 2 + len(successes)))
    assert all(c["current_version"] >= 2 for c in conflicts)

    with httpx.Client() as client:
        final = client.get(f"{urls[0]}/api/shipments/{s['id']}", headers=auth(topo.create_key("reader"))).json()
    assert final["version"] == 1 + len(successes)
    winner = max(successes, key=lambda x: x["version"])
    assert final["origin"] == winner["origin"]
    assert topo.primary_sql(f"SELECT version FROM shipments WHERE id = '{s['id']}'", db="shipments") == str(
        final["version"]
    )
