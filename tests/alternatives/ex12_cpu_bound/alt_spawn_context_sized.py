"""Alt: explicit spawn context, pool sized min(len(nums), cpu_count) (empty list short-cut),
created outside the coroutine body's with, shut down in finally."""
from __future__ import annotations

import asyncio
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor


def slow_square(n: int) -> int:
    total = 0
    for _ in range(n):
        total += n
    return total


async def crunch_all(nums, fn=slow_square):
    if not nums:
        return []
    pool = ProcessPoolExecutor(
        max_workers=min(len(nums), os.cpu_count() or 1),
        mp_context=multiprocessing.get_context("spawn"),
    )
    try:
        loop = asyncio.get_running_loop()
        return list(await asyncio.gather(*(loop.run_in_executor(pool, fn, n) for n in nums)))
    finally:
        await loop.run_in_executor(None, pool.shutdown)  # wait for the workers, off the loop
