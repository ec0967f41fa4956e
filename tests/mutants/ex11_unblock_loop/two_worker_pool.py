"""Mutant: a module-level ThreadPoolExecutor with two workers (what
``max_workers=os.cpu_count()`` gives on a two-core machine).

The loop stays free and two calls overlap, but four requests are never all in flight at
once: the other two queue behind the pool's two busy workers.

Must fail: test_handle_many_overlaps_calls
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

_POOL = ThreadPoolExecutor(max_workers=2)


async def handle(request: bytes, hash_fn: Callable[[bytes], bytes]) -> bytes:
    return await asyncio.get_running_loop().run_in_executor(_POOL, hash_fn, request)


async def handle_many(requests: list[bytes], hash_fn: Callable[[bytes], bytes]) -> list[bytes]:
    return list(await asyncio.gather(*(handle(r, hash_fn) for r in requests)))
