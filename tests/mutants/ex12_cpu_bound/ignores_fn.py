"""Mutant: always runs slow_square, whatever ``fn`` the caller passed.

Must fail: test_fn_is_honoured, test_work_runs_in_worker_processes, test_results_in_input_order
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
    with ProcessPoolExecutor() as pool:
        futures = [loop.run_in_executor(pool, slow_square, n) for n in nums]
        return list(await asyncio.gather(*futures))
