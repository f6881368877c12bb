"""app room: the one JSON encoding of the API's documents: response bodies and the shipments kept
in the caches, which are stored as the very bytes a response carries (so a cache hit is answered
without decoding or encoding anything).

It is the encoding Starlette's JSONResponse uses (compact, UTF-8, no NaN), so every answer of the
API is written the same way whichever path built it.
"""

from __future__ import annotations

import json
from typing import Any


def dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")).encode("utf-8")
