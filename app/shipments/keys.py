"""app room: `python -m shipments.keys create|list|revoke`: manage API keys in the database of
DATABASE_URL. `revoke` also announces the revocation on Redis (REDIS_URL), so every app process drops
the key from its cache at once rather than when its cache entry expires (30 s).

    create --role writer [--name NAME] [--count N]   new keys, printed once, one per line (ids on stderr)
    list [--json]                                      id, name, role, format, created, revoked
    revoke KEY_ID [KEY_ID ...]                         revoke, then tell every app process
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import uuid
from datetime import UTC
from typing import Any

import asyncpg
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from .auth import KEYS_CHANNEL, ROLES, insert_key


async def create_keys_with_ids(dsn: str, role: str, name: str = "cli", count: int = 1) -> list[tuple[str, str]]:
    """Create `count` keys of `role`; returns (id, clear key) pairs."""
    conn = await asyncpg.connect(dsn, statement_cache_size=0)
    try:
        async with conn.transaction():
            return [await insert_key(conn, role, name) for _ in range(count)]
    finally:
        await conn.close()


async def create_keys(dsn: str, role: str, name: str = "cli", count: int = 1) -> list[str]:
    """Create `count` keys of `role` and return them in clear."""
    return [key for _, key in await create_keys_with_ids(dsn, role, name, count)]


def create_key(dsn: str, role: str, name: str = "cli") -> str:
    """Synchronous helper for scripts and tests."""
    return asyncio.run(create_keys(dsn, role, name))[0]


async def list_keys(dsn: str) -> list[dict[str, Any]]:
    conn = await asyncpg.connect(dsn, statement_cache_size=0)
    try:
        rows = await conn.fetch(
            "SELECT id, name, role, checksummed, created_at, revoked_at FROM api_keys ORDER BY created_at, id"
        )
    finally:
        await conn.close()
    return [
        {
            "id": str(r["id"]),
            "name": r["name"],
            "role": r["role"],
            "format": "checksummed" if r["checksummed"] else "legacy",
            "created_at": r["created_at"].astimezone(UTC).isoformat(),
            "revoked_at": r["revoked_at"].astimezone(UTC).isoformat() if r["revoked_at"] else None,
        }
        for r in rows
    ]


async def revoke_keys(dsn: str, key_ids: list[str]) -> dict[str, str]:
    """Revoke keys by id; returns {id: "revoked" | "already revoked" | "not found"}."""
    ids = [uuid.UUID(k) for k in key_ids]
    conn = await asyncpg.connect(dsn, statement_cache_size=0)
    try:
        async with conn.transaction():
            rows = await conn.fetch(
                """UPDATE api_keys SET revoked_at = COALESCE(revoked_at, now())
                   WHERE id = ANY($1::uuid[]) RETURNING id, revoked_at = now() AS now""",
                ids,
            )
    finally:
        await conn.close()
    found = {str(r["id"]): ("revoked" if r["now"] else "already revoked") for r in rows}
    return {str(k): found.get(str(k), "not found") for k in ids}


async def announce_revocations(redis_url: str, key_ids: list[str], timeout: float = 2.0) -> int:
    """Publish each id on the revocation channel; returns how many app processes heard the last one."""
    client = aioredis.Redis.from_url(redis_url, socket_timeout=timeout, socket_connect_timeout=timeout)
    try:
        heard = 0
        for key_id in key_ids:
            heard = int(await client.publish(KEYS_CHANNEL, key_id))
        return heard
    finally:
        await client.aclose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shipments.keys")
    sub = parser.add_subparsers(dest="command", required=True)
    create = sub.add_parser("create", help="create API keys and print them")
    create.add_argument("--role", choices=ROLES, required=True)
    create.add_argument("--name", default="cli")
    create.add_argument("--count", type=int, default=1)
    listing = sub.add_parser("list", help="list API keys (never the keys themselves)")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    revoke = sub.add_parser("revoke", help="revoke API keys by id and tell every app process")
    revoke.add_argument("key_ids", nargs="+", metavar="KEY_ID")
    args = parser.parse_args(argv)
    dsn = os.environ.get("DATABASE_URL")
    if not dsn:
        print("DATABASE_URL is not set", file=sys.stderr)
        return 2

    if args.command == "create":
        for key_id, key in asyncio.run(create_keys_with_ids(dsn, args.role, args.name, args.count)):
            print(f"created key {key_id} ({args.role}, {args.name})", file=sys.stderr)
            print(key)
        return 0

    if args.command == "list":
        keys = asyncio.run(list_keys(dsn))
        if args.json:
            for entry in keys:
                print(json.dumps(entry))
            return 0
        print(f"{'id':<36}  {'role':<6}  {'format':<11}  {'created (UTC)':<19}  {'revoked (UTC)':<19}  name")
        for k in keys:
            print(
                f"{k['id']:<36}  {k['role']:<6}  {k['format']:<11}  {k['created_at'][:19]:<19}  "
                f"{(k['revoked_at'] or '-')[:19]:<19}  {k['name']}"
            )
        return 0

    try:
        ids = [str(uuid.UUID(k)) for k in args.key_ids]
    except ValueError:
        print("KEY_ID must be a key's id (a UUID, see `list`), not the key itself", file=sys.stderr)
        return 2
    outcome = asyncio.run(revoke_keys(dsn, ids))
    for key_id, status in outcome.items():
        print(f"{key_id}: {status}")
    announce = [k for k, status in outcome.items() if status != "not found"]
    if announce:
        redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
        try:
            heard = asyncio.run(announce_revocations(redis_url, announce))
            print(f"announced to {heard} app process(es)", file=sys.stderr)
        except (RedisError, OSError) as exc:
            # The database is the truth: every process refuses the key once its cache entry expires.
            print(
                f"warning: revoked, but Redis could not be told ({type(exc).__name__}): app processes refuse "
                "the key within 30 s, when their cache entries expire",
                file=sys.stderr,
            )
    return 1 if "not found" in outcome.values() else 0


if __name__ == "__main__":
    raise SystemExit(main())
