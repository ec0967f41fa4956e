"""Alt: ProcessPoolExecutor; each future tagged with its index; as_completed; results put back by index."""
from __future__ import annotations

import asyncio
from concurrent.futures import ProcessPoolExecutor


def slow_square(n: int) -> int:
    total = 0
    for _ in range(n):
        total += n
    return total


async def crunch_all(nums, fn=slow_square):
    loop = asyncio.get_running_loop()
    results = [None] * len(nums)

    async def one(i, fut):
        return i, await fut

    with ProcessPoolExecutor() as pool:
        jobs = [one(i, loop.run_in_executor(pool, fn, n)) for i, n in enumerate(nums)]
        for next_done in asyncio.as_completed(jobs):
            i, value = await next_done
            results[i] = value
    return results
