"""Alt: loop.run_in_executor(None, ...) in handle; handle_many with a TaskGroup."""
from __future__ import annotations
import asyncio


async def handle(request, hash_fn):
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(None, hash_fn, request)


async def handle_many(requests, hash_fn):
    async with asyncio.TaskGroup() as tg:
        tasks = [tg.create_task(handle(r, hash_fn)) for r in requests]
    return [t.result() for t in tasks]
