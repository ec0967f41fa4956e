"""Alt: pool.submit + asyncio.wrap_future; handle_many gets its own pool per call
(sized to the requests, at least 1), used as a context manager after everything is done."""
from __future__ import annotations
import asyncio
from concurrent.futures import ThreadPoolExecutor

_shared = ThreadPoolExecutor()


async def handle(request, hash_fn):
    return await asyncio.wrap_future(_shared.submit(hash_fn, request))


async def handle_many(requests, hash_fn):
    loop = asyncio.get_running_loop()
    pool = ThreadPoolExecutor(max_workers=max(1, len(requests)))
    try:
        futures = [loop.run_in_executor(pool, hash_fn, r) for r in requests]
        return list(await asyncio.gather(*futures))
    finally:
        pool.shutdown(wait=False)
