"""Probes in batches: a `gather` per slice of `limit` ports. Never more than `limit` at
once, every port probed, even the last short slice; but each batch waits for its slowest
probe, so the slots of quick probes stay idle while ports are still waiting.

Must fail: test_uses_the_whole_budget
"""

from __future__ import annotations

import asyncio


async def scan(host, ports, probe, limit=100):
    found = []
    for start in range(0, len(ports), limit):
        batch = ports[start : start + limit]
        results = await asyncio.gather(*(probe(host, p) for p in batch))
        found += [p for p, ok in zip(batch, results) if ok]
    return sorted(found)
