"""Workers share an index into `ports`, read it, await the probe, and only then advance
it: meanwhile the other workers read the same index (tasks share memory, and switch at
every await), so ports are probed several times.

Must fail: test_probes_run_concurrently, test_respects_the_limit, test_limit_larger_than_ports
"""

from __future__ import annotations

import asyncio

async def scan(host: str, ports: list[int], probe, limit: int = 100) -> list[int]:
    found = []
    next_index = 0

    async def worker():
        nonlocal next_index
        while next_index < len(ports):
            port = ports[next_index]
            ok = await probe(host, port)  # other workers read next_index meanwhile
            next_index += 1
            if ok:
                found.append(port)

    await asyncio.gather(*(worker() for _ in range(min(limit, len(ports)))))
    return sorted(set(found))
