"""app room: opaque pagination cursors (keyset on created_at, id), and their strict decoding.

A cursor is base64url(JSON [created_at ISO-8601, id]). Anything else is a client error naming `cursor`.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from datetime import datetime


class CursorError(ValueError):
    """The cursor query parameter is not one this API produced."""


def encode_cursor(created_at: datetime, row_id: uuid.UUID) -> str:
    raw = json.dumps([created_at.isoformat(), str(row_id)], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    """Inverse of encode_cursor; raises CursorError on any malformed input."""
    if not cursor or len(cursor) > 200:
        raise CursorError("cursor is empty or too long")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created, row_id = json.loads(raw)
        when = datetime.fromisoformat(created)
        if when.tzinfo is None:
            raise CursorError("cursor timestamp lacks a timezone")
        return when, uuid.UUID(row_id)
    except CursorError:
        raise
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError) as exc:
        raise CursorError("cursor is not valid") from exc
