"""Timing helpers the speed benchmarks share (no heavy imports: some benchmarks time
start-up)."""

import time
from typing import Callable, TypeVar

Result = TypeVar("Result")


def best_time(function: Callable[[], Result], repeats: int) -> tuple[float, Result]:
    """The fastest of `repeats` calls of `function` in seconds, and the last call's
    result."""
    result, best = None, float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - start)
    return best, result
