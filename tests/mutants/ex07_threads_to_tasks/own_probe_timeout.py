"""Mutant: a timeout of its own (`asyncio.wait_for(probe(...), 1.0)`) around each probe:
an open port on a host slower than that is reported closed.

Must fail: test_returns_open_ports_sorted
"""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

async def scan(host: str, ports: list[int], probe: Callable[[str, int], Awaitable[bool]], limit: int = 100) -> list[int]:
    sem = asyncio.Semaphore(limit)

    async def one(port: int) -> bool:
        async with sem:
            try:
                # a scanner should never hang on one port
                return await asyncio.wait_for(probe(host, port), timeout=1.0)
            except TimeoutError:
                return False

    results = await asyncio.gather(*(one(p) for p in ports))
    return sorted(p for p, ok in zip(ports, results) if ok)
