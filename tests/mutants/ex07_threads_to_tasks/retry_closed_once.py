"""A scanner habit: a port whose probe says closed is probed a second time "to be sure"
(two probes for closed ports; the contract says one per port).

Must fail: test_probes_run_concurrently, test_respects_the_limit, test_uses_the_whole_budget, test_limit_larger_than_ports
"""

from __future__ import annotations

import asyncio


async def scan(host, ports, probe, limit=100):
    sem = asyncio.Semaphore(limit)

    async def check(port):
        async with sem:
            if await probe(host, port):
                return True
            return await probe(host, port)  # retry once: packets get lost

    results = await asyncio.gather(*(check(p) for p in ports))
    return sorted(p for p, ok in zip(ports, results) if ok)
