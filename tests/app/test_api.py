"""app tests room: the HTTP contract against the real topology: CRUD, pagination, auth, optimistic
locking (409/428), input validation (4xx naming the field), headers, health and metrics."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from local_topology.topology import Topology

from .conftest import CORS_ORIGIN, auth, detailed, from_address, shipment_body, unique_ip, wait_for


def test_create_get_update_shipment(client: httpx.Client, urls: list[str], writer_key: str) -> None:
    body = shipment_body()
    created = client.post(f"{urls[0]}/api/shipments", json=body, headers=auth(writer_key))
    assert created.status_code == 201
    s = created.json()
    assert s["version"] == 1 and s["status"] == "created" and s["tracking_number"] == body["tracking_number"]
    assert created.headers["etag"] == '"1"' and created.headers["location"] == f"/api/shipments/{s['id']}"
    uuid.UUID(s["id"])

    got = client.get(f"{urls[1]}/api/shipments/{s['id']}", headers=auth(writer_key))
    assert got.status_code == 200 and got.json() == s

    patched = client.patch(
        f"{urls[1]}/api/shipments/{s['id']}",
        json={"status": "in_transit", "weight_kg": 13},
        headers=auth(writer_key, **{"If-Match": '"1"'}),
    )
    assert patched.status_code == 200, patched.text
    p = patched.json()
    assert p["version"] == 2 and p["status"] == "in_transit" and p["weight_kg"] == 13 and p["origin"] == "Rotterdam"
    assert p["updated_at"] > s["updated_at"] and patched.headers["etag"] == '"2"'
    assert client.get(f"{urls[0]}/api/shipments/{s['id']}", headers=auth(writer_key)).json() == p


def test_stale_version_is_409_with_current_version(
    client: httpx.Client, urls: list[str], writer_key: str, make_shipment: Callable[..., dict[str, Any]]
) -> None:
    s = make_shipment(writer_key)
    url = f"{urls[0]}/api/shipments/{s['id']}"
    assert client.patch(url, json={"origin": "A"}, headers=auth(writer_key, **{"If-Match": '"1"'})).status_code == 200
    stale = client.patch(url, json={"origin": "B"}, headers=auth(writer_key, **{"If-Match": '"1"'}))
    assert stale.status_code == 409
    assert stale.json()["current_version"] == 2 and stale.json()["field"] == "If-Match"
    assert stale.headers["etag"] == '"2"'
    assert client.get(url, headers=auth(writer_key)).json()["origin"] == "A"


def test_update_without_if_match_is_428(
    client: httpx.Client, urls: list[str], writer_key: str, make_shipment: Callable[..., dict[str, Any]]
) -> None:
    s = make_shipment(writer_key)
    r = client.patch(f"{urls[0]}/api/shipments/{s['id']}", json={"origin": "X"}, headers=auth(writer_key))
    assert r.status_code == 428 and r.json()["field"] == "If-Match"
    bad = client.patch(
        f"{urls[0]}/api/shipments/{s['id']}",
        json={"origin": "X"},
        headers=auth(writer_key, **{"If-Match": "banana"}),
    )
    assert bad.status_code == 422 and bad.json()["field"] == "If-Match"
    assert client.get(f"{urls[0]}/api/shipments/{s['id']}", headers=auth(writer_key)).json()["version"] == 1


def test_duplicate_tracking_number_is_409(client: httpx.Client, urls: list[str], writer_key: str) -> None:
    body = shipment_body()
    assert client.post(f"{urls[0]}/api/shipments", json=body, headers=auth(writer_key)).status_code == 201
    dup = client.post(f"{urls[1]}/api/shipments", json=body, headers=auth(writer_key))
    assert dup.status_code == 409 and dup.json()["field"] == "tracking_number"


def test_unknown_shipment_is_404(client: httpx.Client, urls: list[str], writer_key: str) -> None:
    missing = uuid.uuid4()
    assert client.get(f"{urls[0]}/api/shipments/{missing}", headers=auth(writer_key)).status_code == 404
    r = client.patch(
        f"{urls[0]}/api/shipments/{missing}",
        json={"origin": "X"},
        headers=auth(writer_key, **{"If-Match": '"1"'}),
    )
    assert r.status_code == 404


def test_cursor_pagination_walks_every_item_once(
    client: httpx.Client, urls: list[str], writer_key: str, make_shipment: Callable[..., dict[str, Any]]
) -> None:
    # A status of its own would need a new enum value; cancelled ones made here are recognisable by origin.
    origin = "Page-" + uuid.uuid4().hex[:8]
    made = {make_shipment(writer_key, origin=origin, status="cancelled")["id"] for _ in range(7)}
    seen: list[dict[str, Any]] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, Any] = {"status": "cancelled", "limit": 3}
        if cursor:
            params["cursor"] = cursor
        r = client.get(f"{urls[pages % 2]}/api/shipments", params=params, headers=auth(writer_key))
        assert r.status_code == 200, r.text
        page = r.json()
        assert len(page["items"]) <= 3
        seen.extend(page["items"])
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None or made <= {s["id"] for s in seen}:
            break
    ids = [s["id"] for s in seen]
    assert len(ids) == len(set(ids)), "an item appeared on two pages"
    assert made <= set(ids)
    assert all(s["status"] == "cancelled" for s in seen)
    keys = [(s["created_at"], s["id"]) for s in seen]
    assert keys == sorted(keys, reverse=True), "pages are not newest-first"
    assert pages >= 3


def test_bad_cursor_and_limit_are_4xx_naming_the_field(client: httpx.Client, urls: list[str], writer_key: str) -> None:
    r = client.get(f"{urls[0]}/api/shipments", params={"cursor": "not-a-cursor"}, headers=auth(writer_key))
    assert r.status_code == 400 and r.json()["field"] == "cursor"
    r = client.get(f"{urls[0]}/api/shipments", params={"limit": 0}, headers=auth(writer_key))
    assert r.status_code == 422 and r.json()["field"] == "limit"
    r = client.get(f"{urls[0]}/api/shipments", params={"status": "lost"}, headers=auth(writer_key))
    assert r.status_code == 422 and r.json()["field"] == "status"


def test_auth_401_and_403(
    client: httpx.Client,
    urls: list[str],
    reader_key: str,
    writer_key: str,
    admin_key: str,
    make_shipment: Callable[..., dict[str, Any]],
) -> None:
    s = make_shipment(writer_key)
    base = urls[0]
    none = client.get(f"{base}/api/shipments/{s['id']}")
    assert none.status_code == 401 and none.headers["www-authenticate"].startswith("Bearer")
    # Failed authentication counts against the client's address: these come from an address of their own.
    with from_address(unique_ip()) as stranger:
        assert stranger.get(f"{base}/api/shipments", headers=auth("shk_wrong")).status_code == 401
        basic = stranger.get(f"{base}/api/shipments", headers={"Authorization": f"Basic {reader_key}"})
        assert basic.status_code == 401
    # readers read, but may not write
    assert client.get(f"{base}/api/shipments/{s['id']}", headers=auth(reader_key)).status_code == 200
    denied = client.post(f"{base}/api/shipments", json=shipment_body(), headers=auth(reader_key))
    assert denied.status_code == 403 and denied.json()["error"] == "forbidden"
    patch = client.patch(
        f"{base}/api/shipments/{s['id']}",
        json={"origin": "X"},
        headers=auth(reader_key, **{"If-Match": '"1"'}),
    )
    assert patch.status_code == 403
    # inquiries are for admins only
    assert client.get(f"{base}/api/inquiries", headers=auth(writer_key)).status_code == 403
    assert client.get(f"{base}/api/inquiries", headers=auth(admin_key)).status_code == 200
    assert client.get(f"{base}/api/inquiries").status_code == 401


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"weight_kg": -1}, "weight_kg"),
        ({"weight_kg": 0}, "weight_kg"),
        ({"weight_kg": "heavy"}, "weight_kg"),
        ({"weight_kg": "12.5"}, "weight_kg"),  # strict: a string is not a number
        ({"status": "lost"}, "status"),
        ({"origin": ""}, "origin"),
        ({"origin": 5}, "origin"),
        ({"origin": "a\u0000b"}, "origin"),
        ({"destination": "x" * 201}, "destination"),
        ({"tracking_number": "a b"}, "tracking_number"),
        ({"colour": "red"}, "colour"),  # unknown fields are refused
    ],
)
def test_bad_shipment_input_is_422_naming_the_field(
    client: httpx.Client, urls: list[str], writer_key: str, body: dict[str, Any], field: str
) -> None:
    r = client.post(f"{urls[0]}/api/shipments", json=shipment_body(**body), headers=auth(writer_key))
    assert r.status_code == 422, r.text
    assert r.json()["field"] == field
    assert any(e["field"] == field for e in r.json()["errors"])


def test_malformed_and_oversized_bodies(
    client: httpx.Client, urls: list[str], writer_key: str, make_shipment: Callable[..., dict[str, Any]]
) -> None:
    base = urls[0]
    headers = auth(writer_key, **{"Content-Type": "application/json"})
    r = client.post(f"{base}/api/shipments", content=b'{"tracking_number": ', headers=headers)
    assert r.status_code == 422 and r.json()["field"] == "body"
    r = client.post(f"{base}/api/shipments", content=b"[1, 2]", headers=headers)
    assert r.status_code == 422
    big = shipment_body(origin="x" * 70000)
    r = client.post(f"{base}/api/shipments", json=big, headers=auth(writer_key))
    assert r.status_code == 413 and r.json()["field"] == "body"

    def chunks():  # no Content-Length: the limit must hold on the streamed body too
        yield b'{"origin": "'
        for _ in range(70):
            yield b"y" * 1000
        yield b'"}'

    r = client.post(f"{base}/api/shipments", content=chunks(), headers=headers)
    assert r.status_code == 413
    s = make_shipment(writer_key)
    r = client.patch(f"{base}/api/shipments/{s['id']}", json={}, headers=auth(writer_key, **{"If-Match": '"1"'}))
    assert r.status_code == 422
    r = client.patch(
        f"{base}/api/shipments/{s['id']}",
        json={"origin": None},
        headers=auth(writer_key, **{"If-Match": '"1"'}),
    )
    assert r.status_code == 422


def test_bad_uuid_is_422_naming_the_field(client: httpx.Client, urls: list[str], writer_key: str) -> None:
    r = client.get(f"{urls[0]}/api/shipments/not-a-uuid", headers=auth(writer_key))
    assert r.status_code == 422 and r.json()["field"] == "shipment_id"


def test_inquiries_create_and_admin_list(client: httpx.Client, urls: list[str], admin_key: str) -> None:
    msg = "Where is my parcel " + uuid.uuid4().hex
    with from_address(unique_ip()) as visitor:
        r = visitor.post(f"{urls[0]}/api/inquiries", json={"name": "Ada", "email": "ada@example.com", "message": msg})
    assert r.status_code == 201 and r.headers["ratelimit-limit"] == "5"

    def listed() -> bool:
        # The admin did not write it, so the list comes from the replica: visible once replicated.
        page = client.get(f"{urls[1]}/api/inquiries", params={"limit": 50}, headers=auth(admin_key))
        assert page.status_code == 200
        return any(i["message"] == msg and i["id"] == r.json()["id"] for i in page.json()["items"])

    wait_for(listed, timeout=5, what="the inquiry in the admin list")
    with from_address(unique_ip()) as visitor:
        bad = visitor.post(f"{urls[0]}/api/inquiries", json={"name": "Ada", "email": "nope", "message": "hi"})
    assert bad.status_code == 422 and bad.json()["field"] == "email"


def test_security_headers_request_id_and_cors(client: httpx.Client, urls: list[str]) -> None:
    r = client.get(f"{urls[0]}/api/health", headers={"X-Request-ID": "abc-123", "Origin": "https://evil.example"})
    assert r.status_code == 200 and r.json() == {"status": "ok"}
    assert r.headers["strict-transport-security"].startswith("max-age=")
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["x-frame-options"] == "DENY"
    assert "default-src 'none'" in r.headers["content-security-policy"]
    assert r.headers["x-request-id"] == "abc-123"
    assert "access-control-allow-origin" not in r.headers  # not on the allow-list
    allowed = client.options(
        f"{urls[1]}/api/shipments",
        headers={
            "Origin": CORS_ORIGIN,
            "Access-Control-Request-Method": "PATCH",
            "Access-Control-Request-Headers": "authorization,if-match",
        },
    )
    assert allowed.status_code == 200 and allowed.headers["access-control-allow-origin"] == CORS_ORIGIN
    assert "PATCH" in allowed.headers["access-control-allow-methods"]
    refused = client.options(
        f"{urls[1]}/api/shipments",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "PATCH"},
    )
    assert "access-control-allow-origin" not in refused.headers
    generated = client.get(f"{urls[0]}/api/health").headers["x-request-id"]
    assert len(generated) == 32
    # errors carry them too
    assert client.get(f"{urls[0]}/nope").headers["x-frame-options"] == "DENY"


def test_rate_limit_headers_on_every_api_response(client: httpx.Client, urls: list[str], reader_key: str) -> None:
    first = client.get(f"{urls[0]}/api/shipments", headers=auth(reader_key))
    second = client.get(f"{urls[1]}/api/shipments", headers=auth(reader_key))
    assert first.headers["ratelimit-limit"] == "100"
    assert int(first.headers["ratelimit-remaining"]) - 1 == int(second.headers["ratelimit-remaining"])


def test_health_ready_detailed_and_metrics(
    topo: Topology,
    client: httpx.Client,
    urls: list[str],
    writer_key: str,
    admin_key: str,
    make_shipment: Callable[..., dict[str, Any]],
) -> None:
    s = make_shipment(writer_key)
    client.get(f"{urls[0]}/api/shipments/{s['id']}", headers=auth(writer_key))
    ready = client.get(f"{urls[0]}/api/health/ready")
    assert ready.status_code == 200 and ready.json() == {
        "status": "ok",
        "checks": {"primary": "ok", "redis": "ok"},
        "failed": [],
    }
    d = detailed(client, urls[0], admin_key)
    assert d["primary"]["reachable"] is True and d["primary"]["latency_ms"] > 0
    assert d["replicas"][0]["in_read_pool"] is True and d["replicas"][0]["lag_seconds"] is not None
    assert d["cache"]["connected"] is True and d["cache"]["l1_capacity"] == 500
    assert d["pools"]["primary"]["size"] >= 1 and d["uptime_seconds"] > 0 and d["version"]
    assert "blocks" in d["rate_limit"]

    # Prometheus' text is on the metrics listener only, never on the API's (public) port.
    assert client.get(f"{urls[0]}/metrics").status_code == 404
    text = client.get(topo.metrics_url(urls[0])).text
    assert 'route="/api/shipments/{shipment_id}"' in text
    assert s["id"] not in text  # raw paths never become labels
    for name in (
        "http_requests_total",
        "cache_hits_total",
        "cache_misses_total",
        "rate_limit_blocks_total",
        "db_retries_total",
        "optimistic_lock_conflicts_total",
    ):
        assert name in text
    for bucket in ('le="0.05"', 'le="0.2"', 'le="0.5"'):
        assert "http_request_duration_seconds_bucket{" in text and bucket in text
    m = client.get(f"{urls[0]}/api/metrics").json()
    assert m["requests_total"] > 0 and m["requests_per_minute"] > 0
    assert set(m["cache"]) == {"hits", "misses", "hit_rate"}


def test_openapi_is_served(client: httpx.Client, urls: list[str]) -> None:
    spec = client.get(f"{urls[0]}/api/openapi.json").json()
    assert {"/api/shipments", "/api/shipments/{shipment_id}", "/api/inquiries"} <= set(spec["paths"])


def test_json_access_logs_carry_the_request_id(
    topo: Topology, client: httpx.Client, urls: list[str], reader_key: str
) -> None:
    rid = "trace-" + uuid.uuid4().hex
    assert client.get(f"{urls[0]}/api/shipments", headers=auth(reader_key, **{"X-Request-ID": rid})).status_code == 200

    def logged() -> dict[str, Any] | None:
        for line in Path(topo.services["app0"].log).read_text().splitlines():
            if rid in line:
                return json.loads(line)
        return None

    entry = wait_for(logged, timeout=5, what="the access log line")
    assert entry["request_id"] == rid and entry["status"] == 200 and entry["route"] == "/api/shipments"
    assert entry["method"] == "GET" and entry["duration_ms"] >= 0 and entry["level"] == "info"
    assert reader_key not in Path(topo.services["app0"].log).read_text(), "API keys must never be logged"
