"""Mutant: submits every call to a process pool, then spins until all are done.

The work does run in parallel in the workers, but the loop's thread spins in the
``while`` loop meanwhile: no other task runs until the last result is in.

Must fail: test_calls_run_in_parallel, test_loop_keeps_running
"""

from __future__ import annotations

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
    with ProcessPoolExecutor() as pool:
        futures = [pool.submit(fn, n) for n in nums]
        while not all(future.done() for future in futures):
            pass
        return [future.result() for future in futures]
