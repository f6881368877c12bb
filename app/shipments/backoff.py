"""app room: capped, jittered exponential backoff and the retry loop for transient database errors.

Written here rather than taken from tenacity/backoff: it is ten lines, and the app group stays small.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


def backoff_delay(attempt: int, *, base: float = 0.01, cap: float = 0.5, rng: random.Random | None = None) -> float:
    """Full-jitter delay before retry `attempt` (0-based): uniform in [0, min(cap, base * 2**attempt)]."""
    if attempt < 0:
        raise ValueError("attempt must be >= 0")
    ceiling = min(cap, base * (2 ** min(attempt, 32)))
    return (rng or random).uniform(0.0, ceiling)


async def retry_async(
    operation: Callable[[], Awaitable[T]],
    *,
    retry_on: tuple[type[BaseException], ...],
    attempts: int = 5,
    base: float = 0.01,
    cap: float = 0.5,
    on_retry: Callable[[BaseException, int], None] | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> T:
    """Run `operation`, retrying up to `attempts` times in total on the given exception types."""
    for attempt in range(attempts):
        try:
            return await operation()
        except retry_on as exc:
            if attempt == attempts - 1:
                raise
            if on_retry is not None:
                on_retry(exc, attempt)
            await sleep(backoff_delay(attempt, base=base, cap=cap))
    raise AssertionError("unreachable")  # pragma: no cover
