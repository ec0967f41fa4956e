"""`asyncio.to_thread(asyncio.run, ...)`: every probe on a private loop in a thread.

Must fail: test_starts_no_threads, test_respects_the_limit, test_returns_open_ports_sorted
"""

from __future__ import annotations

import asyncio


async def scan(host, ports, probe, limit=100):
    sem = asyncio.Semaphore(limit)

    async def one(port):
        async with sem:
            return await asyncio.to_thread(asyncio.run, probe(host, port))

    results = await asyncio.gather(*(one(p) for p in ports))
    return sorted(p for p, ok in zip(ports, results) if ok)
