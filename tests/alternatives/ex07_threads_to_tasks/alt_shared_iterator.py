"""Alt: min(limit, len(ports)) workers pulling from one shared iterator."""
from __future__ import annotations
import asyncio


async def scan(host, ports, probe, limit=100):
    it = iter(ports)
    found: list[int] = []

    async def worker():
        for port in it:
            if await probe(host, port):
                found.append(port)

    await asyncio.gather(*(worker() for _ in range(min(limit, len(ports)))))
    found.sort()
    return found
