"""app room: `python -m shipments.keys create --role writer [--name NAME] [--count N]`: create API
keys (printed once, one per line) in the database of DATABASE_URL.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

import asyncpg

from .auth import ROLES, insert_key


async def create_keys(dsn: str, role: str, name: str = "cli", count: int = 1) -> list[str]:
    """Create `count` keys of `role` and return them in clear."""
    conn = await asyncpg.connect(dsn, statement_cache_size=0)
    try:
        async with conn.transaction():
            return [await insert_key(conn, role, name) for _ in range(count)]
    finally:
        await conn.close()


def create_key(dsn: str, role: str, name: str = "cli") -> str:
    """Synchronous helper for scripts and tests."""
    return asyncio.run(create_keys(dsn, role, name))[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shipments.keys")
    sub = parser.add_subparsers(dest="command", required=True)
    create = sub.add_parser("create", help="create API keys and print them")
    create.add_argument("--role", choices=ROLES, required=True)
    create.add_argument("--name", default="cli")
    create.add_argument("--count", type=int, default=1)
    args = parser.parse_args(argv)
    dsn = os.environ.get("DATABASE_URL")
    if not dsn:
        print("DATABASE_URL is not set", file=sys.stderr)
        return 2
    for key in asyncio.run(create_keys(dsn, args.role, args.name, args.count)):
        print(key)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
