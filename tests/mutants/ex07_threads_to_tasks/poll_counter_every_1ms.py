"""Bounds concurrency with a counter re-checked every `await asyncio.sleep(0.001)`: a
short period only shortens the gaps; a freed slot still stays empty until the polling
loop next wakes up (up to 1 ms) while ports are waiting.

Must fail: test_uses_the_whole_budget
"""

from __future__ import annotations

import asyncio


async def scan(host, ports, probe, limit=100):
    in_flight = 0
    found = []

    async def one(port):
        nonlocal in_flight
        try:
            if await probe(host, port):
                found.append(port)
        finally:
            in_flight -= 1

    tasks = []
    for port in ports:
        while in_flight >= limit:
            await asyncio.sleep(0.001)
        in_flight += 1
        tasks.append(asyncio.create_task(one(port)))
    await asyncio.gather(*tasks)
    return sorted(found)
