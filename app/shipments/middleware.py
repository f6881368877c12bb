"""app room: the API's ASGI middleware and the order it runs in: who the client is (forwarded.py),
Observability (request id, body size limit, security and rate-limit headers, Prometheus timing,
JSON access log), OriginGuard (only the CDN may reach the API), the hot path (hotpath.py) and CORS.
"""

from __future__ import annotations

import hmac
import logging
import os
import re
import time

from fastapi import FastAPI, HTTPException
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .db import REQUEST_STARTED
from .deps import error_body
from .forwarded import ClientAddress
from .hotpath import HotReads
from .logs import ACCESS_LOG, REQUEST_ID
from .metrics import METRICS
from .settings import Settings, load_settings

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
        # The database's time budget counts from here (the request's task ends with its context).
        REQUEST_STARTED.set(start)
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


def install_middleware(app: FastAPI, settings: Settings | None) -> None:
    """Add the middleware stack to `app`, outermost last; without `settings`, from the environment."""
    cors = settings.cors_origins if settings else None
    max_body = settings.max_body_bytes if settings else None
    origin_secret = settings.origin_verify_secret if settings else None
    proxies = settings.forwarded_allow_ips if settings else ("127.0.0.1",)
    if settings is None:
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
    # Inside the CDN check and the bookkeeping, outside CORS and the framework. The application's
    # route list itself: the routers are included after this.
    app.add_middleware(HotReads, state=app.state, routes=app.router.routes)
    app.add_middleware(OriginGuard, secret=origin_secret)
    app.add_middleware(Observability, max_body=max_body or 65536)
    # Outermost: the access log, the limits and the inquiries all see the real client address.
    app.add_middleware(ClientAddress, trusted=proxies, origin_secret=origin_secret)
