"""Alt: multiprocessing.get_context("spawn").Pool(); one apply_async per number, whose
callbacks complete asyncio futures via call_soon_threadsafe; gather keeps input order;
close() then join() in a thread."""
from __future__ import annotations

import asyncio
import multiprocessing


def slow_square(n: int) -> int:
    total = 0
    for _ in range(n):
        total += n
    return total


async def crunch_all(nums, fn=slow_square):
    loop = asyncio.get_running_loop()
    pool = multiprocessing.get_context("spawn").Pool()
    try:
        futures = []
        for n in nums:
            fut = loop.create_future()

            def ok(value, fut=fut):
                loop.call_soon_threadsafe(lambda: fut.done() or fut.set_result(value))

            def bad(exc, fut=fut):
                loop.call_soon_threadsafe(lambda: fut.done() or fut.set_exception(exc))

            pool.apply_async(fn, (n,), callback=ok, error_callback=bad)
            futures.append(fut)
        return list(await asyncio.gather(*futures))
    finally:
        pool.close()
        await asyncio.to_thread(pool.join)
