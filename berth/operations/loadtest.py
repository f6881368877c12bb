"""Operations room: the load gate -- a bounded load and the SLOs it must meet.

`run(url, slo)` drives wrk (Debian's package, C: the generator is never the bottleneck;
`./scripts/bootstrap` installs it) against one URL for `duration_seconds` over `connections`
keep-alive connections, paced to at most `rate` requests per second: wrk's Lua `delay()` hook
holds each connection for connections/rate seconds between responses. The pacing is closed-loop
(a slow response delays the next request instead of queueing it), so under overload the achieved
rate drops below the target -- reported next to the target, never hidden. `check()` compares
p50/p95/p99 and the error share (connect/read/write errors, timeouts, HTTP >= 400) with the
stack's `berth:slo` (defaults p50 < 50 ms, p95 < 200 ms, p99 < 500 ms, errors < 0.1 %).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
import urllib.parse
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from berth.operations.deploy import OpsError
from stacks.config import SloSettings

# wrk's done() hook writes the figures as JSON; latencies arrive in microseconds.
_SCRIPT = """\
local pause = {pause}
local threads = {{}}
function setup(thread)
  table.insert(threads, thread)
end
function init(args)
  statuses = {{}}
end
function delay()
  return pause
end
function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end
function done(summary, latency, requests)
  local totals = {{}}
  for _, t in ipairs(threads) do
    for code, n in pairs(t:get("statuses")) do
      totals[code] = (totals[code] or 0) + n
    end
  end
  local codes = {{}}
  for code, n in pairs(totals) do
    table.insert(codes, string.format('"%d":%d', code, n))
  end
  local e = summary.errors
  local f = assert(io.open("{out}", "w"))
  f:write(string.format(
    '{{"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,' ..
    '"p50_us":%d,"p95_us":%d,"p99_us":%d,"max_us":%d,"codes":{{%s}}}}',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max,
    table.concat(codes, ",")))
  f:close()
end
"""


@dataclass
class LoadResult:
    """What one bounded run measured."""

    url: str
    target_rate: int
    duration_seconds: float
    connections: int
    requests: int
    errors: dict[str, int]
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    # Every answer by HTTP status ("200": 1480, "401": 20): what the errors were.
    status_codes: dict[str, int] = field(default_factory=dict)

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    def error_breakdown(self) -> str:
        """The errors by cause: HTTP statuses >= 400 by code, then connection errors and timeouts."""
        parts = [f"HTTP {code} x{n}" for code, n in sorted(self.status_codes.items()) if int(code) >= 400]
        parts += [f"{kind} x{n}" for kind, n in sorted(self.errors.items()) if kind != "status"]
        return ", ".join(parts)

    @property
    def error_percent(self) -> float:
        return 100.0 * self.error_count / self.requests if self.requests else 100.0

    @property
    def achieved_rate(self) -> float:
        return self.requests / self.duration_seconds if self.duration_seconds else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "error_percent": round(self.error_percent, 4),
                "achieved_rate": round(self.achieved_rate, 1)}


@dataclass
class Verdict:
    """A run judged against its SLOs: `misses` names each target missed, with the figures."""

    result: LoadResult
    slo: SloSettings
    misses: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.misses

    def rows(self) -> list[tuple[str, str, str, bool]]:
        """(measure, measured, target, met) for printing."""
        r, s = self.result, self.slo
        return [
            ("p50", f"{r.p50_ms:.1f} ms", f"< {s.p50_ms:g} ms", r.p50_ms < s.p50_ms),
            ("p95", f"{r.p95_ms:.1f} ms", f"< {s.p95_ms:g} ms", r.p95_ms < s.p95_ms),
            ("p99", f"{r.p99_ms:.1f} ms", f"< {s.p99_ms:g} ms", r.p99_ms < s.p99_ms),
            ("errors", f"{r.error_percent:.3f} % ({r.error_count}/{r.requests}"
                       + (f": {r.error_breakdown()})" if r.error_count else ")"), f"< {s.error_percent:g} %",
             r.error_percent < s.error_percent or (r.error_count == 0 and r.requests > 0)),
        ]

    def summary(self) -> str:
        r = self.result
        figures = ", ".join(f"{name} {measured}" for name, measured, _, _ in self.rows())
        return (f"{r.url}: {r.requests} requests in {r.duration_seconds:.1f}s ({r.achieved_rate:.1f}/s of "
                f"{r.target_rate}/s over {r.connections} connections): {figures}")


def target_url(url: str, slo: SloSettings) -> str:
    """The URL to load: as given when it names a path, else the base with the SLO's path."""
    parts = urllib.parse.urlsplit(url if "://" in url else f"https://{url}")
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise OpsError(f"not an http(s) URL: {url!r}")
    if parts.path in ("", "/"):
        return urllib.parse.urlunsplit((parts.scheme, parts.netloc, slo.path, "", ""))
    return urllib.parse.urlunsplit(parts)


def parse_header(value: str) -> tuple[str, str]:
    """`Name: value` as given to --header (an Authorization header, say); OpsError naming it otherwise."""
    name, sep, rest = value.partition(":")
    if not sep or not re.fullmatch(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+", name.strip()) or not rest.strip():
        raise OpsError(f"--header {value!r}: give it as 'Name: value', e.g. 'Authorization: Bearer KEY'")
    return name.strip(), rest.strip()


def run(url: str, slo: SloSettings, *, timeout_seconds: float = 2.0,
        headers: Mapping[str, str] | None = None) -> LoadResult:
    """Drive the bounded load at `url` (exactly as given), with `headers` on every request, and
    return the figures."""
    wrk = shutil.which("wrk")
    if wrk is None:
        raise OpsError("wrk is not installed: apt-get install wrk (./scripts/bootstrap installs it)")
    threads = min(2, slo.connections)
    pause_ms = max(1, round(1000 * slo.connections / slo.rate))
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "result.json"
        script = Path(tmp) / "pace.lua"
        script.write_text(_SCRIPT.format(pause=pause_ms, out=out))
        cmd = [wrk, "-t", str(threads), "-c", str(slo.connections), "-d", f"{slo.duration_seconds}s",
               "--timeout", f"{timeout_seconds:g}s", "-s", str(script),
               *(arg for name, value in (headers or {}).items() for arg in ("-H", f"{name}: {value}")), url]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=slo.duration_seconds + 60)
        if proc.returncode != 0 or not out.exists():
            detail = (proc.stderr or proc.stdout).strip().splitlines()
            raise OpsError(f"wrk could not load {url}: {detail[-1] if detail else f'exit {proc.returncode}'}")
        raw = json.loads(out.read_text())
    return LoadResult(
        url=url,
        target_rate=slo.rate,
        duration_seconds=raw["duration_us"] / 1e6,
        connections=slo.connections,
        requests=raw["requests"],
        errors={k: raw[k] for k in ("connect", "read", "write", "status", "timeout") if raw[k]},
        p50_ms=raw["p50_us"] / 1000,
        p95_ms=raw["p95_us"] / 1000,
        p99_ms=raw["p99_us"] / 1000,
        max_ms=raw["max_us"] / 1000,
        status_codes={str(k): v for k, v in sorted(raw.get("codes", {}).items())},
    )


def check(result: LoadResult, slo: SloSettings) -> Verdict:
    """Judge a run: every percentile strictly below its target, the error share below its own."""
    verdict = Verdict(result, slo)
    if result.requests == 0:
        verdict.misses.append(f"no request completed against {result.url}")
        return verdict
    for name, measured, target, met in verdict.rows():
        if not met:
            verdict.misses.append(f"{name} {measured}, target {target}")
    return verdict


def gate(url: str, slo: SloSettings, headers: Mapping[str, str] | None = None) -> Verdict:
    """Run the load at url (a base URL gets the SLO's path) and judge it."""
    return check(run(target_url(url, slo), slo, headers=headers), slo)


# What the promotion's authenticated phase reads: a page of shipments, through the reader path
# (authentication, rate limiter, cache, read replicas).
API_READ_PATH = "/api/shipments?limit=10"


def authenticated_read(slo: SloSettings, reads_per_minute: int) -> SloSettings:
    """The SLO's targets for an authenticated read of the API with one key: the API's path, paced
    within the key's read limit (a faster load would measure the rate limiter's 429s, not the API)."""
    rate = max(1, min(slo.rate, reads_per_minute * 9 // 10 // 60))
    return slo.model_copy(update={"path": API_READ_PATH, "rate": rate, "connections": min(slo.connections, rate)})
