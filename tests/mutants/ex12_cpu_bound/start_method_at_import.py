"""Mutant: ``multiprocessing.set_start_method("spawn", force=True)`` at import time.

It works, but it changes the start method for the whole program, whoever imports the
module; the contract says to choose one with ``mp_context`` instead.

Must fail: test_works_with_spawn
"""

from __future__ import annotations

import asyncio
import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import TypeVar

R = TypeVar("R")


def slow_square(n: int) -> int:
    total = 0
    for _ in range(n):
        total += n
    return total


multiprocessing.set_start_method("spawn", force=True)


async def crunch_all(nums: list[int], fn: Callable[[int], R] = slow_square) -> list[R]:  # type: ignore[assignment]
    loop = asyncio.get_running_loop()
    with ProcessPoolExecutor() as pool:
        return list(await asyncio.gather(*(loop.run_in_executor(pool, fn, n) for n in nums)))
