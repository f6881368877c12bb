"""app room: answers the routes (main.py) and the hot path (hotpath.py) both give, written once: a
cached shipment, a page of shipments, and the 503s of a database that cannot answer.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime

import asyncpg
from starlette.responses import JSONResponse, Response

from . import jsonbody
from .cache import CachedShipment
from .cursor import encode_cursor
from .db import Database, DatabaseUnavailable

log = logging.getLogger("shipments.api")

# Newest first, keyset pagination on (created_at, id); $4 is one more than the page, to tell
# whether another page follows. The columns are named, in the item's order (deps.row_to_shipment):
# a page is encoded straight from its rows, so a column added later must not reach the API unasked.
SHIPMENT_COLUMNS = "id, tracking_number, origin, destination, weight_kg, status, version, created_at, updated_at"
LIST_SHIPMENTS_SQL = f"""SELECT {SHIPMENT_COLUMNS} FROM shipments
   WHERE ($1::text IS NULL OR status = $1)
     AND ($2::timestamptz IS NULL OR (created_at, id) < ($2, $3::uuid))
   ORDER BY created_at DESC, id DESC LIMIT $4"""


def document(entry: CachedShipment, status: int = 200, **headers: str) -> Response:
    """A shipment's answer: its cached body as it is, with its version as a strong ETag."""
    return Response(entry.body, status, headers={"ETag": entry.etag, **headers}, media_type="application/json")


def page_body(rows: list[asyncpg.Record], limit: int) -> bytes:
    """A page of rows (`limit` + 1 were asked for), each as its columns in order: the encoder writes
    UUIDs and timestamps as deps.row_to_shipment does."""
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = encode_cursor(last["created_at"], last["id"])
    return jsonbody.dumps({"items": [dict(r) for r in rows[:limit]], "next_cursor": next_cursor})


async def shipments_page(
    db: Database, status: str | None, after: tuple[datetime, uuid.UUID] | None, limit: int, *, primary: bool
) -> bytes:
    """GET /api/shipments's body: from a replica, or the primary for a key that just wrote."""

    async def fetch(conn: asyncpg.Connection) -> list[asyncpg.Record]:
        return await conn.fetch(
            LIST_SHIPMENTS_SQL,
            status,
            after[0] if after else None,
            after[1] if after else None,
            limit + 1,
        )

    return page_body(await db.read(fetch, primary=primary), limit)


def database_unavailable(exc: DatabaseUnavailable) -> JSONResponse:
    log.warning("database unavailable", extra={"error": repr(exc.__cause__)})
    return JSONResponse({"error": "unavailable", "message": str(exc)}, 503, headers={"Retry-After": "1"})


def statement_cancelled(exc: asyncpg.QueryCanceledError) -> JSONResponse:
    # The role's 10 s statement_timeout fired: the database is overloaded, not the request wrong.
    log.warning("statement cancelled", extra={"error": str(exc)})
    return JSONResponse(
        {"error": "unavailable", "message": "the database took too long"}, 503, headers={"Retry-After": "1"}
    )
