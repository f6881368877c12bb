"""app room: the one JSON encoding of the API's documents: response bodies and the shipments kept
in the caches, which are stored as the very bytes a response carries (so a cache hit is answered
without decoding or encoding anything).

orjson, because a page of ten shipments costs 55 us through the json module and 5 us here (it
writes UUIDs and timezone-aware datetimes itself, as str() and isoformat() would). The output is
what Starlette's JSONResponse writes (compact, UTF-8), except that floats with an exponent lose its
padding ("1e-05" becomes "1e-5": the same number).
"""

from __future__ import annotations

import uuid
from typing import Any

import orjson


def _default(value: Any) -> str:
    # asyncpg's UUID subclasses uuid.UUID; orjson writes only uuid.UUID itself.
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not a JSON type of the API")


def dumps(value: Any) -> bytes:
    return orjson.dumps(value, default=_default)
