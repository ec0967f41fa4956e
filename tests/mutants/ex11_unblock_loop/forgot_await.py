"""Mutant: returns ``asyncio.to_thread(...)`` without awaiting it.

handle hands back a coroutine object instead of bytes, and that coroutine never runs
("coroutine 'to_thread' was never awaited").

Must fail: test_handle_returns_hash_fn_result, test_loop_runs_while_handle_blocks
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable


async def handle(request: bytes, hash_fn: Callable[[bytes], bytes]) -> bytes:
    return asyncio.to_thread(hash_fn, request)  # type: ignore[return-value]


async def handle_many(requests: list[bytes], hash_fn: Callable[[bytes], bytes]) -> list[bytes]:
    return list(await asyncio.gather(*(handle(r, hash_fn) for r in requests)))
