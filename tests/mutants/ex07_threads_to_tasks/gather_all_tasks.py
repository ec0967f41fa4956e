"""Creates the bounded tasks without keeping them, then gathers asyncio.all_tasks() minus
the current one: it also waits for tasks that are not its own (another scan running on
the same loop).

Must fail: test_leaves_no_task_running
"""

from __future__ import annotations

import asyncio


async def scan(host, ports, probe, limit=100):
    sem = asyncio.Semaphore(limit)
    found = []

    async def check(port):
        async with sem:
            if await probe(host, port):
                found.append(port)

    for port in ports:
        asyncio.create_task(check(port))
    await asyncio.gather(*(asyncio.all_tasks() - {asyncio.current_task()}))
    return sorted(found)
