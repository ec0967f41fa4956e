"""Mutant: a module-level ProcessPoolExecutor, created on first use and never shut down.

Right results, off the loop, in parallel; but the contract says to shut the pool down: its
worker processes outlive every call.

Must fail: test_pool_is_shut_down
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


_POOL: ProcessPoolExecutor | None = None


async def crunch_all(nums: list[int], fn: Callable[[int], R] = slow_square) -> list[R]:  # type: ignore[assignment]
    global _POOL
    if _POOL is None:
        _POOL = ProcessPoolExecutor()
    loop = asyncio.get_running_loop()
    return list(await asyncio.gather(*(loop.run_in_executor(_POOL, fn, n) for n in nums)))
