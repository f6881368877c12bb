"""app tests room: the Shipments API under hostile input, against the real topology, from an app
process with production's settings (origin secret set, FORWARDED_ALLOW_IPS the loopback standing for
the VPC range the ConfigMap sets, CORS on) and short server timeouts so the tests are quick.

Every case of issue 17 gets a 4xx (or the limit's 429/503) and leaves no traceback or error line in
the app log; strangers' keys cost no database work (counted on the primary and the replica); a
revocation reaches both app processes within a second; the server's own limits hold.
"""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from shipments.auth import checksum, hash_key

from local_topology.topology import REPO, Topology

from .conftest import CORS_ORIGIN, auth, from_address, shipment_body, unique_ip, wait_for

SECRET = "hostile-test-origin-secret-0123456789"
TIMEOUT = 2  # header-read, body-read and keep-alive timeouts of the hostile process (production: 10 s)
MAX_HEADER = 32768  # the production default
AUTH_FAILURES = 20  # the production default per client address and minute


@pytest.fixture(scope="module")
def prod(topo: Topology) -> Iterator[str]:
    url = topo.start_app(
        name="app-hostile",
        env={
            "ORIGIN_VERIFY_SECRET": SECRET,
            "FORWARDED_ALLOW_IPS": "127.0.0.1",  # the VPC range, in the cluster
            "CORS_ORIGINS": CORS_ORIGIN,
            "HEADER_READ_TIMEOUT_SECONDS": str(TIMEOUT),
            "BODY_READ_TIMEOUT_SECONDS": str(TIMEOUT),
            "KEEP_ALIVE_TIMEOUT_SECONDS": str(TIMEOUT),
        },
    )
    try:
        yield url
    finally:
        topo.stop_service("app-hostile")


class AppLog:
    """The lines an app process logged since the test started."""

    def __init__(self, topo: Topology, name: str):
        self.path = Path(topo.services[name].log)
        self.start = self.path.stat().st_size

    def lines(self) -> list[dict[str, Any]]:
        with self.path.open("rb") as f:
            f.seek(self.start)
            return [json.loads(line) for line in f.read().decode().splitlines() if line.startswith("{")]

    def assert_quiet(self) -> None:
        loud = [e for e in self.lines() if e["level"] in ("error", "critical") or "exc" in e]
        assert not loud, f"errors or tracebacks in the app log: {loud}"
        assert "Traceback" not in self.path.read_text()[self.start :]


@pytest.fixture
def log(topo: Topology, prod: str) -> Iterator[AppLog]:
    app_log = AppLog(topo, "app-hostile")
    yield app_log
    app_log.assert_quiet()


def cdn(key: str | None = None, client: str | None = None, **extra: str | bytes) -> dict[str, Any]:
    """Headers of a request that came through CloudFront: the origin secret, the viewer's address as
    X-Viewer-Address (what the distribution's function sets) and X-Forwarded-For with whatever the
    viewer sent followed by the viewer's address (what CloudFront appends)."""
    viewer = client or unique_ip()
    headers: dict[str, Any] = {
        "X-Origin-Verify": SECRET,
        "X-Viewer-Address": viewer,
        "X-Forwarded-For": f"6.6.6.6, {viewer}",
    }
    if key is not None:
        headers["Authorization"] = f"Bearer {key}".encode()  # bytes: some keys tried are not ASCII
    headers.update(extra)
    return headers


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def exchange(url: str, data: bytes, timeout: float = 10.0) -> bytes:
    """Send raw bytes, then read until the server closes (or `timeout`)."""
    with socket.create_connection(("127.0.0.1", port_of(url)), timeout=timeout) as sock:
        sock.sendall(data)
        return read_all(sock)


def read_all(sock: socket.socket) -> bytes:
    out = b""
    try:
        while chunk := sock.recv(65536):
            out += chunk
    except (TimeoutError, ConnectionResetError):
        pass
    return out


def status_of(response: bytes) -> int:
    return int(response.split(b" ", 2)[1]) if response.startswith(b"HTTP/1.1 ") else 0


def body_of(response: bytes) -> dict[str, Any]:
    return json.loads(response.split(b"\r\n\r\n", 1)[1])  # type: ignore[no-any-return]


# --- 1. client input that used to give 500s ---------------------------------------------------------------
def _cursor(created: str) -> str:
    raw = json.dumps([created, str(uuid.uuid4())]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def test_forged_cursor_out_of_range_is_400(
    client: httpx.Client, prod: str, reader_key: str, admin_key: str, log: AppLog
) -> None:
    for path, key in (("/api/shipments", reader_key), ("/api/inquiries", admin_key)):
        for created in ("0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"):
            r = client.get(f"{prod}{path}", params={"cursor": _cursor(created)}, headers=cdn(key))
            assert r.status_code == 400 and r.json()["field"] == "cursor", r.text
        # the earliest representable instant is a valid (empty) position, not an error
        r = client.get(f"{prod}{path}", params={"cursor": _cursor("0001-01-01T00:00:00+00:00")}, headers=cdn(key))
        assert r.status_code == 200 and r.json() == {"items": [], "next_cursor": None}


def test_if_match_that_is_not_a_short_ascii_strong_etag_is_422(
    client: httpx.Client,
    prod: str,
    writer_key: str,
    make_shipment: Callable[..., dict[str, Any]],
    log: AppLog,
) -> None:
    s = make_shipment(writer_key)
    url = f"{prod}/api/shipments/{s['id']}"
    for bad in ('"³"'.encode(), b'"' + b"9" * 5000 + b'"', b'W/"1"', b"1", b"*", b'"1", "2"', b'"9223372036854775808"'):
        r = client.patch(url, json={"origin": "X"}, headers=cdn(writer_key, **{"If-Match": bad}))
        assert r.status_code == 422 and r.json()["field"] == "If-Match", (bad[:20], r.text)
    ok = client.patch(url, json={"origin": "X"}, headers=cdn(writer_key, **{"If-Match": '"1"'}))
    assert ok.status_code == 200 and ok.json()["version"] == 2


def test_content_length_of_thousands_of_digits_is_4xx_without_key_or_secret(prod: str, log: AppLog) -> None:
    def post(length: bytes) -> bytes:
        return exchange(
            prod, b"POST /api/inquiries HTTP/1.1\r\nHost: x\r\nContent-Length: " + length + b"\r\n\r\nhello"
        )

    # Thousands of leading zeros do not overflow the parser: the app reads them as the number they are.
    assert status_of(post(b"0" * 5000 + b"5")) == 403  # 5 bytes: on to the origin guard
    too_big = post(b"0" * 5000 + b"9" * 19)  # fits the parser's 64 bits, over any body limit
    assert status_of(too_big) == 413 and body_of(too_big)["field"] == "body"
    assert status_of(post(b"9" * 5000)) == 400  # overflows: the parser refuses it
    assert status_of(post("³".encode())) == 400


# --- 2. strangers get no database work ---------------------------------------------------------------------
def _key_scans(topo: Topology) -> tuple[int, int]:
    sql = "SELECT COALESCE(idx_scan, 0) + COALESCE(seq_scan, 0) FROM pg_stat_user_tables WHERE relname = 'api_keys'"
    return int(topo.primary_sql(sql, db="shipments")), int(topo.replica_sql(sql))


def _forged_key() -> str:
    """A well-formed key with a valid checksum (the checksum is no secret) that was never issued."""
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    body = "shk_" + "".join(secrets.choice(alphabet) for _ in range(40))
    return body + checksum(body)


def _bad_checksum(key: str) -> str:
    return key[:-1] + ("1" if key[-1] == "0" else "0")


def _random_strings() -> Iterator[str]:
    for i in range(100):
        yield [
            lambda: "shk_" + secrets.token_urlsafe(34)[:46],  # the right length, no valid checksum
            lambda: _bad_checksum(_forged_key()),
            lambda: "shk_" + secrets.token_hex(8),
            lambda: secrets.token_urlsafe(40),
            lambda: "shk_" + "é" * 46,
        ][i % 5]()


def test_strangers_keys_cost_no_database_work_and_lookups_are_throttled_per_address(
    topo: Topology, client: httpx.Client, prod: str, log: AppLog
) -> None:
    control = topo.create_key("reader", "control")
    wait_for(
        lambda: topo.replica_sql(f"SELECT count(*) FROM api_keys WHERE key_hash = '{hash_key(control)}'") == "1",
        what="the control key on the replica",
    )
    # Statistics reach pg_stat_* up to 10 s after a transaction (PGSTAT_IDLE_INTERVAL): start from settled ones.
    time.sleep(11)
    before = _key_scans(topo)

    # 100 random strings, from one address: refused without a lookup; past the failure limit, 429.
    stranger = unique_ip()
    codes = [
        client.get(f"{prod}/api/shipments", headers=cdn(k, client=stranger)).status_code for k in _random_strings()
    ]
    assert codes == [401] * AUTH_FAILURES + [429] * (100 - AUTH_FAILURES)
    # Forged keys with a valid checksum need a lookup: at most AUTH_FAILURES per address and minute,
    # whatever the viewer puts in X-Forwarded-For (the viewer CloudFront names counts).
    forger = unique_ip()
    codes = []
    for _ in range(50):
        headers = cdn(_forged_key(), client=forger)
        headers["X-Forwarded-For"] = f"{unique_ip()}, {forger}"
        codes.append(client.get(f"{prod}/api/shipments", headers=headers).status_code)
    assert codes == [401] * AUTH_FAILURES + [429] * (50 - AUTH_FAILURES)
    throttled = client.get(f"{prod}/api/shipments", headers=cdn(_forged_key(), client=forger))
    assert throttled.status_code == 429 and throttled.json()["field"] == "Authorization"
    assert 1 <= int(throttled.headers["retry-after"]) <= 60
    # other addresses are not affected, and a good key is looked up once (on the replica)
    assert client.get(f"{prod}/api/shipments", headers=cdn(_forged_key())).status_code == 401
    assert client.get(f"{prod}/api/shipments", headers=cdn(control)).status_code == 200

    time.sleep(11)
    primary, replica = (after - b for after, b in zip(_key_scans(topo), before, strict=True))
    # Each forged key: the replica, then the primary (a key may be too new for the replica); the one
    # from another address likewise; the control key once, on the replica. The 100 strings: nothing.
    assert (primary, replica) == (AUTH_FAILURES + 1, AUTH_FAILURES + 2)


def test_legacy_keys_work_until_refused_and_then_cost_nothing(
    topo: Topology, client: httpx.Client, prod: str, log: AppLog
) -> None:
    legacy = "shk_" + secrets.token_urlsafe(32)  # the format before keys carried a checksum
    topo.primary_sql(
        f"INSERT INTO api_keys (name, role, key_hash) VALUES ('legacy', 'reader', '{hash_key(legacy)}')",
        db="shipments",
    )
    assert client.get(f"{prod}/api/shipments", headers=cdn(legacy)).status_code == 200
    name = "checksummed-" + uuid.uuid4().hex[:8]
    topo.create_key("reader", name)
    listed = subprocess.run(
        [sys.executable, "-m", "shipments.keys", "list", "--json"],
        env=topo.app_process_env(),
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert listed.returncode == 0, listed.stderr
    formats = {json.loads(line)["name"]: json.loads(line)["format"] for line in listed.stdout.splitlines()}
    assert formats["legacy"] == "legacy" and formats[name] == "checksummed"

    strict = topo.start_app(name="app-no-legacy", env={"ACCEPT_LEGACY_API_KEYS": "false"})
    try:
        down = AppLog(topo, "app-no-legacy")
        topo.stop_service("pgbouncer")  # any lookup would now fail with 503
        try:
            with from_address(unique_ip()) as stranger:
                r = stranger.get(f"{strict}/api/shipments", headers=auth(legacy))
            assert r.status_code == 401, r.text
        finally:
            topo.start_service("pgbouncer")
        down.assert_quiet()
    finally:
        topo.stop_service("app-no-legacy")


# --- 3. nothing internal in anonymous answers ---------------------------------------------------------------
def test_health_details_are_for_admins_and_disclose_no_internals(
    topo: Topology,
    client: httpx.Client,
    prod: str,
    reader_key: str,
    admin_key: str,
    log: AppLog,
) -> None:
    # liveness and readiness: anonymous, no origin secret (probes reach pods directly), coarse
    assert client.get(f"{prod}/api/health").json() == {"status": "ok"}
    ready = client.get(f"{prod}/api/health/ready")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ok", "checks": {"primary": "ok", "redis": "ok"}, "failed": []}
    # the detailed view: the CDN's secret, then an admin key
    assert client.get(f"{prod}/api/health/detailed").status_code == 403
    assert client.get(f"{prod}/api/health/detailed", headers=cdn()).status_code == 401
    assert client.get(f"{prod}/api/health/detailed", headers=cdn(reader_key)).status_code == 403
    d = client.get(f"{prod}/api/health/detailed", headers=cdn(admin_key))
    assert d.status_code == 200
    details = d.json()
    replica = details["replicas"][0]
    # an error is named by its class; the driver's message (hosts, ports) goes to the log only
    assert replica["name"] == "replica-0" and (replica["error"] is None or replica["error"].isidentifier())
    assert set(details["pools"]) == {"primary", "replica-0"}
    text = d.text
    assert topo.db_password not in text and "postgresql://" not in text and "redis://" not in text

    metrics = client.get(topo.metrics_url(prod)).text  # the metrics listener: the in-cluster scraper
    assert 'replica="replica-0"' in metrics
    for internal in (f"127.0.0.1:{topo.ports['pgbouncer']}", "shipments_ro", topo.db_password):
        assert internal not in metrics, internal


def test_anonymous_readiness_costs_one_check_however_many_ask(topo: Topology, prod: str, log: AppLog) -> None:
    async def burst() -> list[httpx.Response]:
        async with httpx.AsyncClient(timeout=15, limits=httpx.Limits(max_connections=60)) as c:
            return await asyncio.gather(*(c.get(f"{prod}/api/health/ready") for _ in range(50)))

    time.sleep(1.1)  # past the cached answer
    topo.pause("pgbouncer")  # each check now waits for its 1 s timeout: all 50 arrive during one
    try:
        answers = asyncio.run(burst())
    finally:
        topo.resume("pgbouncer")
    assert {r.status_code for r in answers} == {503}
    assert all(
        r.json() == {"status": "unavailable", "checks": {"primary": "failed", "redis": "ok"}, "failed": ["primary"]}
        for r in answers
    )
    checks = [e for e in log.lines() if e.get("msg") == "readiness: primary failed"]
    assert len(checks) == 1, checks  # the reason is in the log, once
    with httpx.Client(timeout=5) as c:
        wait_for(lambda: c.get(f"{prod}/api/health/ready").status_code == 200, what="readiness back")


# --- 4. revocation ----------------------------------------------------------------------------------------
def _key_id(topo: Topology, key: str) -> str:
    return topo.primary_sql(f"SELECT id FROM api_keys WHERE key_hash = '{hash_key(key)}'", db="shipments")


def test_revocation_reaches_every_process_within_a_second(
    topo: Topology, client: httpx.Client, urls: list[str]
) -> None:
    quiet = [AppLog(topo, name) for name in ("app0", "app1")]
    unannounced, revoked = topo.create_keys("reader", 2, "to-revoke")
    # failed authentications below count against an address of their own
    own = from_address(unique_ip())

    def get(url: str, key: str) -> int:
        return own.get(f"{url}/api/shipments", headers=auth(key)).status_code

    for url in urls:  # both processes cache both keys
        for key in (unannounced, revoked):
            assert get(url, key) == 200
    # Revoked behind the processes' back, the key still works from their caches: what the
    # announcement below has to beat.
    topo.primary_sql(
        f"UPDATE api_keys SET revoked_at = now() WHERE id = '{_key_id(topo, unannounced)}'", db="shipments"
    )
    for url in urls:
        assert get(url, unannounced) == 200

    key_id = _key_id(topo, revoked)
    result = subprocess.run(
        [sys.executable, "-m", "shipments.keys", "revoke", key_id],
        env=topo.app_process_env(),
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    done = time.monotonic()
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"{key_id}: revoked" and "announced to" in result.stderr
    for url in urls:
        wait_for(
            lambda u=url: get(u, revoked) == 401,
            timeout=1.0,
            interval=0.02,
            what=f"{url} to refuse the revoked key",
        )
    assert time.monotonic() - done < 1.0
    # revoked means revoked: the replica (even a lagging one) cannot bring it back
    time.sleep(0.5)
    for url in urls:
        assert get(url, revoked) == 401
    own.close()
    listed = subprocess.run(
        [sys.executable, "-m", "shipments.keys", "list", "--json"],
        env=topo.app_process_env(),
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    entry = next(json.loads(line) for line in listed.stdout.splitlines() if json.loads(line)["id"] == key_id)
    assert entry["revoked_at"] is not None
    again = subprocess.run(
        [sys.executable, "-m", "shipments.keys", "revoke", key_id, str(uuid.uuid4())],
        env=topo.app_process_env(),
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert again.returncode == 1 and "already revoked" in again.stdout and "not found" in again.stdout
    for app_log in quiet:
        app_log.assert_quiet()


# --- 5. the server's own limits ------------------------------------------------------------------------------
def test_an_8_mib_header_without_the_secret_is_431(prod: str, log: AppLog) -> None:
    response = _send_while_reading(prod, b"GET /api/health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (8 << 20))
    assert status_of(response) == 431 and body_of(response)["error"] == "headers_too_large"


def _send_while_reading(url: str, data: bytes) -> bytes:
    """Send `data` (the server may stop reading and close) while reading its answer."""
    with socket.create_connection(("127.0.0.1", port_of(url)), timeout=10) as sock:
        got: list[bytes] = []
        reader = threading.Thread(target=lambda: got.append(read_all(sock)))
        reader.start()
        try:
            for i in range(0, len(data), 1 << 16):
                sock.sendall(data[i : i + (1 << 16)])
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server closed: it is not reading a header that large
        reader.join(timeout=10)
        return got[0] if got else b""


def test_the_head_limit_is_exact_and_counts_trailers_too(prod: str, log: AppLog) -> None:
    start = b"GET /api/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Pad: "
    pad = MAX_HEADER - len(start) - len(b"\r\n\r\n")
    assert status_of(exchange(prod, start + b"p" * pad + b"\r\n\r\n")) == 200
    assert status_of(exchange(prod, start + b"p" * (pad + 1) + b"\r\n\r\n")) == 431
    many = b"GET /api/health HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-%d: y\r\n" % i for i in range(8000))
    assert status_of(_send_while_reading(prod, many + b"\r\n")) == 431
    trailer = (
        b"POST /api/inquiries HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX-T: "
        + b"t" * (4 << 20)
        + b"\r\n\r\n"
    )
    answered = _send_while_reading(prod, trailer)
    # The origin guard may answer 403 before the trailers come in; either way the connection ends.
    assert status_of(answered) in (403, 431)


ATTACKER = """
import socket, sys, json
sock = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
data = b"GET /api/health HTTP/1.1\\r\\nHost: x\\r\\nX-Big: " + b"a" * 48_000_000 + b"\\r\\n\\r\\n"
sent = 0
try:
    for i in range(0, len(data), 1 << 20):
        sock.sendall(data[i : i + (1 << 20)])
        sent += 1 << 20
except OSError:
    pass
answer = b""
try:
    while chunk := sock.recv(65536):
        answer += chunk
except OSError:
    pass
print(json.dumps({"sent": sent, "status": answer[:12].decode("latin-1")}))
"""


def test_a_48_mb_header_does_not_stall_the_event_loop(client: httpx.Client, prod: str, log: AppLog) -> None:
    attacker = subprocess.Popen([sys.executable, "-c", ATTACKER, str(port_of(prod))], stdout=subprocess.PIPE, text=True)
    latencies = []
    while attacker.poll() is None or len(latencies) < 20:
        started = time.perf_counter()
        assert client.get(f"{prod}/api/health").status_code == 200
        latencies.append(time.perf_counter() - started)
        time.sleep(0.01)
    out = json.loads(attacker.communicate(timeout=30)[0])
    # The server stopped reading after MAX_HEADER_BYTES (+ 1 MiB of lingering); the rest fills socket buffers.
    assert out["status"] == "HTTP/1.1 431" and out["sent"] < 16 << 20, out
    assert max(latencies) < 0.5, f"health took {max(latencies):.3f}s while a 48 MB header came in"


def test_headers_that_never_finish_get_408_and_silent_connections_are_closed(prod: str, log: AppLog) -> None:
    started = time.monotonic()
    response = exchange(prod, b"GET /api/health HTTP/1.1\r\nHost: x\r\nX-Slow: ")
    assert status_of(response) == 408 and body_of(response)["error"] == "request_timeout"
    assert TIMEOUT - 0.1 <= time.monotonic() - started < TIMEOUT + 2
    started = time.monotonic()
    assert exchange(prod, b"") == b""  # connected, said nothing: closed without a word
    assert TIMEOUT - 0.1 <= time.monotonic() - started < TIMEOUT + 2


def test_a_body_that_never_finishes_gets_408_and_is_logged_so(
    topo: Topology, prod: str, writer_key: str, log: AppLog
) -> None:
    head = "".join(f"{k}: {v}\r\n" for k, v in cdn(writer_key).items())
    started = time.monotonic()
    response = exchange(
        prod,
        f"POST /api/shipments HTTP/1.1\r\nHost: x\r\n{head}Content-Type: application/json\r\n"
        f"Content-Length: 100\r\n\r\n".encode()
        + b'{"origin": ',
    )
    assert status_of(response) == 408
    assert TIMEOUT - 0.1 <= time.monotonic() - started < TIMEOUT + 2
    # After the app answered without reading the body (no origin secret: 403), the rest may not
    # trickle in for ever either.
    started = time.monotonic()
    response = exchange(prod, b"POST /api/shipments HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
    assert status_of(response) == 403 and time.monotonic() - started < TIMEOUT + 2
    entries = [e for e in log.lines() if e.get("msg") == "request" and e.get("route") == "/api/shipments"]
    assert any(e["status"] == 408 and e["method"] == "POST" for e in entries), entries


def test_kept_alive_connections_close_after_the_keep_alive_timeout(prod: str, log: AppLog) -> None:
    with socket.create_connection(("127.0.0.1", port_of(prod)), timeout=10) as sock:
        sock.sendall(b"GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n")
        first = b""
        while not first.endswith(b'{"status":"ok"}'):
            first += sock.recv(65536)
        assert status_of(first) == 200 and b"connection: close" not in first.lower()
        started = time.monotonic()
        assert sock.recv(65536) == b""
        assert TIMEOUT - 0.1 <= time.monotonic() - started < TIMEOUT + 2


def test_past_the_concurrency_cap_requests_get_a_json_503(topo: Topology, client: httpx.Client) -> None:
    url = topo.start_app(name="app-capped", env={"MAX_CONCURRENCY": "4"})
    try:
        capped = AppLog(topo, "app-capped")
        held = [socket.create_connection(("127.0.0.1", port_of(url)), timeout=10) for _ in range(3)]
        try:
            time.sleep(0.2)  # let the server accept them
            r = client.get(f"{url}/api/health", headers={"Connection": "close"})
            assert r.status_code == 503 and r.json()["error"] == "unavailable"
            assert r.headers["retry-after"] == "1" and r.headers["connection"] == "close"
        finally:
            for sock in held:
                sock.close()
        wait_for(lambda: client.get(f"{url}/api/health").status_code == 200, timeout=5, what="capacity back")
        capped.assert_quiet()
    finally:
        topo.stop_service("app-capped")


# --- 6. what the attacker review found --------------------------------------------------------------------------
def test_no_redirect_built_from_the_host_header(prod: str, reader_key: str, log: AppLog) -> None:
    head = "".join(f"{k}: {v}\r\n" for k, v in cdn(reader_key).items())
    response = exchange(
        prod, f"GET /api/shipments/ HTTP/1.1\r\nHost: evil.example\r\n{head}Connection: close\r\n\r\n".encode()
    )
    assert status_of(response) == 404 and b"location:" not in response.lower()


def test_forwarded_for_cannot_dodge_the_per_address_inquiry_limit(client: httpx.Client, prod: str, log: AppLog) -> None:
    viewer = unique_ip()
    body = {"name": "Eve", "email": "eve@example.com", "message": "spam"}
    codes = []
    for _ in range(6):
        headers = cdn(client=viewer)
        headers["X-Forwarded-For"] = f"{unique_ip()}, {viewer}"  # a new "client" each time, says the viewer
        codes.append(client.post(f"{prod}/api/inquiries", json=body, headers=headers).status_code)
    assert codes == [201] * 5 + [429]


def test_an_ipv6_subscriber_cannot_rotate_through_its_64(client: httpx.Client, prod: str, log: AppLog) -> None:
    prefix = f"2001:db8:{secrets.randbelow(0xFFFF):x}:{secrets.randbelow(0xFFFF):x}"
    body = {"name": "Eve", "email": "eve@example.com", "message": "spam"}
    codes = [
        client.post(f"{prod}/api/inquiries", json=body, headers=cdn(client=f"{prefix}::{n + 1:x}")).status_code
        for n in range(6)
    ]
    assert codes == [201] * 5 + [429]
    # the failed-authentication throttle likewise
    codes = [
        client.get(f"{prod}/api/shipments", headers=cdn(_forged_key(), client=f"{prefix}:1::{n + 1:x}")).status_code
        for n in range(AUTH_FAILURES + 1)
    ]
    assert codes == [401] * AUTH_FAILURES + [429]


def test_the_access_log_says_which_key_changed_what(
    client: httpx.Client, prod: str, writer_key: str, topo: Topology, log: AppLog
) -> None:
    created = client.post(f"{prod}/api/shipments", json=shipment_body(), headers=cdn(writer_key))
    assert created.status_code == 201
    s = created.json()
    patched = client.patch(
        f"{prod}/api/shipments/{s['id']}", json={"status": "delivered"}, headers=cdn(writer_key, **{"If-Match": '"1"'})
    )
    assert patched.status_code == 200
    key_id = _key_id(topo, writer_key)
    writes = [e for e in log.lines() if e.get("msg") == "request" and e.get("method") in ("POST", "PATCH")]
    assert [(e["method"], e["status"], e.get("key_id"), e.get("shipment_id"), e.get("version")) for e in writes] == [
        ("POST", 201, key_id, s["id"], 1),
        ("PATCH", 200, key_id, s["id"], 2),
    ]
    assert writer_key not in log.path.read_text()


def test_concurrent_forged_keys_from_one_address_cost_at_most_the_bound(
    topo: Topology, urls: list[str], client: httpx.Client, reader_key: str
) -> None:
    """The throttle reserves a failure before the lookup: 200 unknown keys at once, 50 in flight at
    a time, cost at most AUTH_FAILURES lookups (each: the replica, then the primary), not 200."""
    forger = unique_ip()
    # The reader's key is looked up (and cached) first, as is the session's own traffic: settled stats.
    assert client.get(f"{urls[0]}/api/shipments", headers=auth(reader_key)).status_code == 200
    time.sleep(11)  # statistics reach pg_stat_* up to 10 s after a transaction
    before = _key_scans(topo)

    async def flood() -> list[int]:
        limits = httpx.Limits(max_connections=50, max_keepalive_connections=50)
        transport = httpx.AsyncHTTPTransport(local_address=forger, limits=limits)
        async with httpx.AsyncClient(transport=transport, timeout=30) as c:
            responses = await asyncio.gather(
                *(c.get(f"{urls[0]}/api/shipments", headers=auth(_forged_key())) for _ in range(200))
            )
        return [r.status_code for r in responses]

    codes = asyncio.run(flood())
    assert sorted(set(codes)) == [401, 429] and codes.count(401) <= AUTH_FAILURES, codes
    time.sleep(11)
    primary, replica = (after - b for after, b in zip(_key_scans(topo), before, strict=True))
    assert primary <= AUTH_FAILURES and replica <= AUTH_FAILURES, (primary, replica)


def test_a_burst_of_one_good_uncached_key_is_never_throttled_as_failures(topo: Topology, urls: list[str]) -> None:
    """Failures are reserved before the lookup, but a burst of requests with one good key the process
    has not cached shares one lookup (and one reservation): none of them is refused."""
    key = topo.create_key("reader", "burst")
    wait_for(
        lambda: topo.replica_sql(f"SELECT count(*) FROM api_keys WHERE key_hash = '{hash_key(key)}'") == "1",
        what="the key on the replica",
    )

    async def burst() -> list[int]:
        limits = httpx.Limits(max_connections=50, max_keepalive_connections=50)
        transport = httpx.AsyncHTTPTransport(local_address=unique_ip(), limits=limits)
        async with httpx.AsyncClient(transport=transport, timeout=30) as c:
            responses = await asyncio.gather(
                *(c.get(f"{urls[1]}/api/shipments", params={"limit": 1}, headers=auth(key)) for _ in range(50))
            )
        return [r.status_code for r in responses]

    codes = asyncio.run(burst())
    assert codes == [200] * 50, sorted(codes)
