"""app room: API keys: their format (a checksum, so a random string is refused without a lookup),
hashing, and the lookup behind `Authorization: Bearer` with a per-process cache that revocations
announced on Redis pub/sub clear at once.

A key is `shk_` + 40 random base62 characters (238 bits) + 6 base62 characters of the CRC-32 of what
precedes them, as GitHub's tokens do. The checksum is no secret: it only lets a typo or a random string
be refused for free; forged strings with a valid checksum still need a lookup, and failed
authentication is throttled per client address before any lookup (deps.principal). Keys are random
tokens, so a single SHA-256 is enough to store them (no password stretching: nothing to brute-force
in a 238-bit space).

Keys made before the checksum (`shk_` + 43 URL-safe characters) are "legacy": they are looked up while
ACCEPT_LEGACY_API_KEYS is true, and `python -m shipments.keys list` shows which are still active.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import secrets
import string
import time
import zlib
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import asyncpg

from .db import Database

ROLES = ("reader", "writer", "admin")
RANK = {role: i for i, role in enumerate(ROLES)}
KEY_PREFIX = "shk_"
ALPHABET = string.digits + string.ascii_letters
_BODY_LENGTH = 40
_CHECK_LENGTH = 6  # 62**6 > 2**32: any CRC-32 fits
_KEY = re.compile(rf"{KEY_PREFIX}[0-9A-Za-z]{{{_BODY_LENGTH + _CHECK_LENGTH}}}", re.ASCII)
_LEGACY = re.compile(rf"{KEY_PREFIX}[A-Za-z0-9_-]{{43}}", re.ASCII)
KEYS_CHANNEL = "apikeys:revoked"
# How long a revocation announced on KEYS_CHANNEL is remembered: a replica that has not replayed the
# revocation yet must not put the key back into the cache (a lagging replica leaves the read pool
# after REPLICA_MAX_LAG_SECONDS, far less than this).
REVOKED_MEMORY_SECONDS = 600.0

KeyFormat = Literal["checksummed", "legacy"]
V = TypeVar("V")


def _base62(number: int, width: int) -> str:
    digits = []
    for _ in range(width):
        number, rest = divmod(number, 62)
        digits.append(ALPHABET[rest])
    return "".join(reversed(digits))


def checksum(text: str) -> str:
    return _base62(zlib.crc32(text.encode("ascii")), _CHECK_LENGTH)


def generate_key() -> str:
    body = KEY_PREFIX + "".join(secrets.choice(ALPHABET) for _ in range(_BODY_LENGTH))
    return body + checksum(body)


def key_format(key: str) -> KeyFormat | None:
    """What `key` can be without looking it up: a well-formed key with a valid checksum, a legacy key,
    or (None) nothing this API ever issued."""
    if _KEY.fullmatch(key):
        return "checksummed" if checksum(key[:-_CHECK_LENGTH]) == key[-_CHECK_LENGTH:] else None
    if _LEGACY.fullmatch(key):
        return "legacy"
    return None


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class Principal:
    key_id: str
    name: str
    role: str

    def allows(self, role: str) -> bool:
        return RANK[self.role] >= RANK[role]


class KeyStore:
    """Keys by hash: a positive cache (30 s, cleared per key by revocation notices, wholly when the
    notice subscription is re-established), and a separate negative cache (5 s) so that unknown keys
    cannot evict known ones."""

    def __init__(
        self,
        db: Database,
        ttl: float = 30.0,
        negative_ttl: float = 5.0,
        size: int = 10000,
        accept_legacy: bool = True,
    ):
        self.db = db
        self.ttl = ttl
        self.negative_ttl = negative_ttl
        self.size = size
        self.accept_legacy = accept_legacy
        self._known: OrderedDict[str, tuple[Principal, float]] = OrderedDict()
        self._unknown: OrderedDict[str, float] = OrderedDict()
        self._revoked: OrderedDict[str, float] = OrderedDict()
        # Lookups in flight by digest: concurrent requests with one uncached key share one lookup
        # (and one reservation of the failed-authentication throttle: deps.principal).
        # Each: (the principal or None, the throttle's refusal or None).
        self.inflight: dict[str, asyncio.Future[tuple[Principal | None, Any]]] = {}

    def bearer(self, authorization: str) -> str | None:
        """The hash to look up the key of an `Authorization: Bearer <key>` header value by, or None
        when it holds no key this API could have issued."""
        scheme, _, key = authorization.partition(" ")
        return self.digest(key.strip()) if scheme.lower() == "bearer" else None

    def digest(self, key: str) -> str | None:
        """The hash to look `key` up by, or None when it cannot be a valid key (no lookup needed)."""
        found = key_format(key)
        if found is None or (found == "legacy" and not self.accept_legacy):
            return None
        return hash_key(key)

    def cached(self, digest: str) -> Principal | Literal[False] | None:
        """The cached principal; False when the key is known to be bad; None when a lookup is needed."""
        now = time.monotonic()
        hit = self._known.get(digest)
        if hit is not None:
            if hit[1] > now:
                return hit[0]
            del self._known[digest]
        until = self._unknown.get(digest)
        if until is not None:
            if until > now:
                return False
            del self._unknown[digest]
        return None

    async def fetch(self, digest: str) -> Principal | None:
        """Look the key up (replica, then primary for a key too new for the replica) and cache the answer."""

        async def fetch(conn: asyncpg.Connection) -> asyncpg.Record | None:
            return await conn.fetchrow(
                "SELECT id, name, role FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL", digest
            )

        row = await self.db.read(fetch)
        if row is None:
            row = await self.db.read(fetch, primary=True)
        now = time.monotonic()
        principal = Principal(str(row["id"]), row["name"], row["role"]) if row else None
        if principal is not None and self._is_revoked(principal.key_id, now):
            principal = None
        if principal is None:
            self._remember(self._unknown, digest, now + self.negative_ttl)
        else:
            self._remember(self._known, digest, (principal, now + self.ttl))
        return principal

    def _remember(self, cache: OrderedDict[str, V], key: str, value: V) -> None:
        cache[key] = value
        cache.move_to_end(key)
        while len(cache) > self.size:
            cache.popitem(last=False)

    def _is_revoked(self, key_id: str, now: float) -> bool:
        until = self._revoked.get(key_id)
        return until is not None and until > now

    def revoked(self, key_id: str) -> None:
        """A revocation notice: forget the key at once, and refuse it even from a lagging replica."""
        self._remember(self._revoked, key_id, time.monotonic() + REVOKED_MEMORY_SECONDS)
        for digest in [d for d, (p, _) in self._known.items() if p.key_id == key_id]:
            del self._known[digest]

    def clear(self) -> None:
        """Notices may have been missed while the subscription was down: trust no cached key."""
        self._known.clear()


async def insert_key(conn: asyncpg.Connection, role: str, name: str) -> tuple[str, str]:
    """Create a key with `role`; returns (its id, the clear key: shown once, only its hash is stored)."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    key = generate_key()
    key_id = await conn.fetchval(
        "INSERT INTO api_keys (name, role, key_hash, checksummed) VALUES ($1, $2, $3, true) RETURNING id",
        name,
        role,
        hash_key(key),
    )
    return str(key_id), key
