"""app tests room: Prometheus' /metrics lives on a listener of its own (METRICS_PORT), which no Service
exposes, and not on the API's port, which the load balancer and the CDN reach."""

from __future__ import annotations

import socket
import subprocess
import sys

import httpx

from local_topology.topology import REPO, Topology, free_port


def test_metrics_are_served_on_the_metrics_port_only(topo: Topology, client: httpx.Client, urls: list[str]) -> None:
    api, metrics = urls[0], topo.metrics_url(urls[0])
    assert client.get(f"{api}/api/health").status_code == 200  # some traffic to count
    r = client.get(metrics)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain; version=")
    assert 'http_requests_total{method="GET",route="/api/health",status="200"}' in r.text
    # the public port has no /metrics (not even a redirect or an empty page)...
    public = client.get(f"{api}/metrics")
    assert public.status_code == 404 and "http_requests_total" not in public.text
    # ...and the metrics port has nothing but /metrics
    base = metrics.rsplit("/", 1)[0]
    assert client.get(f"{base}/api/shipments").status_code == 404
    assert client.get(f"{base}/api/health").status_code == 404
    assert client.post(metrics).status_code == 405
    assert client.head(metrics).status_code == 200


def _server(topo: Topology, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "shipments.server"],
        env=topo.app_process_env({"DRAIN_SECONDS": "0", **env}),
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )


def test_the_metrics_port_must_differ_from_the_api_port(topo: Topology) -> None:
    port = str(free_port())
    done = _server(topo, PORT=port, METRICS_PORT=port)
    assert done.returncode == 2 and f"METRICS_PORT={port} must differ from PORT" in done.stderr


def test_a_metrics_port_already_taken_stops_the_process_before_it_serves(topo: Topology) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        done = _server(topo, PORT=str(free_port()), METRICS_PORT=str(taken.getsockname()[1]))
    assert done.returncode != 0
    assert "address already in use" in (done.stdout + done.stderr).lower()
