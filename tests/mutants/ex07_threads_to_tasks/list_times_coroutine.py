"""`asyncio.gather(*[worker()] * limit)`: the list repeats ONE coroutine object, and gather
runs it once: one worker, one probe at a time.

Must fail: test_probes_run_concurrently, test_uses_the_whole_budget, test_limit_larger_than_ports
"""

from __future__ import annotations

import asyncio


async def scan(host, ports, probe, limit=100):
    it = iter(ports)
    found = []

    async def worker():
        for port in it:
            if await probe(host, port):
                found.append(port)

    await asyncio.gather(*[worker()] * limit)
    return sorted(found)
