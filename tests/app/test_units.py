"""app tests room: unit tests of the pure pieces: backoff, retry loop, L1 LRU, fallback limiter,
cursor encoding, settings parsing, rate-limit headers, migrations naming."""

from __future__ import annotations

import asyncio
import random
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from shipments.backoff import backoff_delay, retry_async
from shipments.cursor import CursorError, decode_cursor, encode_cursor
from shipments.lru import VersionedLRU
from shipments.migrate import migration_files
from shipments.ratelimit import Decision, LocalSlidingWindow, decision_from_redis
from shipments.settings import SettingsError, load_settings


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# --- backoff -----------------------------------------------------------------------------------------
def test_backoff_grows_exponentially_and_is_capped() -> None:
    rng = random.Random(7)
    for attempt in range(12):
        ceiling = min(0.5, 0.01 * 2**attempt)
        samples = [backoff_delay(attempt, base=0.01, cap=0.5, rng=rng) for _ in range(200)]
        assert all(0 <= s <= ceiling for s in samples)
        # jitter: the delays spread over the range rather than repeating one value
        assert max(samples) > 0.7 * ceiling and min(samples) < 0.3 * ceiling
    assert backoff_delay(10_000, cap=0.5) <= 0.5
    with pytest.raises(ValueError):
        backoff_delay(-1)


def test_retry_retries_only_listed_errors_then_gives_up() -> None:
    calls: list[int] = []
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    async def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise TimeoutError("transient")
        return "done"

    assert asyncio.run(retry_async(flaky, retry_on=(TimeoutError,), attempts=5, sleep=sleep)) == "done"
    assert len(calls) == 3 and len(slept) == 2

    async def always() -> None:
        raise TimeoutError("still")

    with pytest.raises(TimeoutError):
        asyncio.run(retry_async(always, retry_on=(TimeoutError,), attempts=4, sleep=sleep))

    async def wrong() -> None:
        raise KeyError("not retried")

    calls.clear()
    with pytest.raises(KeyError):
        asyncio.run(retry_async(wrong, retry_on=(TimeoutError,), attempts=4, sleep=sleep))


# --- L1 ---------------------------------------------------------------------------------------------
def test_lru_evicts_least_recently_used_at_capacity() -> None:
    lru = VersionedLRU(maxsize=3, ttl=60)
    for k in "abc":
        lru.set(k, {"k": k}, 1)
    assert lru.get("a") == {"k": "a"}  # a is now most recent
    lru.set("d", {"k": "d"}, 1)
    assert lru.get("b") is None and lru.get("a") is not None and len(lru) == 3


def test_lru_entries_expire_after_ttl() -> None:
    clock = FakeClock()
    lru = VersionedLRU(maxsize=10, ttl=300, clock=clock)
    lru.set("a", 1, 1)
    clock.now += 299
    assert lru.get("a") == 1
    clock.now += 2
    assert lru.get("a") is None


def test_lru_refuses_a_late_stale_fill_after_invalidation() -> None:
    lru = VersionedLRU(maxsize=10, ttl=300)
    lru.set("s", {"v": 1}, 1)
    lru.invalidate("s", 2)  # another process wrote version 2
    assert lru.get("s") is None
    assert lru.set("s", {"v": 1}, 1) is False  # a read from a lagging replica arrives late
    assert lru.get("s") is None
    assert lru.set("s", {"v": 2}, 2) is True
    assert lru.get("s") == {"v": 2}
    lru.invalidate("s", 3)
    assert lru.get("s") is None
    assert lru.set("s", {"v": 3}, 3) and lru.get("s") == {"v": 3}


# --- fallback limiter -----------------------------------------------------------------------------------
def test_local_limiter_is_exact_at_the_boundary_and_slides() -> None:
    clock = FakeClock()
    limiter = LocalSlidingWindow(clock=clock)
    decisions = [limiter.hit("ip", 5) for _ in range(6)]
    assert [d.allowed for d in decisions] == [True] * 5 + [False]
    assert [d.remaining for d in decisions[:5]] == [4, 3, 2, 1, 0]
    assert decisions[5].reset_seconds == 60 and decisions[5].headers()["Retry-After"] == "60"
    clock.now += 30
    assert not limiter.hit("ip", 5).allowed
    assert limiter.hit("other", 5).allowed  # keys are independent
    clock.now += 30.001
    assert limiter.hit("ip", 5).allowed


def test_local_limiter_bounds_the_number_of_keys() -> None:
    limiter = LocalSlidingWindow(max_keys=100)
    for i in range(1000):
        limiter.hit(f"k{i}", 5)
    assert len(limiter._logs) == 100


def test_decision_headers() -> None:
    allowed = decision_from_redis([1, 3, 0], 5)
    assert allowed.headers() == {
        "RateLimit-Limit": "5",
        "RateLimit-Remaining": "3",
        "RateLimit-Reset": "0",
        "RateLimit-Policy": "5;w=60",
    }
    blocked = decision_from_redis([0, 0, 41_200], 5)
    assert not blocked.allowed and blocked.headers()["Retry-After"] == "42"
    assert Decision(False, 5, 0, 0).headers()["Retry-After"] == "1"  # never tell a client to retry at 0


# --- cursors --------------------------------------------------------------------------------------------
def test_cursor_round_trip() -> None:
    when = datetime(2026, 11, 22, 9, 30, 1, 123456, tzinfo=UTC)
    rid = uuid.uuid4()
    assert decode_cursor(encode_cursor(when, rid)) == (when, rid)


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "!!!",
        "bm90IGpzb24",
        "WyJ4Il0",
        "WyIyMDI2LTAxLTAxIiwibm90LWEtdXVpZCJd",
        "x" * 500,
        # valid JSON pair but a naive timestamp
        "WyIyMDI2LTAxLTAxVDAwOjAwOjAwIiwiMDAwMDAwMDAtMDAwMC0wMDAwLTAwMDAtMDAwMDAwMDAwMDAwIl0",
    ],
)
def test_bad_cursors_are_rejected(bad: str) -> None:
    with pytest.raises(CursorError):
        decode_cursor(bad)


# --- settings -------------------------------------------------------------------------------------------
def test_settings_read_env_and_name_bad_variables() -> None:
    s = load_settings(
        {
            "DATABASE_URL": "postgresql://u@h/db",
            "DATABASE_RO_URL": "postgresql://a/x, postgresql://b/x",
            "CORS_ORIGINS": "https://a.example",
            "RATE_LIMIT_READS_PER_MINUTE": "7",
        }
    )
    assert s.database_ro_urls == ("postgresql://a/x", "postgresql://b/x")
    assert s.cors_origins == ("https://a.example",) and s.rate_limit_reads_per_minute == 7
    assert s.rate_limit_writes_per_minute == 20 and s.l1_cache_size == 500
    with pytest.raises(SettingsError, match="DATABASE_URL"):
        load_settings({})
    with pytest.raises(SettingsError, match="RATE_LIMIT_WRITES_PER_MINUTE='zero'"):
        load_settings({"DATABASE_URL": "postgresql://u@h/db", "RATE_LIMIT_WRITES_PER_MINUTE": "zero"})


def test_migration_files_are_ordered_and_named(tmp_path: Path) -> None:
    names = [v for v, _ in migration_files()]
    assert names == sorted(names) and names[0] == "0001_initial"
    (tmp_path / "2_bad.sql").write_text("SELECT 1")
    with pytest.raises(ValueError, match=r"NNNN_name\.sql"):
        migration_files(tmp_path)


# --- single flight ---------------------------------------------------------------------------------------
def test_concurrent_misses_share_one_load_and_errors_reach_every_waiter() -> None:
    from shipments.cache import RedisLink, ShipmentCache

    async def scenario() -> None:
        link = RedisLink("redis://127.0.0.1:1/0", 0.1)
        link.down_until = float("inf")  # Redis unavailable: every get is a miss
        cache = ShipmentCache(link, ttl=60, l1_size=10, l1_ttl=60)
        loads = 0

        async def loader() -> dict[str, int]:
            nonlocal loads
            loads += 1
            await asyncio.sleep(0.05)
            return {"version": 1, "n": loads}

        results = await asyncio.gather(*(cache.get("k", loader) for _ in range(20)))
        assert loads == 1 and all(r == {"version": 1, "n": 1} for r in results)

        async def failing() -> None:
            nonlocal loads
            loads += 1
            await asyncio.sleep(0.05)
            raise ConnectionError("db down")

        outcomes = await asyncio.gather(*(cache.get("e", failing) for _ in range(5)), return_exceptions=True)
        assert loads == 2 and all(isinstance(o, ConnectionError) for o in outcomes)
        # the failure is not cached: the next miss loads again
        assert await cache.get("e", loader) == {"version": 1, "n": 3}
        await link.close()

    asyncio.run(scenario())
