"""Mutant: each call in a thread, but handle_many awaits them one after another.

The loop stays responsive, yet the requests are handled sequentially: the second thread
starts only after the first finished.

Must fail: test_handle_many_overlaps_calls
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable


async def handle(request: bytes, hash_fn: Callable[[bytes], bytes]) -> bytes:
    return await asyncio.to_thread(hash_fn, request)


async def handle_many(requests: list[bytes], hash_fn: Callable[[bytes], bytes]) -> list[bytes]:
    results = []
    for request in requests:
        results.append(await handle(request, hash_fn))
    return results
