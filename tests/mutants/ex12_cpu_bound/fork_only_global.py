"""Mutant: passes fn to the workers through a module global.

With the fork start method the workers are copies of the parent and see the global; with
spawn they import the module afresh, where it is still None.

Must fail: test_works_with_spawn
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


_fn: Callable[[int], Any] | None = None


def _call(n: int) -> Any:
    assert _fn is not None, "_fn was not set in this worker process"
    return _fn(n)


async def crunch_all(nums: list[int], fn: Callable[[int], Any] = slow_square) -> list[Any]:
    global _fn
    _fn = fn
    loop = asyncio.get_running_loop()
    with ProcessPoolExecutor() as pool:
        return list(await asyncio.gather(*(loop.run_in_executor(pool, _call, n) for n in nums)))
