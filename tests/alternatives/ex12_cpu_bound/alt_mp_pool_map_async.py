"""Alt: multiprocessing.Pool.map_async with callbacks bridged to an asyncio future via
call_soon_threadsafe. map_async never calls its callback for an empty iterable (the
result is ready at once), so no numbers are answered up front."""
from __future__ import annotations

import asyncio
import multiprocessing


def slow_square(n: int) -> int:
    total = 0
    for _ in range(n):
        total += n
    return total


async def crunch_all(nums, fn=slow_square):
    if not nums:
        return []
    loop = asyncio.get_running_loop()
    done = loop.create_future()

    def ok(values):
        loop.call_soon_threadsafe(lambda: done.done() or done.set_result(values))

    def bad(exc):
        loop.call_soon_threadsafe(lambda: done.done() or done.set_exception(exc))

    with multiprocessing.Pool() as pool:
        pool.map_async(fn, nums, chunksize=1, callback=ok, error_callback=bad)
        return list(await done)
