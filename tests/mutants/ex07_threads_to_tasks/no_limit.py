"""Gathers every probe at once and ignores `limit`.

Must fail: test_respects_the_limit
"""

from __future__ import annotations

import asyncio


async def scan(host, ports, probe, limit=100):
    results = await asyncio.gather(*(probe(host, p) for p in ports))
    return sorted(p for p, ok in zip(ports, results) if ok)
