"""`limit` workers, each given a fixed share of the ports in advance (`ports[i::limit]`):
never more than `limit` in flight, but a worker whose share is quick sits idle while
another share still has ports waiting. Workers must take the next port from one shared
iterator or queue.

Must fail: test_uses_the_whole_budget
"""

from __future__ import annotations

import asyncio


async def scan(host, ports, probe, limit=100):
    found = []

    async def worker(share):
        for port in share:
            if await probe(host, port):
                found.append(port)

    await asyncio.gather(*(worker(ports[i::limit]) for i in range(limit)))
    return sorted(found)
