"""Holds the semaphore around awaiting tasks that were already started: every probe
runs at once anyway, the semaphore bounds nothing.

Must fail: test_respects_the_limit
"""

from __future__ import annotations

import asyncio


async def scan(host, ports, probe, limit=100):
    sem = asyncio.Semaphore(limit)
    tasks = [asyncio.create_task(probe(host, p)) for p in ports]

    async def wait(task):
        async with sem:
            return await task

    results = await asyncio.gather(*(wait(t) for t in tasks))
    return sorted(p for p, ok in zip(ports, results) if ok)
