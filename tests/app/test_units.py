"""app tests room: unit tests of the pure pieces: backoff, retry loop, L1 LRU, fallback limiter,
cursor encoding, If-Match parsing, API key format, forwarded client addresses, settings parsing,
rate-limit headers, migrations naming."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import random
import subprocess
import sys
import textwrap
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi import HTTPException
from shipments.auth import generate_key, key_format
from shipments.backoff import backoff_delay, retry_async
from shipments.cursor import CursorError, decode_cursor, encode_cursor
from shipments.deps import parse_if_match
from shipments.forwarded import ClientAddress, parse_viewer_address, rate_limit_bucket
from shipments.lru import VersionedLRU
from shipments.migrate import migration_files
from shipments.ratelimit import LEASE_SECONDS, Decision, Lease, LocalSlidingWindow, decision_from_redis, lease_extra_max
from shipments.settings import SettingsError, load_settings

APP_DIR = Path(__file__).resolve().parents[2] / "app"


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


def test_lru_keeps_the_newest_tombstone_when_invalidations_arrive_out_of_order() -> None:
    lru = VersionedLRU(maxsize=10, ttl=300)
    lru.invalidate("s", 3)  # version 3's notice arrives first
    lru.invalidate("s", 2)  # then version 2's, from another pipeline
    assert lru.set("s", {"v": 2}, 2) is False  # a lagging replica's version 2 stays out
    assert lru.get("s") is None
    assert lru.set("s", {"v": 3}, 3) is True


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


def test_local_limiter_can_look_without_counting() -> None:
    limiter = LocalSlidingWindow(clock=FakeClock())
    assert all(limiter.hit("ip", 2, record=False).allowed for _ in range(5))  # looking costs nothing
    assert limiter.hit("ip", 2).allowed and limiter.hit("ip", 2).allowed
    assert not limiter.hit("ip", 2, record=False).allowed and not limiter.hit("ip", 2).allowed


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
    looked = decision_from_redis([0, 2, 0], 5, looked=True)  # need 0: only asked whether a permit is free
    assert looked.allowed and looked.remaining == 2
    assert not decision_from_redis([0, 0, 5_000], 5, looked=True).allowed
    # the ASGI form the middleware appends says the same
    for decision in (allowed, blocked, Decision(False, 5, -2, 0)):
        assert decision.raw_headers() == [
            (name.lower().encode(), value.encode()) for name, value in decision.headers().items()
        ]


def test_leases_hold_at_most_a_twentieth_of_the_limit_and_none_below_40() -> None:
    # app/README.md states these numbers
    assert [lease_extra_max(n) for n in (5, 20, 39, 40, 100, 1000, 10**9)] == [0, 0, 0, 1, 4, 49, 99]


def test_a_lease_hands_out_its_permits_with_the_remaining_count_seen_from_this_process() -> None:
    lease = Lease()
    # Redis granted 3 permits, leaving 10 in the window, no slot to wait for.
    lease.grant(3, 10, 0, "p", now=100.0)
    assert lease.expires == 100.0 + LEASE_SECONDS
    first = lease.take(100, now=100.1)
    assert first == Decision(True, 100, 12, 0)  # the two permits still held count as remaining
    assert lease.unused() == ["p:2", "p:3"]
    assert lease.take(100, now=100.2).remaining == 11 and lease.take(100, now=100.3).remaining == 10
    assert lease.left == 0 and lease.unused() == []
    # The last permits of a full window: the reset counts down to the slot Redis said frees first.
    lease.grant(1, 0, 30_000, "q", now=200.0)
    assert lease.take(100, now=210.0) == Decision(True, 100, 0, 20)


# --- JSON bodies ------------------------------------------------------------------------------------------
def test_rows_encode_as_row_to_shipment_and_the_json_module_would() -> None:
    from asyncpg.pgproto.pgproto import UUID as PgUUID
    from shipments import jsonbody
    from shipments.deps import row_to_shipment

    when = datetime(2026, 11, 29, 1, 52, 34, 184139, tzinfo=UTC)
    row = {
        "id": PgUUID(str(uuid.uuid4())),  # what asyncpg hands out: a uuid.UUID subclass
        "tracking_number": "TN-1",
        "origin": "Tromsø",
        "destination": "Oslo",
        "weight_kg": 12.5,
        "status": "created",
        "version": 3,
        "created_at": when,
        "updated_at": when.replace(microsecond=0),
    }
    expected = json.dumps(row_to_shipment(row), ensure_ascii=False, separators=(",", ":")).encode()
    assert jsonbody.dumps(row) == expected
    with pytest.raises(TypeError):
        jsonbody.dumps({"x": object()})


# --- access log ---------------------------------------------------------------------------------------
def test_the_access_line_is_the_line_logging_would_write(monkeypatch: pytest.MonkeyPatch) -> None:
    import io
    import logging

    from shipments.logs import ACCESS_LOG, REQUEST_ID, JsonFormatter

    logger = logging.getLogger("shipments.access")
    previous = logger.level
    # setLevel, not the attribute: it also clears isEnabledFor's cache, which an earlier request
    # through the app in this process may have filled while the level was the root's WARNING.
    logger.setLevel(logging.INFO)
    stream = io.StringIO()
    monkeypatch.setattr(ACCESS_LOG, "stream", stream)
    token = REQUEST_ID.set("rid-1")
    try:
        for fields in (
            {"method": "GET", "path": "/api/shipments", "status": 200, "duration_ms": 1.25, "client": "::1"},
            {"method": "GET", "path": "/api/Tromsø/\u2028", "status": 404, "duration_ms": 0.5, "client": "?"},
        ):
            ACCESS_LOG.write(fields)
            record = logging.makeLogRecord(
                {"name": "shipments.access", "levelname": "INFO", "msg": "request", **fields}
            )
            fast, slow = json.loads(stream.getvalue().splitlines()[-1]), json.loads(JsonFormatter().format(record))
            assert fast.pop("ts")[:10] == slow.pop("ts")[:10] and fast == slow
            assert stream.getvalue().isascii()  # a client's non-ASCII path is escaped, as the formatter does
    finally:
        REQUEST_ID.reset(token)
        logger.setLevel(previous)


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


def _cursor(created: object, row_id: object = "00000000-0000-0000-0000-000000000000") -> str:
    raw = json.dumps([created, row_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize(
    "created",
    [
        "0001-01-01T00:00:00+14:00",  # before year 1 in UTC: the driver would raise OverflowError
        "9999-12-31T23:59:59-14:00",  # after year 9999 in UTC
        5,
        None,
    ],
)
def test_cursors_outside_the_representable_range_are_rejected(created: object) -> None:
    with pytest.raises(CursorError):
        decode_cursor(_cursor(created))
    with pytest.raises(CursorError):
        decode_cursor(_cursor("2026-01-01T00:00:00+00:00", 7))


def test_cursor_timestamps_are_normalised_to_utc() -> None:
    when, _ = decode_cursor(_cursor("0001-01-01T13:00:00+13:00"))
    assert when == datetime(1, 1, 1, tzinfo=UTC) and when.utcoffset() is not None and not when.utcoffset()


# --- If-Match ---------------------------------------------------------------------------------------------
def test_if_match_takes_only_a_strong_etag_of_a_version() -> None:
    assert parse_if_match('"1"') == 1 and parse_if_match(' "9223372036854775807" ') == 2**63 - 1
    assert parse_if_match('"4294967296"') == 2**32  # the first version of a second timeline
    with pytest.raises(HTTPException) as missing:
        parse_if_match(None)
    assert missing.value.status_code == 428
    for bad in ('"³"', '"' + "9" * 5000 + '"', '"9223372036854775808"', 'W/"1"', "1", "*", '"1", "2"', '"01"', '"0"', '""'):
        with pytest.raises(HTTPException) as refused:
            parse_if_match(bad)
        assert refused.value.status_code == 422, bad


# --- API keys -------------------------------------------------------------------------------------------
def test_keys_carry_a_checksum_that_refuses_random_strings() -> None:
    keys = {generate_key() for _ in range(200)}
    assert len(keys) == 200 and all(len(k) == 50 and key_format(k) == "checksummed" for k in keys)
    key = next(iter(keys))
    typo = key[:10] + ("A" if key[10] != "A" else "B") + key[11:]
    assert key_format(typo) is None
    rng = random.Random(3)
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    forged = ["shk_" + "".join(rng.choice(alphabet) for _ in range(46)) for _ in range(1000)]
    assert sum(key_format(f) is not None for f in forged) == 0  # a 1 in 2**32 chance each
    for junk in ("", "shk_", "shk_wrong", "x" * 50, "shk_" + "é" * 46, key + "x", key.upper()):
        assert key_format(junk) is None, junk
    legacy = "shk_" + "a-b_" * 10 + "xyz"  # the format before checksums: shk_ + token_urlsafe(32)
    assert key_format(legacy) == "legacy"


# --- forwarded client address ------------------------------------------------------------------------------
def test_viewer_addresses_parse_as_cloudfronts_function_writes_them() -> None:
    import ipaddress

    ip = ipaddress.ip_address
    # event.viewer.ip: the bare address
    assert parse_viewer_address("203.0.113.9") == ip("203.0.113.9")
    assert parse_viewer_address(" 2001:db8::1 ") == ip("2001:db8::1")
    # with a port, IPv4 or bracketed IPv6; unbracketed IPv6 is an address, never address + port
    assert parse_viewer_address("203.0.113.9:46532") == ip("203.0.113.9")
    assert parse_viewer_address("[2001:db8::1]:443") == ip("2001:db8::1")
    assert parse_viewer_address("2001:db8::1:443") == ip("2001:db8::1:443")
    for bad in ("203.0.113.9:", "203.0.113.9:99999", "203.0.113.9:4a", "[2001:db8::1]x", "evil.example",
                "", "1.2.3.4, 5.6.7.8", "203.0.113.9:\u0664\u0664", "unknown"):
        assert parse_viewer_address(bad) is None, bad


def test_the_client_is_cloudfronts_viewer_only_with_the_origin_secret_else_the_peer() -> None:
    async def inner(scope, receive, send):  # type: ignore[no-untyped-def]
        pass

    secret = "origin-secret-0123456789"
    app = ClientAddress(inner, ["10.0.0.0/8"], origin_secret=secret)

    def client(peer: str, headers: list[tuple[bytes, bytes]], mw: ClientAddress = app) -> tuple[object, object]:
        scope = {"type": "http", "client": (peer, 1234), "headers": headers, "scheme": "http"}
        asyncio.run(mw(scope, None, None))  # type: ignore[arg-type]
        return scope["client"][0], scope["scheme"]

    cdn = [(b"x-origin-verify", secret.encode()), (b"x-viewer-address", b"203.0.113.9")]
    forged = [(b"x-forwarded-for", b"6.6.6.6"), (b"x-forwarded-proto", b"https")]
    # through CloudFront (the secret, from the VPC): the viewer CloudFront names, never X-Forwarded-For
    assert client("10.1.2.3", [*forged, *cdn]) == ("203.0.113.9", "https")
    assert client("10.1.2.3", [*cdn[:1], (b"x-viewer-address", b"2001:db8::7")])[0] == "2001:db8::7"
    # a forged viewer address without the secret, with a wrong one, or from outside the VPC: the peer
    assert client("10.1.2.3", [cdn[1], *forged]) == ("10.1.2.3", "https")
    assert client("10.1.2.3", [(b"x-origin-verify", b"guess"), cdn[1]])[0] == "10.1.2.3"
    assert client("198.51.100.1", [*forged, *cdn]) == ("198.51.100.1", "http")
    # the secret but no usable viewer address (a policy that does not forward it): the peer
    assert client("10.1.2.3", [cdn[0], *forged])[0] == "10.1.2.3"
    assert client("10.1.2.3", [cdn[0], (b"x-viewer-address", b"six.six.six.six")])[0] == "10.1.2.3"
    # two values: something besides CloudFront's function set it, and neither is believed
    assert client("10.1.2.3", [*cdn, (b"x-viewer-address", b"6.6.6.6")])[0] == "10.1.2.3"
    # CloudFront's own header is not the one the distribution sets: a client could send it
    assert client("10.1.2.3", [cdn[0], (b"cloudfront-viewer-address", b"6.6.6.6:443")])[0] == "10.1.2.3"
    # no origin secret configured (the local topology): every request is its peer
    assert client("10.1.2.3", [*forged, *cdn], ClientAddress(inner, ["10.0.0.0/8"])) == ("10.1.2.3", "https")
    with pytest.raises(ValueError, match="nope"):
        ClientAddress(inner, ["nope"])


def test_per_address_limits_count_an_ipv6_subscriber_by_its_64() -> None:
    assert rate_limit_bucket("203.0.113.9") == "203.0.113.9"
    assert rate_limit_bucket("2001:db8:1:2:aaaa::1") == rate_limit_bucket("2001:db8:1:2:ffff::7") == "2001:db8:1:2::/64"
    assert rate_limit_bucket("2001:db8:1:3::1") == "2001:db8:1:3::/64"
    assert rate_limit_bucket("::ffff:203.0.113.9") == "203.0.113.9"
    assert rate_limit_bucket("unknown") == "unknown"


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
        assert loads == 1 and all(r is not None and json.loads(r.body) == {"version": 1, "n": 1} for r in results)

        async def failing() -> None:
            nonlocal loads
            loads += 1
            await asyncio.sleep(0.05)
            raise ConnectionError("db down")

        outcomes = await asyncio.gather(*(cache.get("e", failing) for _ in range(5)), return_exceptions=True)
        assert loads == 2 and all(isinstance(o, ConnectionError) for o in outcomes)
        # the failure is not cached: the next miss loads again
        again = await cache.get("e", loader)
        assert again is not None and (again.version, json.loads(again.body)) == (1, {"version": 1, "n": 3})
        await link.close()

    asyncio.run(scenario())


def test_the_app_reads_the_header_the_cdns_viewer_request_function_writes() -> None:
    from shipments.forwarded import VIEWER_HEADER

    from components.cdn import VIEWER_ADDRESS_FUNCTION, VIEWER_ADDRESS_HEADER

    assert VIEWER_ADDRESS_HEADER.lower().encode() == VIEWER_HEADER
    assert f"headers['{VIEWER_HEADER.decode()}'] = {{ value: event.viewer.ip }}" in VIEWER_ADDRESS_FUNCTION


def test_access_lines_of_one_loop_turn_reach_stdout_together_even_unbuffered(tmp_path: Path) -> None:
    """The image sets PYTHONUNBUFFERED: the access log still writes a loop turn's lines at its end,
    not one write per line, and none is lost."""
    out = tmp_path / "stdout"
    program = textwrap.dedent(
        """
        import asyncio, os, sys
        from shipments.logs import ACCESS_LOG, configure_logging

        configure_logging("INFO")
        assert sys.stdout.write_through  # PYTHONUNBUFFERED is in effect

        async def turn() -> None:
            for i in range(3):
                ACCESS_LOG.write({"path": f"/p{i}", "status": 200})
            print("after-writes", os.path.getsize(sys.argv[1]), file=sys.stderr)
            await asyncio.sleep(0)
            await asyncio.sleep(0)
            print("after-turn", os.path.getsize(sys.argv[1]), file=sys.stderr)

        asyncio.run(turn())
        """
    )
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(APP_DIR)}
    with out.open("wb") as stdout:
        done = subprocess.run([sys.executable, "-c", program, str(out)], stdout=stdout, stderr=subprocess.PIPE,
                              env=env, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    sizes = dict(line.split() for line in done.stderr.splitlines() if line.startswith("after-"))
    assert sizes["after-writes"] == "0", "nothing written while the turn runs"
    lines = out.read_text().splitlines()
    assert int(sizes["after-turn"]) == len(out.read_bytes()) and [json.loads(x)["path"] for x in lines] == [
        "/p0", "/p1", "/p2"]
