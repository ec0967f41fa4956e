"""Mutant: handle_many hands the whole list to one thread (``to_thread`` of a list
comprehension).

The loop stays free, but that one thread hashes the requests one after another.

Must fail: test_handle_many_overlaps_calls
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable


async def handle(request: bytes, hash_fn: Callable[[bytes], bytes]) -> bytes:
    return await asyncio.to_thread(hash_fn, request)


async def handle_many(requests: list[bytes], hash_fn: Callable[[bytes], bytes]) -> list[bytes]:
    return await asyncio.to_thread(lambda: [hash_fn(r) for r in requests])
