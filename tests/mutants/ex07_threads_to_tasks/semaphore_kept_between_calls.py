"""Creates the semaphore once, at module level, on the first call ("create it once"):
every later scan keeps the first call's limit.

Must fail: test_respects_the_limit
"""

from __future__ import annotations

import asyncio

_slots = None


async def scan(host: str, ports: list[int], probe, limit: int = 100) -> list[int]:
    global _slots
    if _slots is None:  # "create the semaphore once"
        _slots = asyncio.Semaphore(limit)

    async def probe_one(port):
        async with _slots:
            return await probe(host, port)

    results = await asyncio.gather(*(probe_one(p) for p in ports))
    return sorted(p for p, ok in zip(ports, results) if ok)
