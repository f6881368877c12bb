"""benchmarks room: load test of the Shipments API on the real local topology (stacks/local.py).

Runs wrk (C, so the load generator is not the bottleneck; Lua scripts add the headers and compute
p95) at 64 connections against:
  hello      a bare FastAPI hello-world on the same uvicorn settings: the ceiling
  cached     GET /api/shipments/{id} over a working set that fits the L1 cache
  uncached   GET /api/shipments?limit=10 (never cached; read from the replica)
  patch      PATCH /api/shipments/{id} with If-Match (each thread owns its ids and tracks versions)
and prints requests/s, requests/min, p50/p95/p99, the ratio to the hello-world ceiling, and the
cache hit rate. Every scenario is bounded in time (--duration, default 10 s).

    uv run python benchmarks/app_load.py [--duration 10] [--connections 64] [--json]
                                         [--scenarios cached,uncached,patch]

Rate limits are raised for the run (the limiter still runs on every request) so that the numbers
measure the app, not its refusals. One app process serves all scenarios, like the hello process.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from fastapi import FastAPI  # noqa: E402

from local_topology.topology import Topology, free_port  # noqa: E402

# The ceiling: the same framework and server, no middleware, no I/O.
hello_app = FastAPI()


@hello_app.get("/hello")
async def hello() -> dict[str, str]:
    return {"hello": "world"}


DONE_LUA = r"""
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests":%d,"duration_us":%d,"non2xx":%d,"socket_errors":%d,' ..
    '"p50_us":%d,"p95_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max))
end
"""


SCENARIOS = ("cached", "uncached", "patch")


def _lua_list(items: list[str]) -> str:
    return "{" + ",".join(f'"{i}"' for i in items) + "}"


def script_get(path: str, key: str | None) -> str:
    auth = f'wrk.headers["Authorization"] = "Bearer {key}"\n' if key else ""
    return f'wrk.method = "GET"\nwrk.path = "{path}"\n{auth}{DONE_LUA}'


def script_cached(ids: list[str], key: str) -> str:
    return f"""
wrk.headers["Authorization"] = "Bearer {key}"
local ids = {_lua_list(ids)}
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", "/api/shipments/" .. ids[(i % #ids) + 1])
end
{DONE_LUA}"""


def script_patch(ids: list[str], key: str, threads: int) -> str:
    # Each wrk thread owns a disjoint slice of ids and remembers each id's version from the
    # responses; slices are far larger than the connections per thread, so an id is never in
    # flight twice and a 409 would mean a real lost race.
    return f"""
local all = {_lua_list(ids)}
local counter = 0
setup = function(thread)
  thread:set("tid", counter)
  counter = counter + 1
end
local mine, versions, i = {{}}, {{}}, 0
init = function(args)
  for n = 1, #all do
    if (n - 1) % {threads} == tid then
      mine[#mine + 1] = all[n]
      versions[all[n]] = 1
    end
  end
end
request = function()
  i = i + 1
  local id = mine[(i % #mine) + 1]
  return wrk.format("PATCH", "/api/shipments/" .. id, {{
    ["Authorization"] = "Bearer {key}",
    ["Content-Type"] = "application/json",
    ["If-Match"] = '"' .. versions[id] .. '"',
  }}, '{{"status":"in_transit"}}')
end
response = function(status, headers, body)
  if status == 200 then
    local id, v = body:match('"id":"([^"]+)".-"version":(%d+)')
    if id then versions[id] = tonumber(v) end
  end
end
{DONE_LUA}"""


def run_wrk(url: str, script: str, duration: int, connections: int, threads: int, workdir: Path) -> dict[str, Any]:
    path = workdir / f"s{time.monotonic_ns()}.lua"
    path.write_text(script)
    result = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--timeout", "5s", "-s", str(path), url],
        capture_output=True,
        text=True,
        timeout=duration + 30,
    )
    line = next((ln for ln in result.stdout.splitlines() if ln.startswith("RESULT ")), None)
    if result.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({result.returncode}): {result.stdout}\n{result.stderr}")
    data = json.loads(line[len("RESULT ") :])
    seconds = data["duration_us"] / 1e6
    data["rps"] = data["requests"] / seconds
    return data


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measured(pid: int, run: Any) -> dict[str, Any]:
    """Run a scenario and add the server's CPU time per request: unlike req/s, it does not depend
    much on how busy the rest of the machine is."""
    before = cpu_seconds(pid)
    result = run()
    result["cpu_ms_per_request"] = (cpu_seconds(pid) - before) * 1000 / max(result["requests"], 1)
    result["cpu_share"] = (cpu_seconds(pid) - before) / (result["duration_us"] / 1e6)
    return result


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per scenario")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", action="store_true", help="also print the results as JSON")
    parser.add_argument(
        "--scenarios",
        default=",".join(SCENARIOS),
        help=f"comma-separated subset of {','.join(SCENARIOS)} (the hello-world ceiling always runs)",
    )
    args = parser.parse_args(argv)
    chosen = {s.strip() for s in args.scenarios.split(",") if s.strip()}
    if not chosen or not chosen <= set(SCENARIOS):
        parser.error(f"--scenarios takes a comma-separated subset of {','.join(SCENARIOS)}")
    if shutil.which("wrk") is None:
        print("benchmarks/app_load.py needs wrk: apt-get install wrk", file=sys.stderr)
        return 2

    huge = str(10**9)
    topo = Topology(
        apps=1,
        app_env={
            "RATE_LIMIT_READS_PER_MINUTE": huge,
            "RATE_LIMIT_WRITES_PER_MINUTE": huge,
            "LOG_LEVEL": "INFO",
        },
    )
    hello_proc: subprocess.Popen[bytes] | None = None
    workdir = Path(tempfile.mkdtemp(prefix="berth-bench-"))
    try:
        print("starting the local topology ...", file=sys.stderr)
        topo.start()
        app_url = topo.app_urls[0]
        hello_port = free_port()
        hello_proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "benchmarks.app_load:hello_app",
                "--host",
                "127.0.0.1",
                "--port",
                str(hello_port),
                "--no-access-log",
                "--log-level",
                "warning",
                "--no-server-header",
            ],
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            start_new_session=True,
        )
        hello_url = f"http://127.0.0.1:{hello_port}"
        _wait(hello_url + "/hello")

        key = topo.create_key("writer", "bench")
        admin = topo.create_key("admin", "bench")
        # Seed rows straight into the primary (fast), then let them replicate.
        topo.primary_sql(
            "INSERT INTO shipments (tracking_number, origin, destination, weight_kg)"
            " SELECT 'BENCH-' || md5(random()::text) || g, 'Rotterdam', 'Oslo', 1 + g % 50"
            " FROM generate_series(1, 4200) g",
            db="shipments",
        )
        ids = topo.primary_sql("SELECT id FROM shipments WHERE tracking_number LIKE 'BENCH-%'", db="shipments").split()
        cached_ids, patch_ids = ids[:200], ids[200:4200]
        time.sleep(1.0)
        # Warm the caches for the cached scenario (first reads are misses that fill Redis and L1).
        warm = Request(app_url, key)
        for sid in cached_ids:
            warm.get(f"/api/shipments/{sid}")

        results: dict[str, dict[str, Any]] = {}
        d, c, t = args.duration, args.connections, args.threads
        print(f"hello-world ceiling ({d}s) ...", file=sys.stderr)
        load_before = os.getloadavg()
        hello_pid = hello_proc.pid
        app_pid = topo.services["app0"].pid
        assert app_pid is not None
        results["hello"] = measured(
            hello_pid, lambda: run_wrk(hello_url + "/hello", script_get("/hello", None), d, c, t, workdir)
        )
        before = after = get_json(app_url + "/api/metrics")["cache"]
        if "cached" in chosen:
            print(f"cached GET ({d}s) ...", file=sys.stderr)
            results["cached GET"] = measured(
                app_pid, lambda: run_wrk(app_url, script_cached(cached_ids, key), d, c, t, workdir)
            )
            after = get_json(app_url + "/api/metrics")["cache"]
        if "uncached" in chosen:
            print(f"uncached GET, replica ({d}s) ...", file=sys.stderr)
            results["uncached GET (replica)"] = measured(
                app_pid,
                lambda: run_wrk(
                    app_url + "/api/shipments?limit=10", script_get("/api/shipments?limit=10", key), d, c, t, workdir
                ),
            )
        if "patch" in chosen:
            print(f"PATCH ({d}s) ...", file=sys.stderr)
            results["PATCH"] = measured(
                app_pid, lambda: run_wrk(app_url, script_patch(patch_ids, key, t), d, c, t, workdir)
            )
        load_after = os.getloadavg()
        total = get_json(app_url + "/api/metrics")["cache"]
        detailed = Request(app_url, admin).get("/api/health/detailed")
    finally:
        if hello_proc is not None:
            hello_proc.send_signal(signal.SIGTERM)
            hello_proc.wait(timeout=10)
        topo.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    hits = after["hits"] - before["hits"]
    misses = after["misses"] - before["misses"]
    cached_rate = hits / (hits + misses) if hits + misses else 0.0
    ceiling = results["hello"]["rps"]
    print(
        f"\n{args.connections} connections, {args.threads} wrk threads, {args.duration}s per scenario, "
        f"1 app process, {os.cpu_count()} CPUs shared by wrk, the app, PostgreSQL x2, PgBouncer, Redis; "
        f"load average {load_before[0]:.1f} before, {load_after[0]:.1f} after\n"
    )
    header = (
        f"{'scenario':<24}{'req/s':>10}{'req/min':>11}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}"
        f"{'non-2xx':>9}{'vs hello':>10}{'CPU ms/req':>12}{'CPU used':>10}"
    )
    print(header)
    print("-" * len(header))
    for name, r in results.items():
        print(
            f"{name:<24}{r['rps']:>10.0f}{r['rps'] * 60:>11.0f}{r['p50_us'] / 1000:>9.2f}"
            f"{r['p95_us'] / 1000:>9.2f}{r['p99_us'] / 1000:>9.2f}{r['non2xx'] + r['socket_errors']:>9}"
            f"{r['rps'] / ceiling:>10.1%}{r['cpu_ms_per_request']:>12.2f}{r['cpu_share']:>10.0%}"
        )
    if "cached" in chosen:
        print(f"\ncache hit rate during the cached GET run: {cached_rate:.2%} ({hits} hits, {misses} misses)")
    print(f"cache hit rate over the whole run (app /api/metrics): {total['hit_rate'] or 0:.2%}")
    print(
        f"replica in read pool at the end: {detailed['replicas'][0]['in_read_pool']}, "
        f"lag {detailed['replicas'][0]['lag_seconds']}s"
    )
    if args.json:
        print(json.dumps({"results": results, "cached_hit_rate": cached_rate, "overall_hit_rate": total["hit_rate"]}))
    return 0


class Request:
    """Minimal keep-alive-free GET helper for warming the cache."""

    def __init__(self, base: str, key: str):
        self.base = base
        self.headers = {"Authorization": f"Bearer {key}"}

    def get(self, path: str) -> Any:
        req = urllib.request.Request(self.base + path, headers=self.headers)
        with urllib.request.urlopen(req, timeout=5) as response:
            return json.loads(response.read())


def _wait(url: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout}s")


if __name__ == "__main__":
    raise SystemExit(main())
