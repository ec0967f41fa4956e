"""Mutant: collects results with ``as_completed``, i.e. in completion order.

Must fail: test_handle_many_keeps_request_order
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable


async def handle(request: bytes, hash_fn: Callable[[bytes], bytes]) -> bytes:
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(None, hash_fn, request)


async def handle_many(requests: list[bytes], hash_fn: Callable[[bytes], bytes]) -> list[bytes]:
    results = []
    for next_done in asyncio.as_completed([handle(r, hash_fn) for r in requests]):
        results.append(await next_done)
    return results
