"""app room: API keys: generation, hashing, and the role check behind `Authorization: Bearer`.

Keys are 256-bit random tokens, so a single SHA-256 is enough to store them safely (no password
stretching needed: there is nothing to brute-force in a 256-bit space).
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass

import asyncpg

from .db import Database

ROLES = ("reader", "writer", "admin")
RANK = {role: i for i, role in enumerate(ROLES)}
KEY_PREFIX = "shk_"


def generate_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


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
    """Looks keys up by hash with a short in-process cache (positive 30 s, negative 5 s)."""

    def __init__(self, db: Database, ttl: float = 30.0, negative_ttl: float = 5.0, size: int = 10000):
        self.db = db
        self.ttl = ttl
        self.negative_ttl = negative_ttl
        self.size = size
        self._cache: OrderedDict[str, tuple[Principal | None, float]] = OrderedDict()

    async def lookup(self, key: str) -> Principal | None:
        if not key.startswith(KEY_PREFIX) or len(key) > 100:
            return None
        digest = hash_key(key)
        hit = self._cache.get(digest)
        now = time.monotonic()
        if hit is not None and hit[1] > now:
            return hit[0]

        async def fetch(conn: asyncpg.Connection) -> asyncpg.Record | None:
            return await conn.fetchrow(
                "SELECT id, name, role FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL", digest
            )

        row = await self.db.read(fetch)
        if row is None:
            # A key created a moment ago may not have reached the replica yet.
            row = await self.db.read(fetch, primary=True)
        principal = Principal(str(row["id"]), row["name"], row["role"]) if row else None
        self._cache[digest] = (principal, now + (self.ttl if principal else self.negative_ttl))
        self._cache.move_to_end(digest)
        while len(self._cache) > self.size:
            self._cache.popitem(last=False)
        return principal


async def insert_key(conn: asyncpg.Connection, role: str, name: str) -> str:
    """Create a key with `role`; returns the clear key (shown once, only its hash is stored)."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    key = generate_key()
    await conn.execute("INSERT INTO api_keys (name, role, key_hash) VALUES ($1, $2, $3)", name, role, hash_key(key))
    return key
