"""Tests room (app): only the CDN may reach the API — the X-Origin-Verify check."""

from __future__ import annotations

import asyncio

import httpx
from shipments.middleware import OriginGuard
from shipments.settings import SettingsError, load_settings
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

SECRET = "s3cr3t-from-cloudfront-0123456789"


def _client(secret: str | None) -> httpx.AsyncClient:
    async def ok(request):  # type: ignore[no-untyped-def]
        return JSONResponse({"ok": True})

    inner = Starlette(routes=[Route(p, ok) for p in ("/api/shipments", "/api/health", "/api/health/ready", "/metrics")])
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=OriginGuard(inner, secret)), base_url="http://app")


def _status(secret: str | None, path: str, header: str | None) -> int:
    async def go() -> int:
        async with _client(secret) as c:
            headers = {"X-Origin-Verify": header} if header is not None else {}
            r = await c.get(path, headers=headers)
            if r.status_code == 403:
                assert r.json()["field"] == "X-Origin-Verify"
            return r.status_code

    return asyncio.run(go())


def test_requests_around_the_cdn_are_refused() -> None:
    assert _status(SECRET, "/api/shipments", None) == 403
    assert _status(SECRET, "/api/shipments", "wrong-secret-value-xxxxxxxxxxxx") == 403
    assert _status(SECRET, "/api/shipments", SECRET) == 200


def test_probes_reach_pods_directly_and_nothing_else_does() -> None:
    for path in ("/api/health", "/api/health/ready"):
        assert _status(SECRET, path, None) == 200
    # Prometheus scrapes the metrics listener (shipments.server), not the API's port: here
    # /metrics is just another path the CDN's secret guards.
    assert _status(SECRET, "/metrics", None) == 403


def test_without_a_secret_configured_nothing_is_checked() -> None:
    assert _status(None, "/api/shipments", None) == 200


def test_a_short_secret_is_a_configuration_error_naming_the_variable() -> None:
    try:
        load_settings({"DATABASE_URL": "postgresql://x@y/z", "ORIGIN_VERIFY_SECRET": "short"})
    except SettingsError as exc:
        assert "ORIGIN_VERIFY_SECRET" in str(exc)
    else:
        raise AssertionError("a 5-character origin secret was accepted")
