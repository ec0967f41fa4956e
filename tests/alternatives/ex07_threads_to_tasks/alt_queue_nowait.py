"""Alt: limit workers drain a pre-filled Queue with get_nowait and return on QueueEmpty."""
from __future__ import annotations
import asyncio


async def scan(host, ports, probe, limit=100):
    queue: asyncio.Queue[int] = asyncio.Queue()
    for p in ports:
        queue.put_nowait(p)
    results: list[tuple[int, bool]] = []

    async def worker():
        while True:
            try:
                port = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            results.append((port, bool(await probe(host, port))))

    async with asyncio.TaskGroup() as tg:
        for _ in range(limit):
            tg.create_task(worker())
    return sorted(port for port, ok in results if ok)
