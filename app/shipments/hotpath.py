"""app room: the API's hottest request served without the framework: GET /api/shipments/{id} whose
answer is in the process's L1, by a key already in the key cache.

Through FastAPI such a request costs more in routing, dependency resolution, exception and CORS
wrappers and response building than in anything it does: about half of its CPU. This middleware
sits inside OriginGuard and Observability (so the CDN check, request id, security headers, rate-limit
headers, metrics and access log stay theirs) and answers that one case with the cached bytes and
their ETag, doing what the route does, in the same order:

1. the key, from the key cache only (a key that needs a lookup, a bad key: the route answers);
2. the read rate limit and the read-your-writes check (Guard.admit, exactly as the route's
   dependency: counted once, whichever path answers);
3. the L1 copy, unless the key wrote in the last READ_YOUR_WRITES_SECONDS (its reads skip the L1)
   or the L1 is not trusted now.

Anything else — no L1 copy, a 429, a recent writer, an `Origin` header (CORS answers those), a
malformed id — goes on to the route, with what was already decided (PREAUTHORIZED) when the
request was counted. The route stays the contract (OpenAPI, validation, errors); a test checks
both paths answer byte for byte alike.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from .metrics import METRICS

# What the route's dependency takes instead of authenticating and counting again: a tuple
# (principal, rate-limit decision, whether its reads must go to the primary).
PREAUTHORIZED = "preauthorized"
ITEM_ROUTE = "/api/shipments/{shipment_id}"
_PREFIX = "/api/shipments/"
# The canonical form of a UUID (what the API hands out); any other spelling takes the route.
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_JSON = (b"content-type", b"application/json")
_VARY = (b"vary", b"Origin")  # what CORSMiddleware adds to an answer to a request without Origin


class CachedReads:
    def __init__(self, app: ASGIApp, state: Any, routes: list[Any]):
        self.app = app
        self.state = state  # the application's state: `services` once the lifespan has started
        self.routes = routes  # the application's routes: the item route labels what is served here
        self.route: Any = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            path: str = scope["path"]
            if path.startswith(_PREFIX) and _UUID.fullmatch(path, len(_PREFIX)):
                authorization = None
                for name, value in scope["headers"]:
                    if name == b"authorization":
                        if authorization is None:  # the route reads the first one too
                            authorization = value
                    elif name == b"origin":
                        break
                else:
                    if authorization is not None and await self._serve(
                        scope, path[len(_PREFIX) :], authorization, send
                    ):
                        return
        await self.app(scope, receive, send)

    async def _serve(self, scope: Scope, shipment_id: str, authorization: bytes, send: Send) -> bool:
        services = getattr(self.state, "services", None)
        if services is None:
            return False
        keys = services.keys
        digest = keys.bearer(authorization.decode("latin-1"))
        who = keys.cached(digest) if digest is not None else None
        if not who:
            return False
        decision, recent = await services.guard.admit(who, "read", services.settings.rate_limit_reads_per_minute)
        state = scope["state"]
        state["key_id"] = who.key_id
        state["ratelimit"] = decision
        entry = services.cache.cached(shipment_id) if decision.allowed and not recent else None
        if entry is None:
            state[PREAUTHORIZED] = (who, decision, recent)
            return False
        METRICS.hit("l1")
        if self.route is None:
            self.route = next(r for r in self.routes if getattr(r, "path", None) == ITEM_ROUTE)
        scope["route"] = self.route
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"etag", b'"%d"' % entry.version),
                    (b"content-length", b"%d" % len(entry.body)),
                    _JSON,
                    _VARY,
                ],
            }
        )
        await send({"type": "http.response.body", "body": entry.body})
        return True
