"""app room: opaque pagination cursors (keyset on created_at, id), and their strict decoding.

A cursor is base64url(JSON [created_at ISO-8601, id]). Anything else is a client error naming `cursor`.
Cursors are not signed: one only moves the keyset position within what the key may read anyway, so a
forged one gains nothing. It only has to be range-checked so that it cannot make the driver raise.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from datetime import UTC, datetime


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
        if not isinstance(created, str) or not isinstance(row_id, str):
            raise CursorError("cursor is not valid")
        when = datetime.fromisoformat(created)
        if when.tzinfo is None or when.utcoffset() is None:
            raise CursorError("cursor timestamp lacks a timezone")
        # asyncpg sends timestamptz as UTC: a timestamp whose UTC form leaves datetime's range
        # (0001-01-01T00:00:00+14:00) would raise OverflowError in the driver, so convert here.
        when = when.astimezone(UTC)
        return when, uuid.UUID(row_id)
    except CursorError:
        raise
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError, OverflowError) as exc:
        raise CursorError("cursor is not valid") from exc
