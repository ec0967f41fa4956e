"""Mutant: ProcessPoolExecutor(max_workers=1), every number submitted at once.

The work runs off the loop, in another process, but the pool's single worker computes
one number at a time: no parallelism.

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
    with ProcessPoolExecutor(max_workers=1) as pool:
        return list(await asyncio.gather(*(loop.run_in_executor(pool, fn, n) for n in nums)))
