"""Mutant: ``loop.run_in_executor(pool, fn(n))`` -- fn runs on the loop, and the pool is
handed its result as the function (TypeError: 'int' object is not callable).

Must fail: test_default_fn_squares, test_work_runs_in_worker_processes, test_fn_is_honoured, test_works_with_spawn
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import TypeVar

R = TypeVar("R")


def slow_square(n: int) -> int:
    total = 0
    for _ in range(n):
        total += n
    return total



async def crunch_all(nums: list[int], fn: Callable[[int], R] = slow_square) -> list[R]:  # type: ignore[assignment]
    loop = asyncio.get_running_loop()
    with ProcessPoolExecutor() as pool:
        return list(await asyncio.gather(*(loop.run_in_executor(pool, fn(n)) for n in nums)))  # type: ignore[arg-type]
