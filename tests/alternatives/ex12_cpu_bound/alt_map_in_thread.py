"""Alt: pool.map (blocking) run in a helper thread with asyncio.to_thread: the loop stays
free while the processes compute; map keeps the order."""
from __future__ import annotations

import asyncio
from concurrent.futures import ProcessPoolExecutor


def slow_square(n: int) -> int:
    total = 0
    for _ in range(n):
        total += n
    return total


def _map_in_processes(fn, nums):
    with ProcessPoolExecutor() as pool:
        return list(pool.map(fn, nums))


async def crunch_all(nums, fn=slow_square):
    return await asyncio.to_thread(_map_in_processes, fn, list(nums))
