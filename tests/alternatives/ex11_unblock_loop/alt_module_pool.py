"""Alt: a module-level ThreadPoolExecutor (32 workers) with run_in_executor and partial;
handle_many starts every task first, then awaits them in order."""
from __future__ import annotations
import asyncio
import functools
from concurrent.futures import ThreadPoolExecutor

_POOL = ThreadPoolExecutor(max_workers=32, thread_name_prefix="hash")


async def handle(request, hash_fn):
    return await asyncio.get_running_loop().run_in_executor(_POOL, functools.partial(hash_fn, request))


async def handle_many(requests, hash_fn):
    tasks = [asyncio.create_task(handle(r, hash_fn)) for r in requests]
    try:
        return [await t for t in tasks]
    finally:
        for t in tasks:
            t.cancel()
