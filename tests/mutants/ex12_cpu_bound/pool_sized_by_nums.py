"""Mutant: ``ProcessPoolExecutor(max_workers=len(nums))``.

Right for every non-empty list; with no numbers the pool cannot be created
(ValueError: max_workers must be greater than 0) instead of returning [].

Must fail: test_default_fn_squares
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
    with ProcessPoolExecutor(max_workers=len(nums)) as pool:
        return list(await asyncio.gather(*(loop.run_in_executor(pool, fn, n) for n in nums)))
