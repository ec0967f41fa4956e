"""Exercise 12 - cpu_bound: reference solution."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import TypeVar

R = TypeVar("R")


def slow_square(n: int) -> int:
    """``n * n`` for ``n >= 0``, computed the slow way: ``n`` additions in pure Python,
    holding the GIL the whole time."""
    total = 0
    for _ in range(n):
        total += n
    return total


async def crunch_all(nums: list[int], fn: Callable[[int], R] = slow_square) -> list[R]:  # type: ignore[assignment]
    loop = asyncio.get_running_loop()
    # One process per core by default; leaving the `with` block shuts the workers down.
    with ProcessPoolExecutor() as pool:
        # Each future resolves on the loop when its worker is done; gather keeps the
        # order of `nums`, whatever order the workers finish in.
        futures = [loop.run_in_executor(pool, fn, n) for n in nums]
        return list(await asyncio.gather(*futures))


if __name__ == "__main__":
    import time

    start = time.perf_counter()
    results = asyncio.run(crunch_all([3_000_000] * 4))
    print(f"4 x slow_square(3_000_000) in {time.perf_counter() - start:.2f}s")
