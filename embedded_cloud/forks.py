"""Embedded cloud room: fresh processes for isolated runs and moto servers, forked from a warm parent.

The Pulumi SDK and moto keep their state in globals, so each program run and each cloud needs a
process of its own. Started from scratch, every such process paid the imports first -- pulumi,
pulumi_aws's service modules, pulumi_kubernetes, moto and botocore's models: about 3-4 s of
CPU before the first resource, dozens of times in a test session. Here they are forked instead
from a multiprocessing *forkserver* that imported all of that once (`embedded_cloud.preload`) and
ran nothing: each child starts warm and still shares no runtime state with any other.

`spawn_run` runs `run_stack` in such a child and hands back its graph (or the partial graph and the
program's error); `spawn_server` starts a moto server in one and hands back its port. A server's
process runs the first program against it itself (its own Pulumi runtime is still fresh then).
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import tempfile
import threading
from collections.abc import Iterator, Mapping
from multiprocessing import spawn
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from embedded_cloud.graph import Graph

_REPO = Path(__file__).resolve().parents[1]
_LOCK = threading.RLock()
_CONTEXT: Any = None


def context() -> Any:
    """The forkserver context; the server itself starts (and preloads) on the first fork."""
    global _CONTEXT
    with _LOCK:
        if _CONTEXT is None:
            # The fork server is spawned with this environment and does not take our sys.path
            # (Python 3.11's forkserver ignores it): the project must be importable by PYTHONPATH.
            paths = [str(_REPO), *(p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p)]
            os.environ["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
            ctx = multiprocessing.get_context("forkserver")
            ctx.set_forkserver_preload(["embedded_cloud.preload"])
            _CONTEXT = ctx
        return _CONTEXT


@contextlib.contextmanager
def _without_main() -> Iterator[None]:
    """Start a child without re-running the parent's main module in it.

    multiprocessing prepares a child by importing the parent's `__main__` again (the `berth`
    command, a benchmark script, pytest): for our children that is at best wasted time and at worst
    the command run twice. Their work is a function of this module, which needs no main module."""
    original = spawn.get_preparation_data

    def prepared(name: str) -> dict[str, Any]:
        data = original(name)
        data.pop("init_main_from_path", None)
        data.pop("init_main_from_name", None)
        return data

    with _LOCK:
        spawn.get_preparation_data = prepared  # type: ignore[assignment]
        try:
            yield
        finally:
            spawn.get_preparation_data = original  # type: ignore[assignment]


def run_and_record(stack: str, cloud: Any, overrides: dict[str, Any] | None, config: dict[str, Any] | None,
                   repo: str, out: str, keep: str | None = None, prior: str | None = None,
                   zone_ids: dict[str, str] | None = None) -> None:
    """Run the program in this (fresh) process against `cloud`; write the graph and the outcome next to `out`
    (and the unredacted state to `keep`; with `prior`, plan against that state: runner.CloudMocks;
    `zone_ids`: the account's AZ mapping, runner.run_stack)."""
    from embedded_cloud.runner import ProgramError, read_kept, run_stack, write_kept

    result: dict[str, Any] = {"ok": False}
    graph_path = Path(out).with_suffix(".graph.json")
    try:
        before = read_kept(Path(prior)) if prior else None
        run = run_stack(stack, overrides=overrides, config=config, cloud=cloud, repo=Path(repo), prior=before,
                        zone_ids=zone_ids or {})
        run.graph.write(graph_path)
        if keep:
            write_kept(Path(keep), run.state, run.inputs)
        result["ok"] = True
    except ProgramError as exc:
        if exc.graph is not None:
            exc.graph.write(graph_path)
        result["error"] = str(exc)
    except BaseException as exc:  # anything else is still the run's failure, named, not a hang
        result["error"] = f"{type(exc).__name__}: {exc}"
    Path(out).write_text(json.dumps(result))


def _run_child(stack: str, endpoint_url: str, overrides: dict[str, Any] | None, config: dict[str, Any] | None,
               repo: str, out: str, keep: str | None, prior: str | None, zone_ids: dict[str, str] | None) -> None:
    from embedded_cloud.cloud import EmbeddedCloud

    run_and_record(stack, EmbeddedCloud(endpoint_url=endpoint_url), overrides, config, repo, out, keep, prior,
                   zone_ids)
    # The child's asyncio loop and the SDK's threads need no orderly shutdown: the run is recorded.
    os._exit(0)


def _outcome(stack: str, out: Path, exitcode: int | None) -> tuple[Graph | None, str | None]:
    graph_path = out.with_suffix(".graph.json")
    graph = Graph.read(graph_path) if graph_path.exists() else None
    if not out.exists():
        return graph, f"the offline run of {stack} died (exit code {exitcode})"
    result = json.loads(out.read_text())
    return graph, None if result["ok"] else result.get("error") or f"offline run of {stack} failed"


# The servers this process started, by endpoint: each may run one program itself (see spawn_run).
_SERVERS: dict[str, tuple[Connection, threading.Lock]] = {}


def _run_in_server(endpoint_url: str, args: tuple[Any, ...], timeout: float) -> bool | None:
    """Ask the server at endpoint_url (if this process started it) to run the program in its own
    process; True when it did, False when it has run one already, None when it is not ours."""
    found = _SERVERS.get(endpoint_url)
    if found is None:
        return None
    conn, lock = found
    with lock:
        conn.send(("run", *args))
        if not conn.poll(timeout):
            raise TimeoutError(f"the offline run of {args[0]} did not finish within {timeout:.0f} s")
        return conn.recv() == "done"

def spawn_run(stack: str, *, endpoint_url: str, overrides: Mapping[str, Any] | None,
              config: Mapping[str, Any] | None, repo: Path, timeout: float, keep: Path | None = None,
              prior: Path | None = None, zone_ids: Mapping[str, str] | None = None) -> tuple[Graph | None, str | None]:
    """Run one stack in a fresh process; (graph, None) or (partial graph or None, error message).

    The first program against a server this process started runs inside that server's process,
    on its backends directly (no HTTP between program and cloud: ~30 % less CPU a run); any other
    run is a forked child talking to the server over HTTP."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "result.json"
        # zone_ids travels explicitly: a forked child has the fork server's environment, not ours.
        args = (stack, dict(overrides) if overrides else None, dict(config) if config is not None else None,
                str(repo), str(out), str(keep) if keep else None, str(prior) if prior else None, dict(zone_ids or {}))
        try:
            if _run_in_server(endpoint_url, args, timeout):
                return _outcome(stack, out, None)
        except TimeoutError as exc:
            return None, str(exc)
        ctx = context()
        proc = ctx.Process(target=_run_child, daemon=True, args=(args[0], endpoint_url, *args[1:]))
        with _without_main():
            proc.start()
        proc.join(timeout)
        if proc.is_alive():
            proc.kill()
            proc.join()
            return None, f"the offline run of {stack} did not finish within {timeout:.0f} s"
        return _outcome(stack, out, proc.exitcode)


def _server_child(conn: Connection, warm_regions: tuple[str, ...]) -> None:
    from embedded_cloud.server import serve_until_closed

    serve_until_closed(conn, warm_regions)


def spawn_server(warm_regions: tuple[str, ...]) -> tuple[Any, Connection, int]:
    """A moto server in a forked child: (process, the connection that keeps it alive, its port)."""
    ctx = context()
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_server_child, args=(child, warm_regions), daemon=True)
    with _without_main():
        proc.start()
    child.close()
    if not parent.poll(60):
        proc.kill()
        raise RuntimeError("the embedded cloud's moto server did not start within 60 s")
    port = int(parent.recv())
    _SERVERS[f"http://127.0.0.1:{port}"] = (parent, threading.Lock())
    return proc, parent, port


def forget_server(endpoint_url: str) -> None:
    """The server at endpoint_url is closing: runs against it can no longer be handed to it."""
    _SERVERS.pop(endpoint_url, None)
