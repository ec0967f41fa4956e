"""Mutant: hash_fn runs in a thread, but the loop waits for it with ``future.result()``.

The work moved to another thread, yet the loop's thread sits in ``.result()`` until it is
done: the loop is just as blocked, and calls cannot overlap.

Must fail: test_loop_runs_while_handle_blocks, test_loop_runs_while_handle_many_blocks, test_handle_many_overlaps_calls
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

_pool = ThreadPoolExecutor(max_workers=8)


async def handle(request: bytes, hash_fn: Callable[[bytes], bytes]) -> bytes:
    return _pool.submit(hash_fn, request).result()


async def handle_many(requests: list[bytes], hash_fn: Callable[[bytes], bytes]) -> list[bytes]:
    return list(await asyncio.gather(*(handle(r, hash_fn) for r in requests)))
