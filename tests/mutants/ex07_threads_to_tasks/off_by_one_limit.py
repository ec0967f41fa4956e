"""`Semaphore(limit - 1)`: respects the limit but wastes a slot.

Must fail: test_uses_the_whole_budget
"""

from __future__ import annotations

import asyncio


async def scan(host, ports, probe, limit=100):
    sem = asyncio.Semaphore(max(1, limit - 1))

    async def one(port):
        async with sem:
            return await probe(host, port)

    results = await asyncio.gather(*(one(p) for p in ports))
    return sorted(p for p, ok in zip(ports, results) if ok)
