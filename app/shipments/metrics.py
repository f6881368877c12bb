"""app room: Prometheus metrics and the in-process counters behind /api/metrics.

Route templates (never raw paths) label the HTTP series, so cardinality stays bounded. The Prometheus
text is served by `metrics_app` alone, on the metrics listener (METRICS_PORT, see shipments.server),
never on the API's port: the API's port is what the load balancer and the CDN reach.

The two per-request series (`http_requests_total`, `http_request_duration_seconds`) are plain
counters in dictionaries, turned into Prometheus families only when scraped: prometheus_client's
`labels(...).inc()` and `Histogram.observe()` take a lock and walk the buckets per call, about 3 % of
a cached GET. The families and their samples are the ones prometheus_client's own Counter and
Histogram would expose (without the `_created` series).
"""

from __future__ import annotations

import bisect
import time
from collections import deque
from collections.abc import Iterator

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString
from starlette.types import Receive, Scope, Send

DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1.0, 2.5, 5.0)


class HttpCollector(Collector):
    """Per-request counts and durations, by method, route template and status."""

    def __init__(self, buckets: tuple[float, ...] = DURATION_BUCKETS):
        self.bounds = buckets
        self.requests: dict[tuple[str, str, str], int] = {}
        # (method, route) -> [count per bucket (the last is +Inf, not cumulative), sum]
        self.durations: dict[tuple[str, str], tuple[list[int], list[float]]] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, str(status))
        self.requests[key] = self.requests.get(key, 0) + 1
        series = self.durations.get((method, route))
        if series is None:
            series = self.durations[(method, route)] = ([0] * (len(self.bounds) + 1), [0.0])
        series[0][bisect.bisect_left(self.bounds, seconds)] += 1
        series[1][0] += seconds

    def collect(self) -> Iterator[Metric]:
        # list(dict.items()) copies in one C call: safe if a scrape ever runs on another thread.
        counter = CounterMetricFamily("http_requests", "HTTP requests", labels=["method", "route", "status"])
        for request_labels, value in sorted(list(self.requests.items())):
            counter.add_metric(list(request_labels), value)
        yield counter
        histogram = HistogramMetricFamily(
            "http_request_duration_seconds", "HTTP request duration", labels=["method", "route"]
        )
        for series_labels, (counts, total) in sorted(list(self.durations.items())):
            cumulative, buckets = 0, []
            for bound, count in zip((*self.bounds, float("inf")), list(counts), strict=True):
                cumulative += count
                buckets.append((floatToGoString(bound), cumulative))
            histogram.add_metric(list(series_labels), buckets, total[0])
        yield histogram


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.http = HttpCollector()
        r.register(self.http)
        self.cache_hits = Counter("cache_hits_total", "Cache hits", ["layer"], registry=r)
        self.cache_misses = Counter("cache_misses_total", "Cache misses (loaded from the database)", registry=r)
        self.cache_loads = Counter(
            "cache_loads_total", "Database loads after cache misses (single flight shares one)", registry=r
        )
        self.rate_limit_blocks = Counter(
            "rate_limit_blocks_total", "Requests refused by a rate limit", ["scope", "backend"], registry=r
        )
        self.db_retries = Counter("db_retries_total", "Database transactions retried", ["reason"], registry=r)
        self.conflicts = Counter("optimistic_lock_conflicts_total", "Updates refused for a stale version", registry=r)
        self.replica_fallbacks = Counter(
            "replica_fallbacks_total", "Reads that fell back from a replica to the primary", registry=r
        )
        self.replica_in_pool = Gauge("replica_in_read_pool", "1 when the replica serves reads", ["replica"], registry=r)
        self.replica_lag = Gauge("replica_lag_seconds", "Replication lag", ["replica"], registry=r)
        self.redis_up = Gauge("redis_up", "1 when Redis answers", registry=r)
        # Children resolved once: labels() costs a lock and a lookup per call.
        self._hit_layers = {layer: self.cache_hits.labels(layer) for layer in ("l1", "redis")}
        # Plain counters for the JSON summary (reading Prometheus collectors back is clumsy).
        self.started = time.time()
        self.requests_total = 0
        self.blocks_total = 0
        self.hits = 0
        self.misses = 0
        self._seconds: deque[list[int]] = deque()  # [epoch second, count], last 60 s

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        self.http.observe(method, route, status, seconds)
        self.requests_total += 1
        now = int(time.time())
        if self._seconds and self._seconds[-1][0] == now:
            self._seconds[-1][1] += 1
        else:
            self._seconds.append([now, 1])
            while self._seconds[0][0] <= now - 60:
                self._seconds.popleft()

    def requests_last_minute(self) -> int:
        cutoff = int(time.time()) - 60
        return sum(c for s, c in self._seconds if s > cutoff)

    def hit(self, layer: str) -> None:
        self.hits += 1
        child = self._hit_layers.get(layer)
        (child if child is not None else self.cache_hits.labels(layer)).inc()

    def miss(self) -> None:
        self.misses += 1
        self.cache_misses.inc()

    def block(self, scope: str, backend: str) -> None:
        self.blocks_total += 1
        self.rate_limit_blocks.labels(scope, backend).inc()

    def hit_rate(self) -> float | None:
        total = self.hits + self.misses
        return round(self.hits / total, 4) if total else None


METRICS = Metrics()


async def metrics_app(scope: Scope, receive: Receive, send: Send) -> None:
    """The metrics listener's whole application: GET/HEAD /metrics, else 404 (405 for other methods)."""
    if scope["type"] != "http":
        return
    if scope["path"] != "/metrics":
        status, body, ctype = 404, b"not found\n", b"text/plain; charset=utf-8"
    elif scope["method"] not in ("GET", "HEAD"):
        status, body, ctype = 405, b"method not allowed\n", b"text/plain; charset=utf-8"
    else:
        status, body, ctype = 200, generate_latest(METRICS.registry), CONTENT_TYPE_LATEST.encode()
    headers = [(b"content-type", ctype), (b"content-length", str(len(body)).encode())]
    if status == 405:
        headers.append((b"allow", b"GET, HEAD"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})
