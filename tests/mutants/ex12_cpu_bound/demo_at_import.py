"""Mutant: a warm-up demo moved out of the ``__main__`` guard: work at import time.

Every import runs it, including the import each spawned worker makes to find fn.

Must fail: test_works_with_spawn
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
        return list(await asyncio.gather(*(loop.run_in_executor(pool, fn, n) for n in nums)))


WARM_UP = [slow_square(n) for n in [1_000] * 4]
