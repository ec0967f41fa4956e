"""Mutant: processes, but ``pool.map`` called directly in the coroutine.

The work does run in parallel in worker processes, yet the loop's thread sits in
``pool.map`` until all of it is done: the event loop is blocked throughout.

Must fail: test_loop_keeps_running, test_calls_run_in_parallel
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any


def slow_square(n: int) -> int:
    total = 0
    for _ in range(n):
        total += n
    return total


async def crunch_all(nums: list[int], fn: Callable[[int], Any] = slow_square) -> list[Any]:
    with ProcessPoolExecutor() as pool:
        return list(pool.map(fn, nums))
