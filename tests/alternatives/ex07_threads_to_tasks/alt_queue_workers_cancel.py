"""Alt: limit workers on an asyncio.Queue, join then cancel the workers."""
from __future__ import annotations
import asyncio


async def scan(host, ports, probe, limit=100):
    queue: asyncio.Queue[int] = asyncio.Queue()
    for p in ports:
        queue.put_nowait(p)
    found: list[int] = []

    async def worker():
        while True:
            port = await queue.get()
            try:
                if await probe(host, port):
                    found.append(port)
            finally:
                queue.task_done()

    workers = [asyncio.create_task(worker()) for _ in range(limit)]
    try:
        await queue.join()
    finally:
        for w in workers:
            w.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
    return sorted(found)
