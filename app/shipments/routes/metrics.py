"""app room: `GET /api/metrics`, the API's counters as JSON. (Prometheus' `/metrics` is not a route:
the metrics listener serves it on a port of its own, see metrics.py and server.py.)
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter

from ..deps import LIFECYCLE
from ..metrics import METRICS

# Listed with the health endpoints in the OpenAPI document.
router = APIRouter(tags=["health"])


@router.get("/api/metrics")
async def metrics_json() -> dict[str, Any]:
    return {
        "requests_total": METRICS.requests_total,
        "requests_per_minute": METRICS.requests_last_minute(),
        "rate_limit_blocks": METRICS.blocks_total,
        "cache": {"hits": METRICS.hits, "misses": METRICS.misses, "hit_rate": METRICS.hit_rate()},
        "uptime_seconds": round(time.time() - LIFECYCLE.started, 1),
    }
