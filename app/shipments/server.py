"""app room: `python -m shipments.server`: the production entry point (container CMD and tests).

On the first SIGTERM/SIGINT the process starts draining: readiness answers 503 while requests are
still served for DRAIN_SECONDS (so the load balancer stops routing here), then uvicorn stops
accepting, finishes in-flight requests and the lifespan closes the pools. A second signal exits now.

The server runs with the limits of a production API: MAX_CONCURRENCY (uvicorn's `limit_concurrency`:
connections plus in-flight requests; a JSON 503 with Retry-After past it), KEEP_ALIVE_TIMEOUT_SECONDS
(uvicorn's `timeout_keep_alive`), and, from connection.py because uvicorn has no setting for them
with httptools, MAX_HEADER_BYTES (431), HEADER_READ_TIMEOUT_SECONDS and BODY_READ_TIMEOUT_SECONDS (408).

Liveness and readiness (`/api/health`, `/api/health/ready`, the same routes of the same app) are
also served by a listener of their own on HEALTH_PORT (8081; 0: none), where the kubelet probes:
no Service exposes it, so client traffic (a flood of idle connections, clients that do not read,
the API listener at its concurrency cap) cannot starve the probes and have the pod restarted or
taken out of the Service for what a stranger does. It serves nothing else (404).

Prometheus' /metrics is served by a second listener in the same process, on METRICS_PORT (9100; 0: none),
and nowhere else: the API's port is what the load balancer and the CDN reach, the metrics port is exposed
by no Service and admitted by the NetworkPolicy only from the monitoring namespace. It starts before the
API listener (a port already taken stops the process at once) and stops after it, so the last scrape
during a drain still answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
import threading
from collections.abc import Iterator
from types import FrameType

import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.importer import import_from_string

from .connection import LimitedHttpToolsProtocol, Limits
from .deps import LIFECYCLE
from .logs import configure_logging
from .metrics import metrics_app
from .settings import Settings, SettingsError, load_settings

log = logging.getLogger("shipments.server")


class DrainingServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, drain_seconds: float):
        super().__init__(config)
        self.drain_seconds = drain_seconds

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if LIFECYCLE.draining or self.drain_seconds <= 0:
            super().handle_exit(sig, frame)
            return
        LIFECYCLE.draining = True
        log.info("draining", extra={"signal": sig, "seconds": self.drain_seconds})
        timer = threading.Timer(self.drain_seconds, super().handle_exit, args=(sig, frame))
        timer.daemon = True
        timer.start()


class SideServer(uvicorn.Server):
    """A side listener (metrics, health). It handles no signal itself: the API server's drain
    decides when the process stops, and serve_all then stops this one."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def metrics_config(settings: Settings, host: str, limits: Limits) -> uvicorn.Config:
    return side_config(metrics_app, settings, host, settings.metrics_port, limits)


HEALTH_PATHS = frozenset({"/api/health", "/api/health/ready"})
_NOT_HERE = b'{"error":"not_found","message":"this port serves /api/health and /api/health/ready only"}'


def health_app(app: ASGIApp) -> ASGIApp:
    """The probes' listener: the API's health routes (the same app, so the same answers), nothing else."""

    async def probes(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] in HEALTH_PATHS:
            await app(scope, receive, send)
            return
        await send(
            {
                "type": "http.response.start",
                "status": 404,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(_NOT_HERE))],
            }
        )
        await send({"type": "http.response.body", "body": _NOT_HERE})

    return probes


def side_config(app: ASGIApp, settings: Settings, host: str, port: int, limits: Limits) -> uvicorn.Config:
    """A side listener's config (metrics, health): no lifespan of its own, a small concurrency cap."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        http=LimitedHttpToolsProtocol.with_limits(limits),
        ws="none",
        proxy_headers=False,
        # A scraper or two, the kubelet: never a crowd.
        limit_concurrency=32,
        timeout_keep_alive=settings.keep_alive_timeout_seconds,
        lifespan="off",
        server_header=False,
    )


async def serve_all(api: uvicorn.Server, *side: uvicorn.Server) -> None:
    """Run the API server and, around it, the side listeners: up first, down last."""
    tasks = []
    for server in side:
        task = asyncio.create_task(server.serve())
        tasks.append(task)
        while not server.started:
            if task.done():
                task.result()  # a port it could not bind: uvicorn logged why and exits
                raise SystemExit(1)
            await asyncio.sleep(0.01)
    try:
        await api.serve()
    finally:
        for server in side:
            server.should_exit = True
        for task in tasks:
            await task


def main() -> None:
    level = os.environ.get("LOG_LEVEL", "INFO").upper()
    configure_logging(level)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"shipments.server: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    limits = Limits(
        max_header_bytes=settings.max_header_bytes,
        header_read_timeout=settings.header_read_timeout_seconds,
        body_read_timeout=settings.body_read_timeout_seconds,
        max_connections_per_address=settings.max_connections_per_address,
        send_timeout=settings.send_timeout_seconds,
        trusted_proxies=settings.forwarded_allow_ips,
    )
    host = os.environ.get("HOST", "0.0.0.0")
    port = int(os.environ.get("PORT", "8000"))
    taken = {"PORT": port}
    for name, value in (("METRICS_PORT", settings.metrics_port), ("HEALTH_PORT", settings.health_port)):
        if value and value in taken.values():
            other = next(k for k, v in taken.items() if v == value)
            print(f"shipments.server: {name}={value} must differ from {other}", file=sys.stderr)
            raise SystemExit(2)
        taken[name] = value
    # Imported once the settings are known good (its import builds the app from them); the health
    # listener serves the same app object.
    app = import_from_string("shipments.main:app")
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        http=LimitedHttpToolsProtocol.with_limits(limits),
        # The API has no WebSocket route: no upgrade code on the attack surface.
        ws="none",
        # The app decides who the client is itself (shipments.forwarded: CloudFront's X-Viewer-Address
        # on requests with the origin secret, else the peer): uvicorn's proxy_headers would believe
        # the client-written leftmost X-Forwarded-For entry.
        proxy_headers=False,
        limit_concurrency=settings.max_concurrency,
        timeout_keep_alive=settings.keep_alive_timeout_seconds,
        timeout_graceful_shutdown=int(float(os.environ.get("GRACEFUL_TIMEOUT_SECONDS", "20"))),
        lifespan="on",
        server_header=False,
    )
    api = DrainingServer(config, settings.drain_seconds)
    side = []
    if settings.metrics_port:
        side.append(SideServer(metrics_config(settings, host, limits)))
    if settings.health_port:
        side.append(SideServer(side_config(health_app(app), settings, host, settings.health_port, limits)))
    with asyncio.Runner(loop_factory=config.get_loop_factory()) as runner:
        runner.run(serve_all(api, *side))


if __name__ == "__main__":
    main()
