"""Embedded cloud room: moto, in this process or as a loopback server, behind boto3 clients.

`EmbeddedCloud()` mocks AWS inside the current process (what `berth preview` uses: one
stack per process). `EmbeddedCloud.serve()` starts moto's threaded server on a free
127.0.0.1 port so that a program run in a child process and the tests in this one see
the same live state; `EmbeddedCloud(endpoint_url=...)` is that child's side.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import pickle
import socket
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
    _parse_json_once()


def speed_up_moto() -> None:
    """moto lists a response class's methods with inspect.getmembers on every request it dispatches
    (~1 % of a prod preview); the classes do not change, so the list is kept per class (idempotent)."""
    from moto.core import responses  # lazy: see embedded_cloud/__init__.py

    if getattr(responses.method_names_from_class, "_berth_cached", False):
        return
    cached = functools.cache(responses.method_names_from_class)
    cached._berth_cached = True  # type: ignore[attr-defined]
    responses.method_names_from_class = cached  # type: ignore[assignment]


def json_cache_dir() -> Path:
    """Where parsed botocore data files are kept between processes (one directory per botocore version)."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "berth" / f"botocore-{botocore.__version__}"


def _parse_json_once() -> None:
    """botocore's data files (service models, endpoint rules, paginators) parsed once per machine.

    Sessions made by moto and by the clients still asked the file loader for the same files: 324
    loads of ~40 files in a prod preview, ~1 s (EC2's 3 MB model several times over, each through
    json.loads with an OrderedDict hook). Each file is now parsed once and kept as a pickle -- in
    memory and on disk under json_cache_dir(), keyed by the file's path, size and mtime -- and every
    load returns a fresh copy (pickle.loads is ~4x json.loads), so no caller shares a mutable dict.
    """
    loader_cls = botocore.loaders.JSONFileLoader
    if getattr(loader_cls.load_file, "_berth_cached", False):
        return
    original = loader_cls.load_file
    memo: dict[str, bytes | None] = {}
    cache = json_cache_dir()

    def load_file(self: Any, file_path: str) -> Any:
        if file_path not in memo:
            memo[file_path] = _cached_blob(cache, file_path, lambda: original(self, file_path))
        blob = memo[file_path]
        return None if blob is None else pickle.loads(blob)

    load_file._berth_cached = True  # type: ignore[attr-defined]
    loader_cls.load_file = load_file  # type: ignore[method-assign]


def _cached_blob(cache: Path, file_path: str, parse: Any) -> bytes | None:
    stamp = ""
    for ext in (".json", ".json.gz"):
        with contextlib.suppress(OSError):
            st = os.stat(file_path + ext)
            stamp = f"{file_path}{ext}:{st.st_size}:{st.st_mtime_ns}"
            break
    if not stamp:
        return None  # no such file: botocore's loader answers None too
    disk = cache / f"{hashlib.sha256(stamp.encode()).hexdigest()[:32]}.pickle"
    with contextlib.suppress(OSError):
        return disk.read_bytes()
    data = parse()
    if data is None:
        return None
    blob = pickle.dumps(data, protocol=pickle.HIGHEST_PROTOCOL)
    with contextlib.suppress(OSError):  # a read-only home only costs the parse next time
        cache.mkdir(parents=True, exist_ok=True)
        tmp = disk.with_name(f"{disk.name}.{os.getpid()}.tmp")
        tmp.write_bytes(blob)
        tmp.replace(disk)
    return blob


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class EmbeddedCloud:
    """A moto-backed AWS: boto3 clients for any region, in-process or via a loopback server."""

    def __init__(self, endpoint_url: str | None = None, *, keep_state: bool = False) -> None:
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
        # AWS-managed IAM policies (AmazonEKSClusterPolicy, ...) exist in every real account: the
        # handlers load each the first time a call names it (handlers/iam.py), not all ~1,600 up front.
        os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "false"
        if endpoint_url is None:
            # Lazy: moto costs ~0.4 s to import (python -X importtime) and only an in-process cloud needs it.
            from moto import mock_aws

            self._mock = mock_aws()
            # keep_state: the moto server of this same process already holds the cloud (seeded data).
            self._mock.start(reset=not keep_state)
        # One session, made after moto is imported: only sessions created after that carry
        # moto's request interceptor (a session made before would reach the real AWS).
        self._session = boto3.session.Session()

    @classmethod
    def serve(cls, warm_regions: tuple[str, ...] = ("us-east-1",)) -> EmbeddedCloud:
        """Start a moto server in a process of its own on a free loopback port; stop it with close().

        A process of its own because moto's backends are process-global: servers sharing a
        process would share one cloud. It is forked warm (embedded_cloud/forks.py).
        """
        from embedded_cloud.forks import spawn_server  # forks imports graph, which needs nothing of this module

        proc, conn, port = spawn_server(tuple(warm_regions))
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or not proc.is_alive():
                    proc.kill()
                    raise RuntimeError("the embedded cloud's moto server is not accepting connections") from None
                time.sleep(0.05)
        cloud = cls(endpoint_url=f"http://127.0.0.1:{port}")
        cloud._server = (proc, conn)
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
            (proc, conn), self._server = self._server, None
            from embedded_cloud.forks import forget_server

            forget_server(self.endpoint_url or "")
            conn.close()  # the server exits when its parent's end closes
            proc.join(5)
            if proc.is_alive():
                proc.kill()
                proc.join()

    def __enter__(self) -> EmbeddedCloud:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
