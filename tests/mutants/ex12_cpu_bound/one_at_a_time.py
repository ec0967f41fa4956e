"""Mutant: a process pool, but each result awaited before the next number is sent.

The loop stays responsive and the work runs in another process, yet only one number is
computed at a time: no parallelism.

Must fail: test_calls_run_in_parallel
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any


def slow_square(n: int) -> int:
    total = 0
    for _ in range(n):
        total += n
    return total


async def crunch_all(nums: list[int], fn: Callable[[int], Any] = slow_square) -> list[Any]:
    loop = asyncio.get_running_loop()
    results = []
    with ProcessPoolExecutor() as pool:
        for n in nums:
            results.append(await loop.run_in_executor(pool, fn, n))
    return results
