"""Bounds concurrency with a counter that the launching loop re-checks every
`await asyncio.sleep(0.01)`: never more than `limit` probes, every port probed, but a slot
freed by a probe stays empty until the next wake-up of the polling loop, up to 10 ms,
while ports are waiting. Waiting on the slot itself (a Semaphore) starts the next probe
at once.

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
            await asyncio.sleep(0.01)
        in_flight += 1
        tasks.append(asyncio.create_task(one(port)))
    await asyncio.gather(*tasks)
    return sorted(found)
