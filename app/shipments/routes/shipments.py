"""app room: the shipments routes: create, read (cache-aside), list (keyset pages) and update
(optimistic, If-Match). The two hottest reads are also served by hotpath.py, below the framework,
answering byte for byte as these routes do.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import asyncpg
from fastapi import APIRouter, Header, HTTPException, Query, Request
from fastapi.responses import Response

from ..answers import document, shipments_page
from ..db import DatabaseUnavailable
from ..deps import ERRORS, SECURED, Reader, Writer, parse_cursor, parse_if_match, row_to_shipment, services_of
from ..metrics import METRICS
from ..models import Shipment, ShipmentCreate, ShipmentPage, ShipmentUpdate, Status

router = APIRouter(tags=["shipments"])


@router.post(
    "/api/shipments",
    status_code=201,
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


@router.get(
    "/api/shipments/{shipment_id}",
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


@router.get("/api/shipments", response_model=ShipmentPage, responses=ERRORS, openapi_extra=SECURED)
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


@router.patch(
    "/api/shipments/{shipment_id}",
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

    async def update(conn: asyncpg.Connection) -> tuple[asyncpg.Record | None, asyncpg.Record | None]:
        # The next version is above every number an earlier primary timeline may have issued (the
        # timeline: the first 8 hex digits of the WAL file's name): after a failover to a replica
        # that missed the last writes, their versions are never issued again with other data, so an
        # If-Match or a cached copy holding one can only be refused (409), never match a new body.
        row = await conn.fetchrow(
            """UPDATE shipments SET origin = COALESCE($3, origin),
                      destination = COALESCE($4, destination),
                      weight_kg = COALESCE($5, weight_kg), status = COALESCE($6, status),
                      version = GREATEST(version + 1, (('x' || substr(pg_walfile_name(pg_current_wal_lsn()),
                                1, 8))::bit(32)::bigint - 1) << 32),
                      updated_at = clock_timestamp()
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
        # The current row, not only its version: a 409 also refreshes the caches (below).
        return None, await conn.fetchrow("SELECT * FROM shipments WHERE id = $1", shipment_id)

    # One UPDATE ... RETURNING; when it matched nothing, the row is read to tell 404 from 409.
    try:
        row, found = await services.db.write(update, transaction=False)
    except DatabaseUnavailable as exc:
        if exc.ambiguous:
            # It may have committed version expected + 1: the caches must not keep answering
            # `expected`, and the writer's reads go to the primary as after any write.
            await services.cache.forget(str(shipment_id), expected + 1, also=services.guard.mark_write(who.key_id))
        raise
    if row is None:
        if found is None:
            raise HTTPException(
                404,
                detail={
                    "error": "not_found",
                    "field": "shipment_id",
                    "message": "no shipment with this id",
                },
            )
        METRICS.conflicts.inc()
        # The client's copy was stale, and so may be what the caches hold (a write whose answer
        # was lost, a change behind the app's back): the current row replaces any older version.
        await services.cache.put(str(shipment_id), row_to_shipment(found), publish=True)
        current = found["version"]
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
