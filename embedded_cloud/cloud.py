"""Embedded cloud room: moto, in this process or as a loopback server, behind boto3 clients.

`EmbeddedCloud()` mocks AWS inside the current process (what `berth preview` uses: one
stack per process). `EmbeddedCloud.serve()` starts moto's threaded server on a free
127.0.0.1 port so that a program run in a child process and the tests in this one see
the same live state; `EmbeddedCloud(endpoint_url=...)` is that child's side.
"""

from __future__ import annotations

import functools
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import boto3
import botocore.loaders
import botocore.session
from botocore.config import Config

ACCOUNT_ID = "123456789012"
_REPO = Path(__file__).resolve().parents[1]
_FAKE_CREDS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}
# moto answers instantly; retries would only hide handler bugs behind delays.
_BOTO_CONFIG = Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=5, read_timeout=30)


def share_botocore_loader() -> None:
    """Make every botocore session in this process share one data loader (idempotent).

    Each `boto3.Session()` normally builds its own loader and re-parses the service and
    endpoint JSON it needs; moto creates sessions per backend, per account and per request
    parser, so a run of the program parsed the same files dozens of times (about 2 s of a
    prod preview). The data is read-only, so one loader per search path is safe to share.
    """

    if getattr(botocore.session.create_loader, "_berth_shared", False):
        return
    shared = functools.lru_cache(maxsize=None)(botocore.loaders.create_loader)
    shared._berth_shared = True  # type: ignore[attr-defined]
    botocore.session.create_loader = shared  # type: ignore[assignment]
    botocore.loaders.create_loader = shared  # type: ignore[assignment]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class EmbeddedCloud:
    """A moto-backed AWS: boto3 clients for any region, in-process or via a loopback server."""

    def __init__(self, endpoint_url: str | None = None) -> None:
        self.endpoint_url = endpoint_url
        self.account_id = ACCOUNT_ID
        self._clients: dict[tuple[str, str], Any] = {}
        share_botocore_loader()
        self._lock = threading.Lock()
        self._mock: Any = None
        self._server: Any = None
        # Never let a stray real credential or endpoint reach AWS from the embedded cloud.
        for k, v in _FAKE_CREDS.items():
            os.environ[k] = v
        os.environ.pop("AWS_PROFILE", None)
        # AWS-managed IAM policies (AmazonEKSClusterPolicy, ...) exist in every real account;
        # moto only knows them when asked before its IAM backend starts.
        os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
        if endpoint_url is None:
            # Lazy: moto costs ~0.4 s to import (python -X importtime) and only an in-process cloud needs it.
            from moto import mock_aws

            self._mock = mock_aws()
            self._mock.start()
        # One session, made after moto is imported: only sessions created after that carry
        # moto's request interceptor (a session made before would reach the real AWS).
        self._session = boto3.session.Session()

    @classmethod
    def serve(cls, warm_regions: tuple[str, ...] = ("us-east-1",)) -> EmbeddedCloud:
        """Start a moto server in its own process on a free loopback port; stop it with close().

        A process of its own because moto's backends are process-global: servers sharing a
        process would share one cloud.
        """
        env = {**os.environ, **_FAKE_CREDS, "BERTH_WARM_REGIONS": ",".join(warm_regions)}
        env["PYTHONPATH"] = os.pathsep.join([str(_REPO), env.get("PYTHONPATH", "")])
        proc = subprocess.Popen(
            [sys.executable, "-m", "embedded_cloud.server", "0"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            cwd=_REPO,
            text=True,
        )
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        if not line.isdigit():
            proc.kill()
            raise RuntimeError(f"the embedded cloud's moto server did not start (said {line!r})")
        port = int(line)
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    proc.kill()
                    raise RuntimeError("the embedded cloud's moto server is not accepting connections") from None
                time.sleep(0.05)
        cloud = cls(endpoint_url=f"http://127.0.0.1:{port}")
        cloud._server = proc
        return cloud

    def client(self, service: str, region: str) -> Any:
        key = (service, region)
        with self._lock:
            if key not in self._clients:
                self._clients[key] = self._session.client(
                    service,
                    region_name=region,
                    endpoint_url=self.endpoint_url,
                    aws_access_key_id="testing",
                    aws_secret_access_key="testing",
                    aws_session_token="testing",
                    config=_BOTO_CONFIG,
                )
            return self._clients[key]

    def close(self) -> None:
        if self._mock is not None:
            self._mock.stop()
            self._mock = None
        if self._server is not None:
            proc, self._server = self._server, None
            if proc.stdin:
                proc.stdin.close()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def __enter__(self) -> EmbeddedCloud:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
