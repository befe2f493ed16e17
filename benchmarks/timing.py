"""Timing helpers the benchmarks share: one warm-up call, then wall-clock milliseconds per call."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def timed_ms(fn: Callable[[], object], runs: int) -> list[float]:
    """Call fn once to warm up (imports, caches, model loading), then time `runs` calls."""
    fn()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return times


def median_ms(fn: Callable[[], object], runs: int) -> float:
    return statistics.median(timed_ms(fn, runs))
