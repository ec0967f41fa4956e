"""Keeps the open ports in the order of `ports` (gather's order) and forgets to sort.

Must fail: test_returns_open_ports_sorted
"""

from __future__ import annotations

import asyncio


async def scan(host, ports, probe, limit=100):
    sem = asyncio.Semaphore(limit)

    async def one(port):
        async with sem:
            return await probe(host, port)

    results = await asyncio.gather(*(one(p) for p in ports))
    return [p for p, ok in zip(ports, results) if ok]
