"""Mutant: the tutorial's advice -- a ThreadPoolExecutor for CPU-bound work.

The loop stays responsive and the results are right, but every call runs in the loop's
own process, where threads take turns holding the GIL: no parallelism at all.

Must fail: test_work_runs_in_worker_processes, test_calls_run_in_parallel, test_works_with_spawn
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any


def slow_square(n: int) -> int:
    total = 0
    for _ in range(n):
        total += n
    return total


async def crunch_all(nums: list[int], fn: Callable[[int], Any] = slow_square) -> list[Any]:
    loop = asyncio.get_running_loop()
    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(await asyncio.gather(*(loop.run_in_executor(pool, fn, n) for n in nums)))
