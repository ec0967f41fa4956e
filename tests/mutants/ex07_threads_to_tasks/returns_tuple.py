"""Returns a sorted tuple (and a set-based result type) instead of a list.

Must fail: test_returns_open_ports_sorted, test_limit_larger_than_ports, test_empty_port_list
"""

from __future__ import annotations

import asyncio


async def scan(host, ports, probe, limit=100):
    sem = asyncio.Semaphore(limit)

    async def one(port):
        async with sem:
            return await probe(host, port)

    results = await asyncio.gather(*(one(p) for p in ports))
    return tuple(sorted(p for p, ok in zip(ports, results) if ok))
