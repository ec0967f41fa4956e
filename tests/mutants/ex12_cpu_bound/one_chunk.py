"""Mutant: executor.map in a thread, with chunksize=len(nums) "to save pickling": the whole
list is one chunk, computed by one worker process, one number after another.

Must fail: test_calls_run_in_parallel
"""
from __future__ import annotations

import asyncio
from concurrent.futures import ProcessPoolExecutor


def slow_square(n: int) -> int:
    total = 0
    for _ in range(n):
        total += n
    return total


def _run(fn, nums):
    with ProcessPoolExecutor() as pool:
        return list(pool.map(fn, nums, chunksize=max(1, len(nums))))


async def crunch_all(nums, fn=slow_square):
    return await asyncio.to_thread(_run, fn, list(nums))
