"""Mutant: "it's async now" -- handle is an ``async def`` but calls hash_fn directly.

``async def`` alone does not make a call non-blocking: hash_fn still runs on the loop's
thread, so the loop freezes and gathered calls run one after another.

Must fail: test_loop_runs_while_handle_blocks, test_loop_runs_while_handle_many_blocks, test_handle_many_overlaps_calls
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable


async def handle(request: bytes, hash_fn: Callable[[bytes], bytes]) -> bytes:
    return hash_fn(request)


async def handle_many(requests: list[bytes], hash_fn: Callable[[bytes], bytes]) -> list[bytes]:
    return list(await asyncio.gather(*(handle(r, hash_fn) for r in requests)))
