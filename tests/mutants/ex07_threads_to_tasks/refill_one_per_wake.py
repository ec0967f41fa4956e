"""A sliding window on `asyncio.wait(..., return_when=FIRST_COMPLETED)` that starts only
one new probe per wake-up, even when several probes finished together: the other freed
slots stay empty until a later probe ends.

Must fail: test_uses_the_whole_budget
"""

from __future__ import annotations

import asyncio


async def scan(host, ports, probe, limit=100):
    it = iter(ports)
    pending = {}
    found = []
    for port in it:
        pending[asyncio.create_task(probe(host, port))] = port
        if len(pending) >= limit:
            break
    while pending:
        done, _ = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
        for t in done:
            port = pending.pop(t)
            if t.result():
                found.append(port)
        nxt = next(it, None)
        if nxt is not None:
            pending[asyncio.create_task(probe(host, nxt))] = nxt
    return sorted(found)
