"""Mutant: collects the results with ``as_completed``, then "restores the order" with
``sorted()``.

Sorted order is input order only when the inputs happen to be sorted and fn is
increasing: the results no longer match the numbers by position.

Must fail: test_default_fn_squares, test_results_in_input_order
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
        futures = [loop.run_in_executor(pool, fn, n) for n in nums]
        return sorted([await f for f in asyncio.as_completed(futures)])
