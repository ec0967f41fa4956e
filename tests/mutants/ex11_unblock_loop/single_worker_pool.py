"""Mutant: a dedicated ThreadPoolExecutor(max_workers=1) for hashing.

The loop stays free, but every call queues behind the previous one in the pool's single
worker thread: handle_many never overlaps them.

Must fail: test_handle_many_overlaps_calls
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

_HASHER = ThreadPoolExecutor(max_workers=1)


async def handle(request: bytes, hash_fn: Callable[[bytes], bytes]) -> bytes:
    return await asyncio.get_running_loop().run_in_executor(_HASHER, hash_fn, request)


async def handle_many(requests: list[bytes], hash_fn: Callable[[bytes], bytes]) -> list[bytes]:
    return list(await asyncio.gather(*(handle(r, hash_fn) for r in requests)))
