"""app room: `python -m shipments.server`: the production entry point (container CMD and tests).

On the first SIGTERM/SIGINT the process starts draining: readiness answers 503 while requests are
still served for DRAIN_SECONDS (so the load balancer stops routing here), then uvicorn stops
accepting, finishes in-flight requests and the lifespan closes the pools. A second signal exits now.
"""

from __future__ import annotations

import logging
import os
import threading
from types import FrameType

import uvicorn

from .logs import configure_logging
from .main import LIFECYCLE

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


def main() -> None:
    level = os.environ.get("LOG_LEVEL", "INFO").upper()
    configure_logging(level)
    config = uvicorn.Config(
        "shipments.main:app",
        host=os.environ.get("HOST", "0.0.0.0"),
        port=int(os.environ.get("PORT", "8000")),
        log_config=None,
        access_log=False,
        proxy_headers=True,
        forwarded_allow_ips=os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1"),
        timeout_graceful_shutdown=int(float(os.environ.get("GRACEFUL_TIMEOUT_SECONDS", "20"))),
        lifespan="on",
        server_header=False,
    )
    DrainingServer(config, float(os.environ.get("DRAIN_SECONDS", "5"))).run()


if __name__ == "__main__":
    main()
