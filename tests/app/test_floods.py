"""app tests room: connection floods against a real app process (issue 27): one address's idle
connections are capped, a client that stops reading is cut off, and the probes (on the health
listener, HEALTH_PORT) and other clients are served throughout."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from local_topology.topology import Topology

from .conftest import auth, from_address, unique_ip, wait_for
from .test_hostile import AppLog, port_of

SEND_TIMEOUT = 2.0
PER_ADDRESS = 64  # MAX_CONNECTIONS_PER_ADDRESS's default
FLOOD = 1000


@pytest.fixture(scope="module")
def flooded(topo: Topology) -> Iterator[str]:
    # Production's settings but the send timeout, short so the test is quick.
    url = topo.start_app(name="app-flood", env={"SEND_TIMEOUT_SECONDS": str(SEND_TIMEOUT)})
    try:
        yield url
    finally:
        topo.stop_service("app-flood")


def _open(address: str, port: int, count: int) -> list[socket.socket]:
    socks = []
    for _ in range(count):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind((address, 0))
        sock.settimeout(5)
        sock.connect(("127.0.0.1", port))
        socks.append(sock)
    return socks


def _still_open(socks: list[socket.socket]) -> int:
    """How many the server has not closed (a closed one reads EOF or a reset at once)."""
    alive = 0
    for sock in socks:
        sock.setblocking(False)
        try:
            alive += sock.recv(1) != b""
        except BlockingIOError:
            alive += 1  # nothing to read, not closed
        except OSError:
            pass
    return alive


def _timed(fn: Callable[[], httpx.Response]) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = fn()
    return response, time.monotonic() - started


def test_a_thousand_idle_connections_from_one_address_starve_neither_probes_nor_others(
    topo: Topology,
    flooded: str,
    reader_key: str,
    writer_key: str,
    make_shipment: Callable[..., dict[str, Any]],
) -> None:
    shipment = make_shipment(writer_key)
    log = AppLog(topo, "app-flood")
    health = topo.health_url(flooded)
    socks = _open(unique_ip(), port_of(flooded), FLOOD)
    try:
        time.sleep(0.5)  # let the server accept (and refuse) them
        # The flood's address keeps at most its cap of connections; the rest were closed at once.
        assert _still_open(socks) <= PER_ADDRESS
        with httpx.Client(timeout=5) as probe:
            for path in ("/api/health", "/api/health/ready"):
                r, took = _timed(lambda p=path: probe.get(health + p))
                assert r.status_code == 200 and took < 1.0, (path, r.status_code, took)
            # The health listener serves the probes and nothing else.
            assert probe.get(f"{health}/api/shipments").status_code == 404
        with from_address(unique_ip(), timeout=5) as other:
            r, took = _timed(lambda: other.get(f"{flooded}/api/shipments/{shipment['id']}", headers=auth(reader_key)))
            assert r.status_code == 200 and took < 1.0, (r.status_code, took)
    finally:
        for sock in socks:
            sock.close()
    refusals = [e for e in log.lines() if e.get("msg") == "connections refused: per-address cap"]
    assert refusals and refusals[0]["cap"] == PER_ADDRESS


def test_a_client_that_stops_reading_is_cut_off_and_probes_still_answer(topo: Topology, flooded: str) -> None:
    log = AppLog(topo, "app-flood")
    health = topo.health_url(flooded)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # a client that reads nothing, fills soon
    sock.bind((unique_ip(), 0))
    sock.settimeout(5)
    sock.connect(("127.0.0.1", port_of(flooded)))
    try:
        # Pipelined requests for the OpenAPI document (anonymous, tens of KiB each): megabytes of
        # answers for a client that never reads one.
        request = b"GET /api/openapi.json HTTP/1.1\r\nHost: x\r\n\r\n"
        sent = 0
        sock.setblocking(False)
        deadline = time.monotonic() + 3
        while sent < 400 and time.monotonic() < deadline:
            try:
                sock.send(request)
                sent += 1
            except BlockingIOError:
                time.sleep(0.01)
        stuck_at = time.monotonic()

        def aborted() -> list[dict[str, Any]]:
            return [e for e in log.lines() if e.get("msg") == "connection aborted: client not reading"]

        entries = wait_for(aborted, timeout=SEND_TIMEOUT + 5, interval=0.1, what="the non-reading client cut off")
        assert time.monotonic() - stuck_at < SEND_TIMEOUT + 5
        assert entries[0]["unsent_bytes"] > 0
        with httpx.Client(timeout=5) as probe:
            r, took = _timed(lambda: probe.get(health + "/api/health/ready"))
            assert r.status_code == 200 and took < 1.0
        # The server let go: what the client reads ends in a reset or EOF, not a wait.
        sock.settimeout(5)
        got_end = False
        try:
            while sock.recv(65536):
                pass
            got_end = True
        except ConnectionResetError:
            got_end = True
        assert got_end
    finally:
        sock.close()
