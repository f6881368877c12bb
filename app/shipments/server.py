"""app room: `python -m shipments.server`: the production entry point (container CMD and tests).

On the first SIGTERM/SIGINT the process starts draining: readiness answers 503 while requests are
still served for DRAIN_SECONDS (so the load balancer stops routing here), then uvicorn stops
accepting, finishes in-flight requests and the lifespan closes the pools. A second signal exits now.

The server runs with the limits of a production API: MAX_CONCURRENCY (uvicorn's `limit_concurrency`:
connections plus in-flight requests; a JSON 503 with Retry-After past it), KEEP_ALIVE_TIMEOUT_SECONDS
(uvicorn's `timeout_keep_alive`), and, from connection.py because uvicorn has no setting for them
with httptools, MAX_HEADER_BYTES (431), HEADER_READ_TIMEOUT_SECONDS and BODY_READ_TIMEOUT_SECONDS (408).

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


class MetricsServer(uvicorn.Server):
    """The metrics listener. It handles no signal itself: the API server's drain decides when the
    process stops, and serve_all then stops this one."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def metrics_config(settings: Settings, host: str, limits: Limits) -> uvicorn.Config:
    return uvicorn.Config(
        metrics_app,
        host=host,
        port=settings.metrics_port,
        log_config=None,
        access_log=False,
        http=LimitedHttpToolsProtocol.with_limits(limits),
        ws="none",
        proxy_headers=False,
        # A scraper or two, never a crowd.
        limit_concurrency=32,
        timeout_keep_alive=settings.keep_alive_timeout_seconds,
        lifespan="off",
        server_header=False,
    )


async def serve_all(api: uvicorn.Server, metrics: uvicorn.Server | None) -> None:
    """Run the API server and, around it, the metrics listener: up first, down last."""
    if metrics is None:
        await api.serve()
        return
    task = asyncio.create_task(metrics.serve())
    while not metrics.started:
        if task.done():
            task.result()  # a port it could not bind: uvicorn logged why and exits
            raise SystemExit(1)
        await asyncio.sleep(0.01)
    try:
        await api.serve()
    finally:
        metrics.should_exit = True
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
    )
    host = os.environ.get("HOST", "0.0.0.0")
    port = int(os.environ.get("PORT", "8000"))
    if settings.metrics_port == port:
        print(f"shipments.server: METRICS_PORT={port} must differ from PORT (the API's port)", file=sys.stderr)
        raise SystemExit(2)
    config = uvicorn.Config(
        "shipments.main:app",
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
    metrics = MetricsServer(metrics_config(settings, host, limits)) if settings.metrics_port else None
    with asyncio.Runner(loop_factory=config.get_loop_factory()) as runner:
        runner.run(serve_all(api, metrics))


if __name__ == "__main__":
    main()
