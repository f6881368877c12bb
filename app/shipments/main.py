"""app room: the Shipments API: FastAPI factory `create_app`, the module-level ASGI `app`, routes,
middleware (request id, JSON access log, metrics, security headers, body limit) and health.
"""

from __future__ import annotations

import asyncio
import gc
import hmac
import logging
import os
import re
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Annotated, Any

import asyncpg
from fastapi import FastAPI, Header, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .answers import database_unavailable, document, page_body, shipments_page, statement_cancelled
from .auth import KEYS_CHANNEL, KeyStore
from .cache import RedisLink, ShipmentCache
from .db import Database, DatabaseUnavailable
from .deps import (
    ERRORS,
    LIFECYCLE,
    SECURED,
    AdminReader,
    Reader,
    Services,
    Writer,
    enforce_limit,
    error_body,
    parse_cursor,
    parse_if_match,
    row_to_shipment,
    services_of,
)
from .forwarded import ClientAddress, rate_limit_bucket
from .guard import Guard
from .hotpath import HotReads
from .logs import ACCESS_LOG, REQUEST_ID, configure_logging
from .metrics import METRICS
from .models import (
    InquiryCreate,
    InquiryCreated,
    InquiryPage,
    Shipment,
    ShipmentCreate,
    ShipmentPage,
    ShipmentUpdate,
    Status,
)
from .settings import APP_VERSION, Settings, load_settings

log = logging.getLogger("shipments.api")

SECURITY_HEADERS = [
    (b"strict-transport-security", b"max-age=63072000; includeSubDomains"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
]
_REQUEST_ID = re.compile(rb"[A-Za-z0-9._-]{1,128}")
# Metric labels take only these methods, so a server that parses any token as a method (h11 does)
# could not grow the series without bound.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int):
        super().__init__(
            413,
            detail={
                "error": "body_too_large",
                "message": f"request body over {limit} bytes",
                "field": "body",
            },
        )


class Observability:
    """Pure ASGI middleware (BaseHTTPMiddleware costs a task per request): request id, body size
    limit, security and rate-limit headers, Prometheus timing by route template, JSON access log.

    It runs on every request, so it does each thing once and cheaply: one pass over the request
    headers, header lists appended as they are (the rate-limit headers come from the decision the
    access check left in the request state, never from the response), the access line through
    ACCESS_LOG (no per-line flush) and the HTTP metrics as plain counters (metrics.HttpCollector)."""

    def __init__(self, app: ASGIApp, max_body: int):
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        supplied = length = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                supplied = value
            elif name == b"content-length":
                length = value
        if supplied is not None and _REQUEST_ID.fullmatch(supplied):
            request_id = supplied.decode("ascii")
        else:
            request_id = os.urandom(16).hex()  # 32 hex digits, like uuid4().hex at a third of the cost
        token = REQUEST_ID.set(request_id)
        start = time.perf_counter()
        status = 500
        started = False
        state = scope.setdefault("state", {})

        async def send_wrapper(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                started = True
                status = message["status"]
                raw = message.setdefault("headers", [])
                raw.extend(SECURITY_HEADERS)
                raw.append((b"x-request-id", request_id.encode("ascii")))
                decision = state.get("ratelimit")
                if decision is not None:
                    raw.extend(decision.raw_headers())
            await send(message)

        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:
                    raise BodyTooLarge(self.max_body)
            return message

        try:
            # bytes.isdigit() is ASCII-only. The parser refuses lengths that overflow, not thousands
            # of leading zeros, and int() refuses strings of thousands of digits: strip them first;
            # more than 18 significant digits is over any limit.
            digits = length.lstrip(b"0") if length is not None and length.isdigit() else None
            if length is not None and (digits is None or len(digits) > 18 or int(digits or b"0") > self.max_body):
                code = 413 if digits is not None else 400
                body = error_body(code, "request body over the size limit" if code == 413 else "bad Content-Length")
                body["field"] = "body" if code == 413 else "Content-Length"
                await JSONResponse(body, status_code=code)(scope, receive, send_wrapper)
            else:
                await self.app(scope, limited_receive, send_wrapper)
        except Exception:
            log.exception("unhandled error", extra={"path": scope.get("path")})
            if not started:
                await JSONResponse({"error": "internal", "message": "internal error"}, status_code=500)(
                    scope, receive, send_wrapper
                )
        finally:
            elapsed = time.perf_counter() - start
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            method = scope["method"]
            # The server cut the request off (body-read timeout, oversized trailers) and answered itself.
            status = state.get("refused", status)
            METRICS.observe_request(method if method in _METHODS else "OTHER", template, status, elapsed)
            entry = {
                "method": method,
                "route": template,
                "path": scope["path"],
                "status": status,
                "duration_ms": round(elapsed * 1000, 2),
                "client": (scope.get("client") or ("?",))[0],
            }
            # Who did it and what changed: the key's id (never the key) and, for a write, the
            # shipment and the version it produced.
            if "key_id" in state:
                entry["key_id"] = state["key_id"]
            if "audit" in state:
                entry.update(state["audit"])
            ACCESS_LOG.write(entry)
            REQUEST_ID.reset(token)


ORIGIN_HEADER = b"x-origin-verify"
# Probes reach pods directly, never through the CDN. (Prometheus scrapes /metrics on a port of its
# own, METRICS_PORT, that no Service exposes: shipments.server.)
ORIGIN_EXEMPT = frozenset({"/api/health", "/api/health/ready"})


class OriginGuard:
    """Refuse requests that did not come through the CDN (no or wrong X-Origin-Verify header)."""

    def __init__(self, app: ASGIApp, secret: str | None):
        self.app = app
        self.secret = secret.encode() if secret else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.secret is None or scope["type"] != "http" or scope["path"] in ORIGIN_EXEMPT:
            await self.app(scope, receive, send)
            return
        supplied = dict(scope["headers"]).get(ORIGIN_HEADER, b"")
        if hmac.compare_digest(supplied, self.secret):
            await self.app(scope, receive, send)
            return
        body = {"error": "forbidden", "field": "X-Origin-Verify", "message": "requests must come through the CDN"}
        await JSONResponse(body, status_code=403)(scope, receive, send)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the ASGI app; settings default to the environment (read at startup, not import)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        cfg = settings or load_settings()
        configure_logging(cfg.log_level)
        db = Database(
            cfg.database_url,
            cfg.database_ro_urls,
            cfg.db_pool_min,
            cfg.db_pool_max,
            cfg.db_command_timeout,
            cfg.replica_max_lag_seconds,
            cfg.replica_check_interval_seconds,
        )
        await db.start()
        link = RedisLink(cfg.redis_url, cfg.redis_socket_timeout)
        cache = ShipmentCache(link, cfg.cache_ttl_seconds, cfg.l1_cache_size, cfg.l1_cache_ttl_seconds)
        keys = KeyStore(db, accept_legacy=cfg.accept_legacy_api_keys)
        services = Services(cfg, db, link, cache, Guard(link, cfg.read_your_writes_seconds), keys)
        # Revocations ride on the cache's invalidation subscription; on (re)subscribing, notices
        # sent meanwhile may have been missed, so no cached key is trusted.
        cache.listen(KEYS_CHANNEL, lambda data: _on_revocation(keys, data))
        cache.on_subscribed.append(keys.clear)
        await link.ping()
        cache.start()
        services.tasks.append(asyncio.create_task(_redis_monitor(link), name="redis-monitor"))
        app.state.services = services
        LIFECYCLE.draining = False
        # Everything allocated so far (the framework, the models, the routes, the pools) lives as
        # long as the process: move it out of the cyclic collector's sight, so its full collections
        # stop walking it under load (64 connections: cached GET p99 54 -> 16 ms, PATCH +13 % req/s).
        gc.collect()
        gc.freeze()
        log.info("started", extra={"version": APP_VERSION, "replicas": len(cfg.database_ro_urls)})
        try:
            yield
        finally:
            for task in services.tasks:
                task.cancel()
            await cache.stop()
            await db.close()
            await link.close()
            log.info("stopped")  # its handler flushes the access lines still buffered

    app = FastAPI(
        title="Shipments API",
        version=APP_VERSION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/openapi.json",
        # No redirects: Starlette builds the Location of a trailing-slash redirect from the Host
        # header, which whoever sends the request chooses. /api/shipments/ is a plain 404.
        redirect_slashes=False,
        # The API reports through Prometheus (metrics.py) and its JSON log. FastAPI's native
        # OpenTelemetry hooks, with no provider configured, would still look the three global
        # providers up on every request (~2 % of a cached GET).
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    env_settings = settings
    cors = env_settings.cors_origins if env_settings else None
    max_body = env_settings.max_body_bytes if env_settings else None
    origin_secret = env_settings.origin_verify_secret if env_settings else None
    proxies = env_settings.forwarded_allow_ips if env_settings else ("127.0.0.1",)
    if env_settings is None:
        # The middleware stack is built before lifespan runs, so read the few knobs it needs now.
        try:
            early = load_settings()
            cors, max_body, origin_secret = early.cors_origins, early.max_body_bytes, early.origin_verify_secret
            proxies = early.forwarded_allow_ips
        except ValueError:
            cors, max_body = (), 65536
    app.add_middleware(
        CORSMiddleware,
        allow_origins=list(cors or ()),
        allow_methods=["GET", "POST", "PATCH"],
        allow_headers=["Authorization", "Content-Type", "If-Match", "X-Request-ID"],
        expose_headers=[
            "ETag",
            "Location",
            "Retry-After",
            "X-Request-ID",
            "RateLimit-Limit",
            "RateLimit-Remaining",
            "RateLimit-Reset",
            "RateLimit-Policy",
        ],
        max_age=600,
    )
    # Inside the CDN check and the bookkeeping, outside CORS and the framework.
    app.add_middleware(HotReads, state=app.state, routes=app.router.routes)
    app.add_middleware(OriginGuard, secret=origin_secret)
    app.add_middleware(Observability, max_body=max_body or 65536)
    # Outermost: the access log, the limits and the inquiries all see the real client address.
    app.add_middleware(ClientAddress, trusted=proxies, origin_secret=origin_secret)
    _install_handlers(app)
    _install_routes(app)
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        schema = generate()
        schemes = schema.setdefault("components", {}).setdefault("securitySchemes", {})
        schemes["bearer"] = {"type": "http", "scheme": "bearer", "description": "API key"}
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def _on_revocation(keys: KeyStore, data: bytes) -> None:
    try:
        key_id = str(uuid.UUID(data.decode("ascii")))
    except (ValueError, UnicodeDecodeError):
        log.warning("malformed revocation message", extra={"data": repr(data)[:100]})
        return
    keys.revoked(key_id)
    log.info("api key revoked", extra={"key_id": key_id})


async def _check_readiness(services: Services) -> tuple[int, dict[str, Any]]:
    checks: dict[str, str] = {}
    try:
        await services.db.ping_primary()
        checks["primary"] = "ok"
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


async def _redis_monitor(link: RedisLink) -> None:
    while True:
        await asyncio.sleep(1.0)
        with suppress(Exception):
            await link.ping()


def _install_handlers(app: FastAPI) -> None:
    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        body = error_body(exc.status_code, exc.detail)
        if exc.status_code == 400 and "field" not in body:
            body["field"] = "body"  # FastAPI's "error parsing the body": not JSON, not UTF-8
        return JSONResponse(body, exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = []
        for err in exc.errors():
            loc = [str(p) for p in err.get("loc", ())]
            location = loc[0] if loc else "body"
            name = ".".join(loc[1:]) if len(loc) > 1 else location
            if err.get("type") == "json_invalid":
                name = "body"
            if location == "header":
                name = {"if-match": "If-Match", "authorization": "Authorization"}.get(name, name)
            errors.append(
                {
                    "field": name,
                    "location": location,
                    "message": str(err.get("msg", "")),
                    "type": str(err.get("type", "")),
                }
            )
        first = errors[0] if errors else {"field": "body", "message": "invalid request"}
        return JSONResponse(
            {
                "error": "validation_error",
                "message": f"{first['field']}: {first['message']}",
                "field": first["field"],
                "errors": errors,
            },
            status_code=422,
        )

    @app.exception_handler(asyncpg.QueryCanceledError)
    async def cancelled(_request: Request, exc: asyncpg.QueryCanceledError) -> JSONResponse:
        return statement_cancelled(exc)

    @app.exception_handler(DatabaseUnavailable)
    async def unavailable(_request: Request, exc: DatabaseUnavailable) -> JSONResponse:
        return database_unavailable(exc)


def _install_routes(app: FastAPI) -> None:
    # --- health ------------------------------------------------------------------------------------
    @app.get("/api/health", tags=["health"])
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/api/health/ready", tags=["health"], responses={503: {"description": "not ready"}})
    async def ready(request: Request) -> JSONResponse:
        """Anonymous and cheap: at most one check of the primary and Redis per second per process,
        shared by every request meanwhile; the answer names failed parts only (details go to the log)."""
        if LIFECYCLE.draining:
            return JSONResponse({"status": "draining", "failed": ["draining"]}, 503)
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

    @app.get("/api/health/detailed", tags=["health"], responses=ERRORS, openapi_extra=SECURED)
    async def detailed(request: Request, _who: AdminReader) -> dict[str, Any]:
        """Admins only (it costs database round trips and describes the internals). Error classes,
        never driver messages (those are logged), and endpoints without credentials."""
        services = services_of(request)
        try:
            latency = await services.db.ping_primary()
            primary: dict[str, Any] = {"reachable": True, "latency_ms": round(latency * 1000, 2)}
        except Exception as exc:  # reported, not raised: this endpoint describes failures
            log.warning("primary check failed", extra={"error": f"{type(exc).__name__}: {exc}"[:300]})
            primary = {"reachable": False, "error": type(exc).__name__}
        redis_ok = await services.redis.ping()
        replicas = [
            {
                "name": r.name,
                "endpoint": r.endpoint,
                "reachable": r.reachable,
                "lag_seconds": r.lag_seconds,
                "in_read_pool": r.in_pool,
                "reason": r.reason,
                "ejections": r.ejections,
                "error": r.error,
            }
            for r in services.db.replicas
        ]
        for r in services.db.replicas:
            METRICS.replica_in_pool.labels(r.name).set(1 if r.in_pool else 0)
            if r.lag_seconds is not None:
                METRICS.replica_lag.labels(r.name).set(r.lag_seconds)
        degraded = not redis_ok or any(not r["in_read_pool"] for r in replicas)
        return {
            "status": "unavailable" if not primary["reachable"] else ("degraded" if degraded else "ok"),
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

    @app.get("/api/metrics", tags=["health"])
    async def metrics_json() -> dict[str, Any]:
        return {
            "requests_total": METRICS.requests_total,
            "requests_per_minute": METRICS.requests_last_minute(),
            "rate_limit_blocks": METRICS.blocks_total,
            "cache": {"hits": METRICS.hits, "misses": METRICS.misses, "hit_rate": METRICS.hit_rate()},
            "uptime_seconds": round(time.time() - LIFECYCLE.started, 1),
        }

    # --- shipments ---------------------------------------------------------------------------------
    @app.post(
        "/api/shipments",
        status_code=201,
        tags=["shipments"],
        response_model=Shipment,
        responses=ERRORS,
        openapi_extra=SECURED,
    )
    async def create_shipment(body: ShipmentCreate, request: Request, who: Writer) -> Response:
        services = services_of(request)

        async def insert(conn: asyncpg.Connection) -> asyncpg.Record:
            return await conn.fetchrow(
                """INSERT INTO shipments (tracking_number, origin, destination, weight_kg, status)
                   VALUES ($1, $2, $3, $4, $5) RETURNING *""",
                body.tracking_number,
                body.origin,
                body.destination,
                body.weight_kg,
                body.status,
            )

        try:
            row = await services.db.write(insert, transaction=False)
        except asyncpg.UniqueViolationError:
            raise HTTPException(
                409,
                detail={
                    "error": "conflict",
                    "field": "tracking_number",
                    "message": "a shipment with this tracking_number exists",
                },
            ) from None
        value = row_to_shipment(row)
        request.state.audit = {"shipment_id": value["id"], "version": value["version"]}
        entry = await services.cache.put(value["id"], value, publish=True, also=services.guard.mark_write(who.key_id))
        return document(entry, 201, Location=f"/api/shipments/{value['id']}")

    @app.get(
        "/api/shipments/{shipment_id}",
        tags=["shipments"],
        response_model=Shipment,
        responses=ERRORS,
        openapi_extra=SECURED,
    )
    async def get_shipment(shipment_id: uuid.UUID, request: Request, _who: Reader) -> Response:
        services = services_of(request)
        fresh = request.state.recent_writer

        async def load() -> dict[str, Any] | None:
            async def fetch(conn: asyncpg.Connection) -> asyncpg.Record | None:
                return await conn.fetchrow("SELECT * FROM shipments WHERE id = $1", shipment_id)

            row = await services.db.read(fetch, primary=fresh)
            return row_to_shipment(row) if row else None

        entry = await services.cache.get(str(shipment_id), load, skip_l1=fresh)
        if entry is None:
            raise HTTPException(
                404,
                detail={"error": "not_found", "field": "shipment_id", "message": "no shipment with this id"},
            )
        return document(entry)

    @app.get("/api/shipments", tags=["shipments"], response_model=ShipmentPage, responses=ERRORS, openapi_extra=SECURED)
    async def list_shipments(
        request: Request,
        _who: Reader,
        status: Status | None = None,
        limit: Annotated[int, Query(ge=1, le=100)] = 20,
        cursor: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    ) -> Response:
        body = await shipments_page(
            services_of(request).db, status, parse_cursor(cursor), limit, primary=request.state.recent_writer
        )
        return Response(body, media_type="application/json")

    @app.patch(
        "/api/shipments/{shipment_id}",
        tags=["shipments"],
        response_model=Shipment,
        responses=ERRORS,
        openapi_extra=SECURED,
    )
    async def update_shipment(
        shipment_id: uuid.UUID,
        body: ShipmentUpdate,
        request: Request,
        who: Writer,
        if_match: Annotated[str | None, Header(alias="If-Match")] = None,
    ) -> Response:
        services = services_of(request)
        expected = parse_if_match(if_match)
        changes = body.model_dump(exclude_unset=True)

        async def update(conn: asyncpg.Connection) -> tuple[asyncpg.Record | None, int | None]:
            row = await conn.fetchrow(
                """UPDATE shipments SET origin = COALESCE($3, origin),
                          destination = COALESCE($4, destination),
                          weight_kg = COALESCE($5, weight_kg), status = COALESCE($6, status),
                          version = version + 1, updated_at = clock_timestamp()
                   WHERE id = $1 AND version = $2 RETURNING *""",
                shipment_id,
                expected,
                changes.get("origin"),
                changes.get("destination"),
                changes.get("weight_kg"),
                changes.get("status"),
            )
            if row is not None:
                return row, None
            current = await conn.fetchval("SELECT version FROM shipments WHERE id = $1", shipment_id)
            return None, current

        # One UPDATE ... RETURNING; when it matched nothing, the version is read to tell 404 from 409.
        row, current = await services.db.write(update, transaction=False)
        if row is None:
            if current is None:
                raise HTTPException(
                    404,
                    detail={
                        "error": "not_found",
                        "field": "shipment_id",
                        "message": "no shipment with this id",
                    },
                )
            METRICS.conflicts.inc()
            raise HTTPException(
                409,
                detail={
                    "error": "conflict",
                    "field": "If-Match",
                    "current_version": current,
                    "message": f"version {expected} is stale; current is {current}",
                },
                headers={"ETag": f'"{current}"'},
            )
        value = row_to_shipment(row)
        request.state.audit = {"shipment_id": value["id"], "version": value["version"]}
        entry = await services.cache.put(value["id"], value, publish=True, also=services.guard.mark_write(who.key_id))
        return document(entry)

    # --- inquiries ---------------------------------------------------------------------------------
    @app.post("/api/inquiries", status_code=201, tags=["inquiries"], response_model=InquiryCreated, responses=ERRORS)
    async def create_inquiry(body: InquiryCreate, request: Request) -> JSONResponse:
        services = services_of(request)
        client_ip = request.client.host if request.client else "unknown"
        decision, _ = await services.guard.check(
            "inquiry", rate_limit_bucket(client_ip), services.settings.rate_limit_inquiries_per_minute
        )
        enforce_limit(request, decision, "inquiry")

        async def insert(conn: asyncpg.Connection) -> asyncpg.Record:
            return await conn.fetchrow(
                "INSERT INTO inquiries (name, email, message, client_ip) VALUES ($1, $2, $3, $4)"
                " RETURNING id, created_at",
                body.name,
                body.email,
                body.message,
                client_ip,
            )

        row = await services.db.write(insert, transaction=False)
        return JSONResponse({"id": str(row["id"]), "created_at": row["created_at"].isoformat()}, 201)

    @app.get("/api/inquiries", tags=["inquiries"], response_model=InquiryPage, responses=ERRORS, openapi_extra=SECURED)
    async def list_inquiries(
        request: Request,
        _who: AdminReader,
        limit: Annotated[int, Query(ge=1, le=100)] = 20,
        cursor: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    ) -> Response:
        services = services_of(request)
        after = parse_cursor(cursor)

        async def fetch(conn: asyncpg.Connection) -> list[asyncpg.Record]:
            return await conn.fetch(
                """SELECT id, name, email, message, created_at FROM inquiries
                   WHERE ($1::timestamptz IS NULL OR (created_at, id) < ($1, $2::uuid))
                   ORDER BY created_at DESC, id DESC LIMIT $3""",
                after[0] if after else None,
                after[1] if after else None,
                limit + 1,
            )

        rows = await services.db.read(fetch, primary=request.state.recent_writer)
        return Response(page_body(rows, limit), media_type="application/json")


app = create_app()
