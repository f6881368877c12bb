"""Embedded cloud room: a moto server in its own process, warmed while the program imports.

moto keeps its backends in module globals, so two servers inside one process share one
cloud; a process per cloud is the only real isolation. Running it beside the program also
buys time on a second core: moto's service models (EC2's region and instance-type tables
above all) load here while the program imports the Pulumi SDKs there.

Protocol: prints the port on the first line of stdout as soon as it listens, then warms
the backends the program uses; it stops when its stdin closes (its parent went away) or
on SIGTERM.

moto and the handlers are imported inside main() on purpose: moto reads its environment
(credentials, MOTO_IAM_LOAD_MANAGED_POLICIES) when its backends are imported, so main() sets it first.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import sys
import threading
from typing import Any

# The services the program touches, in the order it first touches them.
WARM_SERVICES = (
    "ec2", "sts", "kms", "logs", "iam", "eks", "rds", "elasticache", "s3", "cloudfront",
    "wafv2", "acm", "sns", "cloudwatch", "events", "backup", "synthetics",
)
ACCOUNT_ID = "123456789012"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def warm(regions: list[str]) -> None:
    """Import and instantiate the backends so the first real request does not pay for it."""
    from moto.backends import get_backend

    for service in WARM_SERVICES:
        try:
            backend = get_backend(service)  # type: ignore[call-overload]
        except Exception:  # a service moto lacks warms nothing
            continue
        for region in regions:
            # Global services (IAM, CloudFront) live in the partition, not in a region.
            with contextlib.suppress(Exception):
                backend[ACCOUNT_ID][region if service not in ("iam", "cloudfront") else "aws"]


def _prepare() -> None:
    for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        os.environ[k] = "testing"
    # AWS-managed IAM policies: loaded one by one when first named (handlers/iam.py), not all up front.
    os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "false"
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    from embedded_cloud.cloud import share_botocore_loader, speed_up_moto

    share_botocore_loader()
    # Handler modules may teach moto behaviour it lacks; that must happen where moto runs.
    from embedded_cloud.handlers import load_all

    load_all()
    speed_up_moto()


def _start(port: int) -> Any:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    return server


def serve_until_closed(conn: Any, warm_regions: tuple[str, ...]) -> None:
    """A forked child's server (embedded_cloud/forks.py): sends its port on `conn`, then serves until
    the parent closes it (or goes away) and exits at once. Asked to ("run", ...), it runs that
    program itself, once, on its own backends (its Pulumi runtime is fresh only for one program)."""
    _prepare()
    port = _free_port()
    _start(port)
    conn.send(port)
    warmer = threading.Thread(target=warm, args=(list(warm_regions),), daemon=True)
    warmer.start()
    ran = False
    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError):
            break
        if request[0] != "run" or ran:
            conn.send("refused")
            continue
        ran = True
        warmer.join()  # the backends it makes are the ones the program is about to use
        from embedded_cloud.cloud import EmbeddedCloud
        from embedded_cloud.forks import run_and_record

        stack, overrides, config, repo, out, keep, prior, zone_ids = request[1:]
        run_and_record(stack, EmbeddedCloud(keep_state=True), overrides, config, repo, out, keep, prior, zone_ids)
        conn.send("done")
    os._exit(0)


def main() -> int:
    _prepare()
    port = int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1] != "0" else _free_port()
    _start(port)
    print(port, flush=True)
    regions = [r for r in (os.environ.get("BERTH_WARM_REGIONS") or "us-east-1").split(",") if r]
    threading.Thread(target=warm, args=(regions,), daemon=True).start()

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())

    def watch_stdin() -> None:
        try:
            sys.stdin.read()
        finally:
            stop.set()

    threading.Thread(target=watch_stdin, daemon=True).start()
    stop.wait()
    # Nothing to flush: the cloud's state dies with the process, at once.
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
