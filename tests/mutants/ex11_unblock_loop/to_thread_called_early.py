"""Mutant: ``asyncio.to_thread(hash_fn(request))`` -- the call happens on the loop.

The parentheses call hash_fn on the loop's thread; to_thread then receives its bytes as
the "function" and fails with TypeError: 'bytes' object is not callable.

Must fail: test_handle_returns_hash_fn_result, test_loop_runs_while_handle_blocks, test_handle_many_overlaps_calls
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable


async def handle(request: bytes, hash_fn: Callable[[bytes], bytes]) -> bytes:
    return await asyncio.to_thread(hash_fn(request))  # type: ignore[arg-type]


async def handle_many(requests: list[bytes], hash_fn: Callable[[bytes], bytes]) -> list[bytes]:
    return list(await asyncio.gather(*(handle(r, hash_fn) for r in requests)))
