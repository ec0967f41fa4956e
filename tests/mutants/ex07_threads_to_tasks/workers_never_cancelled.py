"""A worker pool on an asyncio.Queue whose workers loop on `await queue.get()` forever:
`queue.join()` returns once every port is probed, and scan returns with its `limit`
workers still pending (never cancelled, never awaited): each call leaks them.

Must fail: test_leaves_no_task_running
"""

from __future__ import annotations

import asyncio

async def scan(host: str, ports: list[int], probe, limit: int = 100) -> list[int]:
    queue = asyncio.Queue()
    for p in ports:
        queue.put_nowait(p)
    found = []

    async def worker():
        while True:
            port = await queue.get()
            try:
                if await probe(host, port):
                    found.append(port)
            finally:
                queue.task_done()

    workers = [asyncio.create_task(worker()) for _ in range(limit)]
    await queue.join()
    return sorted(found)  # the workers are still waiting on queue.get()
