"""Semaphore-bounded tasks collected with `asyncio.wait(tasks, timeout=0.05)`: the probes
not done by then are silently dropped (their ports never reported, some never probed) and
left running after scan returns.

Must fail: test_respects_the_limit, test_uses_the_whole_budget, test_returns_open_ports_sorted, test_leaves_no_task_running
"""

from __future__ import annotations

import asyncio


async def scan(host, ports, probe, limit=100):
    sem = asyncio.Semaphore(limit)

    async def one(port):
        async with sem:
            return port, await probe(host, port)

    tasks = [asyncio.create_task(one(p)) for p in ports]
    if not tasks:
        return []
    done, _ = await asyncio.wait(tasks, timeout=0.05)
    return sorted(p for p, ok in (t.result() for t in done) if ok)
