"""Collects open ports in the order the probes finish, and forgets to sort.

Must fail: test_returns_open_ports_sorted
"""

from __future__ import annotations

import asyncio


async def scan(host, ports, probe, limit=100):
    sem = asyncio.Semaphore(limit)
    found = []

    async def one(port):
        async with sem:
            if await probe(host, port):
                found.append(port)

    await asyncio.gather(*(one(p) for p in ports))
    return found
