"""app room: what the routes share: the services the lifespan wires (`Services`), the process's
lifecycle flags, the key check and rate limit every authenticated route depends on (`access`, and
its `Reader`/`Writer`/`AdminReader` aliases), the request helpers (If-Match, cursor), the shipment
row's JSON shape and the error bodies.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

import asyncpg
from fastapi import Depends, HTTPException, Request

from .auth import KeyStore, Principal
from .cache import RedisLink, ShipmentCache
from .cursor import CursorError, decode_cursor
from .db import Database
from .forwarded import rate_limit_bucket
from .guard import Guard
from .hotpath import PREAUTHORIZED
from .models import Error
from .ratelimit import Decision
from .settings import Settings


@dataclass
class Lifecycle:
    """Process-wide flags the server (SIGTERM handling) and the health endpoints share."""

    draining: bool = False
    started: float = field(default_factory=time.time)


LIFECYCLE = Lifecycle()


@dataclass
class Services:
    settings: Settings
    db: Database
    redis: RedisLink
    cache: ShipmentCache
    guard: Guard
    keys: KeyStore
    ready_cache: tuple[float, int, dict[str, Any]] | None = None
    ready_check: asyncio.Future[tuple[int, dict[str, Any]]] | None = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)


def services_of(request: Request) -> Services:
    """The services the lifespan put in the application's state."""
    return request.app.state.services  # type: ignore[no-any-return]


# --- answers --------------------------------------------------------------------------------------


def error_body(status: int, detail: Any) -> dict[str, Any]:
    """The JSON error body `{"error", "message"}` for an HTTPException's detail (a dict is taken as is)."""
    if isinstance(detail, dict):
        return detail
    slug = {
        400: "bad_request",
        401: "unauthorized",
        403: "forbidden",
        404: "not_found",
        405: "method_not_allowed",
        409: "conflict",
        413: "body_too_large",
        415: "unsupported_media_type",
        428: "precondition_required",
        429: "rate_limited",
        503: "unavailable",
    }.get(status, "error")
    return {"error": slug, "message": str(detail)}


def row_to_shipment(row: asyncpg.Record) -> dict[str, Any]:
    """A shipments row as the API's JSON object (answers.py encodes pages in the same shape)."""
    return {
        "id": str(row["id"]),
        "tracking_number": row["tracking_number"],
        "origin": row["origin"],
        "destination": row["destination"],
        "weight_kg": row["weight_kg"],
        "status": row["status"],
        "version": row["version"],
        "created_at": row["created_at"].isoformat(),
        "updated_at": row["updated_at"].isoformat(),
    }


# --- request helpers ------------------------------------------------------------------------------

# A strong ETag holding a version: 1 to 19 ASCII digits, no leading zero. Checked with a pattern
# before int(): str.isdigit() accepts "³" and int() refuses strings of thousands of digits.
_IF_MATCH = re.compile(r'"([1-9][0-9]{0,18})"', re.ASCII)
MAX_VERSION = 2**63 - 1  # the column is a PostgreSQL bigint (a timeline's versions start at 2^32 x (timeline - 1))


def parse_if_match(value: str | None) -> int:
    """The version in `If-Match: "<version>"`; 428 without the header, 422 for anything else
    (weak ETags, `*`, lists, unquoted or out-of-range numbers)."""
    if value is None:
        raise HTTPException(
            428,
            detail={
                "error": "precondition_required",
                "field": "If-Match",
                "message": 'If-Match: "<version>" is required to update',
            },
        )
    match = _IF_MATCH.fullmatch(value.strip())
    if match is None or int(match.group(1)) > MAX_VERSION:
        raise HTTPException(
            422,
            detail={
                "error": "validation_error",
                "field": "If-Match",
                "message": 'If-Match must be a strong ETag holding the version, e.g. "3"',
            },
        )
    return int(match.group(1))


def parse_cursor(cursor: str | None) -> tuple[Any, uuid.UUID] | None:
    """The keyset position of a `cursor` query parameter (None: the first page); 400 when the API
    did not produce it."""
    if cursor is None:
        return None
    try:
        return decode_cursor(cursor)
    except CursorError as exc:
        raise HTTPException(400, detail={"error": "bad_request", "field": "cursor", "message": str(exc)}) from None


# --- access control -------------------------------------------------------------------------------


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(
        401,
        detail={"error": "unauthorized", "field": "Authorization", "message": message},
        headers={"WWW-Authenticate": 'Bearer realm="shipments"'},
    )


def _auth_throttled(request: Request, decision: Decision) -> HTTPException:
    # The RateLimit-* and Retry-After headers come from the state (Observability adds them).
    request.state.ratelimit = decision
    return HTTPException(
        429,
        detail={
            "error": "rate_limited",
            "field": "Authorization",
            "message": "too many failed authentications from this address",
        },
    )


async def principal(request: Request) -> Principal:
    """The key's principal. What a stranger can make this cost is bounded: a string that cannot be a
    key (no valid checksum) or a key known to be bad is refused without a lookup, and a lookup
    happens only while the client's address is under the failed-authentication limit."""
    # The header is read directly (not as a FastAPI Header parameter): dependency resolution is a
    # measurable share of a cached GET. The OpenAPI document declares it as a bearer scheme.
    authorization = request.headers.get("authorization")
    if not authorization:
        raise _unauthorized("send Authorization: Bearer <api key>")
    services = services_of(request)
    keys = services.keys
    digest = keys.bearer(authorization)
    cached = keys.cached(digest) if digest is not None else False
    if cached:
        return cached
    client = rate_limit_bucket(request.client.host) if request.client else "unknown"
    limit = services.settings.rate_limit_auth_failures_per_minute
    if cached is False:
        # A key known to be bad: counted as a failure, no lookup.
        decision, ticket = await services.guard.auth_attempt(client, limit)
        if ticket is None:
            raise _auth_throttled(request, decision)
        raise _unauthorized("unknown or revoked API key")
    pending = keys.inflight.get(digest)  # type: ignore[arg-type]
    if pending is None:
        # This request leads the lookup of this key; requests with the same key meanwhile share its
        # outcome (one lookup, one reservation: a burst of one good key costs one slot).
        pending = asyncio.get_running_loop().create_future()
        keys.inflight[digest] = pending  # type: ignore[index]
        try:
            pending.set_result(await _look_up(services, keys, digest, client, limit))  # type: ignore[arg-type]
        except BaseException as exc:
            pending.set_exception(exc)
            pending.exception()  # retrieved: waiters re-raise it themselves
            raise
        finally:
            if keys.inflight.get(digest) is pending:  # type: ignore[arg-type]
                del keys.inflight[digest]  # type: ignore[arg-type]
    found, decision = await asyncio.shield(pending)
    if found is not None:
        return found
    if decision is not None:
        raise _auth_throttled(request, decision)
    raise _unauthorized("unknown or revoked API key")


async def _look_up(
    services: Services, keys: KeyStore, digest: str, client: str, limit: int
) -> tuple[Principal | None, Decision | None]:
    """(the key's principal or None, the throttle's refusal or None). A failure is reserved before
    the lookup and refunded when the key is found: concurrent unknown keys from one address cost at
    most the limit's worth of lookups, however many arrive at once."""
    return await services.guard.auth_lookup(client, limit, lambda: keys.fetch(digest))


def access(role: str, kind: str) -> Callable[..., Awaitable[Principal]]:
    """A dependency: the key's principal, once it has at least `role` and is under its `kind`
    ("read" or "write") rate limit."""

    async def check(request: Request) -> Principal:
        # A read the hot path (hotpath.py) authenticated and counted, then handed on: not again.
        gate = request.scope["state"].pop(PREAUTHORIZED, None) if kind == "read" else None
        who = gate[0] if gate is not None else await principal(request)
        # The access log names the key behind every authenticated request: who changed what.
        request.state.key_id = who.key_id
        if not who.allows(role):
            raise HTTPException(
                403,
                detail={
                    "error": "forbidden",
                    "field": "Authorization",
                    "message": f"this needs the {role} role; the key has {who.role}",
                },
            )
        if gate is not None:
            decision, recent = gate[1], gate[2]
        else:
            services = services_of(request)
            cfg = services.settings
            limit = cfg.rate_limit_reads_per_minute if kind == "read" else cfg.rate_limit_writes_per_minute
            decision, recent = await services.guard.admit(who, kind, limit)
        enforce_limit(request, decision, kind)
        request.state.recent_writer = recent
        return who

    return check


def enforce_limit(request: Request, decision: Decision, scope: str) -> None:
    """Record the rate-limit decision for the answer's headers; 429 when it refuses."""
    # Observability adds the decision's RateLimit-* (and on a 429 Retry-After) headers to the answer.
    request.state.ratelimit = decision
    if not decision.allowed:
        raise HTTPException(429, detail={"error": "rate_limited", "message": f"{scope} rate limit reached"})


SECURED: dict[str, Any] = {"security": [{"bearer": []}]}
Reader = Annotated[Principal, Depends(access("reader", "read"))]
Writer = Annotated[Principal, Depends(access("writer", "write"))]
AdminReader = Annotated[Principal, Depends(access("admin", "read"))]

ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": Error} for code in (400, 401, 403, 404, 409, 413, 422, 428, 429, 503)
}
