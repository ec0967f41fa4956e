"""Batches with `zip(*[iter(ports)] * limit)`, which silently drops the last, incomplete
batch (and everything when there are fewer ports than `limit`).

Must fail: test_respects_the_limit, test_uses_the_whole_budget, test_limit_larger_than_ports
"""

from __future__ import annotations

import asyncio


async def scan(host, ports, probe, limit=100):
    found = []
    for batch in zip(*[iter(ports)] * limit):
        results = await asyncio.gather(*(probe(host, p) for p in batch))
        found += [p for p, ok in zip(batch, results) if ok]
    return sorted(found)
