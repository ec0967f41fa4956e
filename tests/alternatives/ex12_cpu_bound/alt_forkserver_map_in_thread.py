"""Alt: a ProcessPoolExecutor on the forkserver context, created on the loop;
executor.map (chunksize=1) run and consumed in a helper thread with asyncio.to_thread."""
from __future__ import annotations

import asyncio
import multiprocessing
from concurrent.futures import ProcessPoolExecutor


def slow_square(n: int) -> int:
    total = 0
    for _ in range(n):
        total += n
    return total


async def crunch_all(nums, fn=slow_square):
    with ProcessPoolExecutor(mp_context=multiprocessing.get_context("forkserver")) as pool:
        return await asyncio.to_thread(lambda: list(pool.map(fn, nums)))
