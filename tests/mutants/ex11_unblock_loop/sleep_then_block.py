"""Mutant: yields once with ``await asyncio.sleep(0)``, then blocks anyway.

An ``await`` before the blocking call lets other tasks run for one step; the call itself
still freezes the loop.

Must fail: test_loop_runs_while_handle_blocks, test_loop_runs_while_handle_many_blocks, test_handle_many_overlaps_calls
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable


async def handle(request: bytes, hash_fn: Callable[[bytes], bytes]) -> bytes:
    await asyncio.sleep(0)
    return hash_fn(request)


async def handle_many(requests: list[bytes], hash_fn: Callable[[bytes], bytes]) -> list[bytes]:
    async with asyncio.TaskGroup() as tg:
        tasks = [tg.create_task(handle(r, hash_fn)) for r in requests]
    return [t.result() for t in tasks]
