"""app room: the inquiries routes: anyone may send one (rate-limited per client address), admins
read them.
"""

from __future__ import annotations

from typing import Annotated

import asyncpg
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response

from ..answers import page_body
from ..deps import ERRORS, SECURED, AdminReader, enforce_limit, parse_cursor, services_of
from ..forwarded import rate_limit_bucket
from ..models import InquiryCreate, InquiryCreated, InquiryPage

router = APIRouter(tags=["inquiries"])


@router.post("/api/inquiries", status_code=201, response_model=InquiryCreated, responses=ERRORS)
async def create_inquiry(body: InquiryCreate, request: Request) -> JSONResponse:
    services = services_of(request)
    client_ip = request.client.host if request.client else "unknown"
    decision, _ = await services.guard.check(
        "inquiry", rate_limit_bucket(client_ip), services.settings.rate_limit_inquiries_per_minute
    )
    enforce_limit(request, decision, "inquiry")

    async def insert(conn: asyncpg.Connection) -> asyncpg.Record:
        return await conn.fetchrow(
            "INSERT INTO inquiries (name, email, message, client_ip) VALUES ($1, $2, $3, $4) RETURNING id, created_at",
            body.name,
            body.email,
            body.message,
            client_ip,
        )

    row = await services.db.write(insert, transaction=False)
    return JSONResponse({"id": str(row["id"]), "created_at": row["created_at"].isoformat()}, 201)


@router.get("/api/inquiries", response_model=InquiryPage, responses=ERRORS, openapi_extra=SECURED)
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
