"""Alt: TaskGroup + Semaphore, results in a dict."""
from __future__ import annotations
import asyncio


async def scan(host, ports, probe, limit=100):
    sem = asyncio.Semaphore(limit)
    status: dict[int, bool] = {}

    async def one(port: int) -> None:
        async with sem:
            status[port] = await probe(host, port)

    async with asyncio.TaskGroup() as tg:
        for port in ports:
            tg.create_task(one(port))
    return sorted(p for p, ok in status.items() if ok)
