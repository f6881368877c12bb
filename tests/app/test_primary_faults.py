"""app tests room: errors that say what happened (issue 27), on the real topology: a primary that
answers read-only, and a stalled PgBouncer against the request time budget."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from local_topology.topology import Topology

from .conftest import auth, detailed, wait_for
from .test_faults import _all_ready

BUDGET = 3.0


@pytest.fixture
def read_only_primary(topo: Topology, client: httpx.Client, urls: list[str]) -> Iterator[Callable[[], None]]:
    """Make the primary's address answer read-only (what a demoted node or a standby behind the
    read-write name does): every new transaction is read-only. Undone afterwards."""

    def switch() -> None:
        topo.primary_sql("ALTER SYSTEM SET default_transaction_read_only = on")
        topo.primary_sql("SELECT pg_reload_conf()")

    try:
        yield switch
    finally:
        topo.primary_sql("ALTER SYSTEM RESET default_transaction_read_only")
        topo.primary_sql("SELECT pg_reload_conf()")
        wait_for(lambda: _all_ready(client, urls), timeout=20, what="both apps ready again")


def test_a_read_only_primary_is_a_503_with_retry_after_and_not_ready(
    topo: Topology,
    client: httpx.Client,
    urls: list[str],
    writer_key: str,
    admin_key: str,
    make_shipment: Callable[..., dict[str, Any]],
    read_only_primary: Callable[[], None],
) -> None:
    s = make_shipment(writer_key)
    read_only_primary()
    for url in urls:
        patched = client.patch(
            f"{url}/api/shipments/{s['id']}", json={"origin": "Riga"}, headers=auth(writer_key, **{"If-Match": '"1"'})
        )
        assert patched.status_code == 503 and patched.headers["retry-after"] == "1", patched.text
        assert "read-only" in patched.json()["message"]
        created = client.post(
            f"{url}/api/shipments",
            json={"tracking_number": "TN-RO-" + s["id"][:8], "origin": "A", "destination": "B", "weight_kg": 1},
            headers=auth(writer_key),
        )
        assert created.status_code == 503 and created.headers["retry-after"] == "1", created.text

        def not_ready(u: str = url) -> httpx.Response | None:
            r = client.get(f"{u}/api/health/ready")
            return r if r.status_code == 503 else None

        ready = wait_for(not_ready, timeout=5, what="readiness to report the read-only primary")
        assert ready.json()["checks"]["primary"] == "read_only" and ready.json()["failed"] == ["primary"]
        d = detailed(client, url, admin_key)
        assert d["primary"]["read_only"] is True and d["status"] == "unavailable"
    # Reads still work (from the replica or the primary: reading is what a read-only node does).
    assert client.get(f"{urls[0]}/api/shipments/{s['id']}", headers=auth(writer_key)).status_code == 200


@pytest.fixture
def budgeted(topo: Topology) -> Iterator[str]:
    url = topo.start_app(name="app-budget", env={"REQUEST_TIME_BUDGET_SECONDS": str(BUDGET)})
    try:
        yield url
    finally:
        topo.stop_service("app-budget")


def test_a_stalled_pgbouncer_is_a_503_within_the_request_time_budget(
    topo: Topology, budgeted: str, reader_key: str, client: httpx.Client
) -> None:
    # The key is looked up (and cached by the process) while PgBouncer answers.
    assert client.get(f"{budgeted}/api/shipments", headers=auth(reader_key)).status_code == 200
    topo.signal("pgbouncer", signal.SIGSTOP)
    try:
        for path in ("/api/shipments", "/api/shipments/00000000-0000-4000-8000-000000000000"):
            started = time.monotonic()
            r = client.get(f"{budgeted}{path}", headers=auth(reader_key), timeout=40)
            took = time.monotonic() - started
            assert r.status_code == 503 and r.headers["retry-after"] == "1", (path, r.status_code, r.text)
            assert took < BUDGET + 1.0, (path, took)
    finally:
        topo.signal("pgbouncer", signal.SIGCONT)
