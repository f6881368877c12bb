"""app room: the API's two hottest requests served without the framework: GET /api/shipments/{id}
whose answer is in the process's L1, and GET /api/shipments (a page), by a key already in the key
cache.

Through FastAPI such a request costs more in routing, dependency resolution, exception and CORS
wrappers and response building than in anything it does: about half the CPU of a cached GET, a
third of a page's. This middleware sits inside OriginGuard and Observability (so the CDN check,
request id, security headers, rate-limit headers, metrics and access log stay theirs) and answers
those cases as the routes would, doing what they do in the same order:

1. the key, from the key cache only (a key that needs a lookup, a bad key: the route answers);
2. the read rate limit and the read-your-writes check (Guard.admit, exactly as the routes'
   dependency: counted once, whichever path answers);
3. the item from the L1 (unless the key wrote in the last READ_YOUR_WRITES_SECONDS: its reads
   skip the L1), or the page from a replica (the primary for such a key), through answers.py as
   the route does; a database that cannot answer gets the route's 503.

Anything else goes on to the route, with what was already decided (PREAUTHORIZED) once the request
was counted: no L1 copy, a 429, a recent writer's item read, an `Origin` header (CORS answers
those), an id or query string not in the canonical form the API hands out (the route validates and
answers 422/400 or the page). The routes stay the contract (OpenAPI, validation, errors); tests
check both paths answer byte for byte alike.
"""

from __future__ import annotations

import re
from typing import Any, get_args

import asyncpg
from starlette.types import ASGIApp, Receive, Scope, Send

from .answers import database_unavailable, shipments_page, statement_cancelled
from .cursor import CursorError, decode_cursor
from .db import DatabaseUnavailable
from .metrics import METRICS
from .models import Status

# What the route's dependency takes instead of authenticating and counting again: a tuple
# (principal, rate-limit decision, whether its reads must go to the primary).
PREAUTHORIZED = "preauthorized"
ITEM_ROUTE = "/api/shipments/{shipment_id}"
LIST_ROUTE = "/api/shipments"
_PREFIX = LIST_ROUTE + "/"
# The canonical form of a UUID (what the API hands out); any other spelling takes the route.
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# Query values the list route accepts, in their plain form (no percent-encoding, no leading zero):
# 1 <= limit <= 100, a status, a cursor of base64url characters (decode_cursor checks the rest).
_LIMIT = re.compile(rb"100|[1-9][0-9]?")
_CURSOR = re.compile(rb"[A-Za-z0-9_-]{1,200}")
_STATUSES = frozenset(s.encode() for s in get_args(Status))
DEFAULT_LIMIT = 20
_JSON = (b"content-type", b"application/json")
_VARY = (b"vary", b"Origin")  # what CORSMiddleware adds to an answer to a request without Origin


def page_query(query: bytes) -> tuple[str | None, int, str | None] | None:
    """(status, limit, cursor) of a list query string in the plain form, else None (the route then
    reads it: repeated or unknown parameters, encodings, values it refuses)."""
    status = cursor = None
    limit = DEFAULT_LIMIT
    seen: set[bytes] = set()
    for pair in query.split(b"&") if query else ():
        name, _, value = pair.partition(b"=")
        if name in seen:
            return None
        seen.add(name)
        if name == b"limit" and _LIMIT.fullmatch(value):
            limit = int(value)
        elif name == b"status" and value in _STATUSES:
            status = value.decode()
        elif name == b"cursor" and _CURSOR.fullmatch(value):
            cursor = value.decode()
        else:
            return None
    return status, limit, cursor


class HotReads:
    def __init__(self, app: ASGIApp, state: Any, routes: list[Any]):
        self.app = app
        self.state = state  # the application's state: `services` once the lifespan has started
        self.routes = routes  # the application's routes: what is served here is labelled by them
        self._labels: dict[str, Any] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            path: str = scope["path"]
            item = path.startswith(_PREFIX) and _UUID.fullmatch(path, len(_PREFIX)) is not None
            if item or path == LIST_ROUTE:
                authorization = None
                for name, value in scope["headers"]:
                    if name == b"authorization":
                        if authorization is None:  # the route reads the first one too
                            authorization = value
                    elif name == b"origin":
                        break
                else:
                    if authorization is not None:
                        served = (
                            await self._item(scope, path[len(_PREFIX) :], authorization, send)
                            if item
                            else await self._page(scope, authorization, send)
                        )
                        if served:
                            return
        await self.app(scope, receive, send)

    async def _admit(self, scope: Scope, authorization: bytes) -> tuple[Any, bool] | None:
        """(services, whether its reads go to the primary) when the read may be answered here; None
        when the route must answer (it then knows what was decided)."""
        services = getattr(self.state, "services", None)
        if services is None:
            return None
        keys = services.keys
        digest = keys.bearer(authorization.decode("latin-1"))
        who = keys.cached(digest) if digest is not None else None
        if not who:
            return None
        decision, recent = await services.guard.admit(who, "read", services.settings.rate_limit_reads_per_minute)
        state = scope["state"]
        state["key_id"] = who.key_id
        state["ratelimit"] = decision
        # Until answered here, the route takes over with what was decided.
        state[PREAUTHORIZED] = (who, decision, recent)
        return (services, recent) if decision.allowed else None

    async def _item(self, scope: Scope, shipment_id: str, authorization: bytes, send: Send) -> bool:
        self._label(scope, ITEM_ROUTE)
        admitted = await self._admit(scope, authorization)
        if admitted is None or admitted[1]:  # a recent writer's item read skips the L1: the route's
            return False
        entry = admitted[0].cache.cached(shipment_id)
        if entry is None:
            return False
        METRICS.hit("l1")
        headers = [(b"etag", b'"%d"' % entry.version), (b"content-length", b"%d" % len(entry.body)), _JSON, _VARY]
        await self._answer(scope, send, 200, headers, entry.body)
        return True

    async def _page(self, scope: Scope, authorization: bytes, send: Send) -> bool:
        query = page_query(scope["query_string"])
        if query is None:
            return False
        status, limit, cursor = query
        try:
            after = decode_cursor(cursor) if cursor is not None else None
        except CursorError:
            return False  # the route answers 400
        self._label(scope, LIST_ROUTE)
        admitted = await self._admit(scope, authorization)
        if admitted is None:
            return False
        services, recent = admitted
        try:
            body = await shipments_page(services.db, status, after, limit, primary=recent)
        except (DatabaseUnavailable, asyncpg.QueryCanceledError) as exc:
            failed = database_unavailable(exc) if isinstance(exc, DatabaseUnavailable) else statement_cancelled(exc)
            await self._answer(
                scope, send, failed.status_code, [*failed.raw_headers, _VARY], bytes(failed.body)
            )
            return True
        headers = [(b"content-length", b"%d" % len(body)), _JSON, _VARY]
        await self._answer(scope, send, 200, headers, body)
        return True

    def _label(self, scope: Scope, route: str) -> None:
        """Label the request with its route before anything can raise: an error on the way (a failed
        read, the limiter) is then counted and logged under the route's template, as the route's own
        would be, not as "unmatched". A request handed on is labelled again by the router."""
        label = self._labels.get(route)
        if label is None:
            label = self._labels[route] = next(
                r for r in self.routes if getattr(r, "path", None) == route and "GET" in getattr(r, "methods", ())
            )
        scope["route"] = label

    async def _answer(
        self, scope: Scope, send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes
    ) -> None:
        del scope["state"][PREAUTHORIZED]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
