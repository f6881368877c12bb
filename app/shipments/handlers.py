"""app room: the API's exception handlers, which give every error the JSON body
`{"error", "message", "field"}` (422 adds `errors`, one per field).
"""

from __future__ import annotations

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from .answers import database_unavailable, statement_cancelled
from .db import DatabaseUnavailable
from .deps import error_body


async def http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
    """An HTTPException (the routes', the framework's 404/405, the body's 413) as its error body."""
    body = error_body(exc.status_code, exc.detail)
    if exc.status_code == 400 and "field" not in body:
        body["field"] = "body"  # FastAPI's "error parsing the body": not JSON, not UTF-8
    return JSONResponse(body, exc.status_code, headers=exc.headers)


async def invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
    """A 422 naming the first invalid field, and every one in `errors`."""
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


async def cancelled(_request: Request, exc: asyncpg.QueryCanceledError) -> JSONResponse:
    """503: the database cancelled the statement (the role's statement_timeout), as the hot path answers."""
    return statement_cancelled(exc)


async def unavailable(_request: Request, exc: DatabaseUnavailable) -> JSONResponse:
    """503: no database could answer, as the hot path answers."""
    return database_unavailable(exc)


def install_handlers(app: FastAPI) -> None:
    """Register the handlers on `app`."""
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(asyncpg.QueryCanceledError, cancelled)
    app.add_exception_handler(DatabaseUnavailable, unavailable)
