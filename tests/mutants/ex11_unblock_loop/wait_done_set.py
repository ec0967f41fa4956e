"""Mutant: waits for every call with ``asyncio.wait`` and reads the ``done`` set.

A set has no order: the results come back in the order of the futures' hashes, neither
request order nor completion order (with two requests that is often request order by
luck). And ``asyncio.wait`` refuses an empty set, so ``handle_many([])`` raises
ValueError instead of returning [].

Must fail: test_handle_many_keeps_request_order, test_handle_many_of_nothing
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable


async def handle(request: bytes, hash_fn: Callable[[bytes], bytes]) -> bytes:
    return await asyncio.to_thread(hash_fn, request)


async def handle_many(requests: list[bytes], hash_fn: Callable[[bytes], bytes]) -> list[bytes]:
    futures = [asyncio.ensure_future(handle(r, hash_fn)) for r in requests]
    done, _ = await asyncio.wait(futures)
    return [f.result() for f in done]
