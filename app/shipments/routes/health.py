"""app room: the health routes: liveness (`/api/health`), readiness (`/api/health/ready`, what the
load balancer and Kubernetes probe; 503 while draining) and the admins' `/api/health/detailed`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from ..db import PrimaryReadOnly
from ..deps import ERRORS, LIFECYCLE, SECURED, AdminReader, Services, services_of
from ..metrics import METRICS
from ..settings import APP_VERSION

log = logging.getLogger("shipments.api")
router = APIRouter(tags=["health"])


@router.get("/api/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/api/health/ready", responses={503: {"description": "not ready"}})
async def ready(request: Request) -> JSONResponse:
    """Anonymous and cheap: at most one check of the primary and Redis per second per process,
    shared by every request meanwhile; the answer names failed parts only (details go to the log)."""
    if LIFECYCLE.draining:
        return JSONResponse({"status": "draining", "failed": ["draining"]}, 503)
    if getattr(request.app.state, "services", None) is None:
        # The health listener answers before the API's lifespan has made the services.
        return JSONResponse({"status": "starting", "failed": ["starting"]}, 503)
    services = services_of(request)
    now = time.monotonic()
    if services.ready_cache and now - services.ready_cache[0] < 1.0:
        _, code, body = services.ready_cache
        return JSONResponse(body, code)
    if services.ready_check is None:
        check = asyncio.ensure_future(_check_readiness(services))
        services.ready_check = check
        check.add_done_callback(lambda _: setattr(services, "ready_check", None))
    # shield: a client that goes away must not cancel the check the others wait for.
    code, body = await asyncio.shield(services.ready_check)
    return JSONResponse(body, code)


@router.get("/api/health/detailed", responses=ERRORS, openapi_extra=SECURED)
async def detailed(request: Request, _who: AdminReader) -> dict[str, Any]:
    """Admins only (it costs database round trips and describes the internals). Error classes,
    never driver messages (those are logged), and endpoints without credentials."""
    services = services_of(request)
    try:
        latency = await services.db.ping_primary()
        primary: dict[str, Any] = {"reachable": True, "read_only": False, "latency_ms": round(latency * 1000, 2)}
    except PrimaryReadOnly:
        primary = {"reachable": True, "read_only": True, "error": "PrimaryReadOnly"}
    except Exception as exc:  # reported, not raised: this endpoint describes failures
        log.warning("primary check failed", extra={"error": f"{type(exc).__name__}: {exc}"[:300]})
        primary = {"reachable": False, "error": type(exc).__name__}
    redis_ok = await services.redis.ping()
    replicas = [
        {
            "name": r.name,
            "endpoint": r.endpoint,
            "reachable": r.reachable,
            # At most this many seconds of writes missing, measured against the primary, now (it
            # grows between checks when there is no news: what in_read_pool is decided on).
            "lag_seconds": _seconds(services.db.staleness(r)),
            "in_read_pool": services.db.serving(r),
            "reason": r.reason,
            "ejections": r.ejections,
            "error": r.error,
        }
        for r in services.db.replicas
    ]
    for r in services.db.replicas:
        METRICS.replica_in_pool.labels(r.name).set(1 if services.db.serving(r) else 0)
        if (lag := _seconds(services.db.staleness(r))) is not None:
            METRICS.replica_lag.labels(r.name).set(lag)
    degraded = not redis_ok or any(not r["in_read_pool"] for r in replicas)
    return {
        "status": "unavailable"
        if not primary["reachable"] or primary.get("read_only")
        else ("degraded" if degraded else "ok"),
        "draining": LIFECYCLE.draining,
        "primary": {"endpoint": services.db.endpoint, **primary},
        "replicas": replicas,
        "reads_from": "replica" if any(r["in_read_pool"] for r in replicas) else "primary",
        "cache": {
            **services.cache.stats(),
            "redis_reachable": redis_ok,
            "redis_error": services.redis.last_error_type,
        },
        "pools": services.db.pool_stats(),
        "rate_limit": {"blocks": METRICS.blocks_total, "backend": "redis" if redis_ok else "in-process"},
        "uptime_seconds": round(time.time() - LIFECYCLE.started, 1),
        "version": APP_VERSION,
    }


def _seconds(value: float) -> float | None:
    """A staleness for the answer: None when never measured."""
    return round(value, 3) if value != float("inf") else None


async def _check_readiness(services: Services) -> tuple[int, dict[str, Any]]:
    checks: dict[str, str] = {}
    try:
        await services.db.ping_primary()
        checks["primary"] = "ok"
    except PrimaryReadOnly:
        # It answers, but every write would fail: not ready (the address points at a standby or a
        # node in read-only mode, e.g. during a failover).
        log.warning("readiness: primary is read-only")
        checks["primary"] = "read_only"
    except Exception as exc:  # any failure means "not ready", whatever its type
        log.warning("readiness: primary failed", extra={"error": f"{type(exc).__name__}: {exc}"[:300]})
        checks["primary"] = "failed"
    checks["redis"] = "ok" if await services.redis.ping() else "failed"
    failed = [name for name, result in checks.items() if result != "ok"]
    blocking = [f for f in failed if f != "redis" or services.settings.readiness_requires_redis]
    status = "ok" if not failed else ("degraded" if failed == ["redis"] else "unavailable")
    code = 503 if blocking else 200
    body = {"status": status, "checks": checks, "failed": failed}
    services.ready_cache = (time.monotonic(), code, body)
    return code, body
