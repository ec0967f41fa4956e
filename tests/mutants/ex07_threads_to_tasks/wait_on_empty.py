"""Uses `asyncio.wait` on the set of tasks: fine until there are no ports, where
`asyncio.wait` raises ValueError.

Must fail: test_empty_port_list
"""

from __future__ import annotations

import asyncio


async def scan(host, ports, probe, limit=100):
    sem = asyncio.Semaphore(limit)

    async def one(port):
        async with sem:
            return port, await probe(host, port)

    tasks = {asyncio.create_task(one(p)) for p in ports}
    done, _ = await asyncio.wait(tasks)
    return sorted(port for port, ok in (t.result() for t in done) if ok)
