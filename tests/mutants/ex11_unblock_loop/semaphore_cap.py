"""Mutant: handle_many caps the calls in flight with ``asyncio.Semaphore(2)``.

A real-world throttle, but the contract says all the requests at the same time: with four
requests, only two are ever handed to threads at once.

Must fail: test_handle_many_overlaps_calls
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

_LIMIT = 2


async def handle(request: bytes, hash_fn: Callable[[bytes], bytes]) -> bytes:
    return await asyncio.to_thread(hash_fn, request)


async def handle_many(requests: list[bytes], hash_fn: Callable[[bytes], bytes]) -> list[bytes]:
    sem = asyncio.Semaphore(_LIMIT)

    async def one(request: bytes) -> bytes:
        async with sem:
            return await handle(request, hash_fn)

    return list(await asyncio.gather(*(one(r) for r in requests)))
