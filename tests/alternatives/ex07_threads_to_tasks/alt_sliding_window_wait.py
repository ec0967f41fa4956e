"""Alt: bounded create_task loop with asyncio.wait(FIRST_COMPLETED), refilling the window."""
from __future__ import annotations
import asyncio


async def scan(host, ports, probe, limit=100):
    pending: dict[asyncio.Task, int] = {}
    found: list[int] = []
    it = iter(ports)
    exhausted = False
    try:
        while True:
            while not exhausted and len(pending) < limit:
                try:
                    port = next(it)
                except StopIteration:
                    exhausted = True
                    break
                pending[asyncio.create_task(probe(host, port))] = port
            if not pending:
                break
            done, _ = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for t in done:
                port = pending.pop(t)
                if t.result():
                    found.append(port)
    finally:
        for t in pending:
            t.cancel()
    return sorted(found)
