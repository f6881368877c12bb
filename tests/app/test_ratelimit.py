"""app tests room: rate limits shared by two app processes through Redis, exact at the boundary."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

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
