"""Embedded cloud room: moto, in this process or as a loopback server, behind boto3 clients.

`EmbeddedCloud()` mocks AWS inside the current process (what `berth preview` uses: one
stack per process). `EmbeddedCloud.serve()` starts moto's threaded server on a free
127.0.0.1 port so that a program run in a child process and the tests in this one see
the same live state; `EmbeddedCloud(endpoint_url=...)` is that child's side.
"""

from __future__ import annotations

import os
import socket
import threading
from typing import Any

import boto3
from botocore.config import Config

ACCOUNT_ID = "123456789012"
_FAKE_CREDS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}
# moto answers instantly; retries would only hide handler bugs behind delays.
_BOTO_CONFIG = Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=5, read_timeout=30)


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
            from moto import mock_aws

            self._mock = mock_aws()
            self._mock.start()

    @classmethod
    def serve(cls) -> EmbeddedCloud:
        """Start moto's server on a free loopback port; stop it with close()."""
        import logging

        from moto.server import ThreadedMotoServer

        # werkzeug logs every request at INFO: thousands of lines per stack run.
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        port = _free_port()
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        server.start()
        cloud = cls(endpoint_url=f"http://127.0.0.1:{port}")
        cloud._server = server
        return cloud

    def client(self, service: str, region: str) -> Any:
        key = (service, region)
        with self._lock:
            if key not in self._clients:
                self._clients[key] = boto3.session.Session().client(
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
            self._server.stop()
            self._server = None

    def __enter__(self) -> EmbeddedCloud:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
