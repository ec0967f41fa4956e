"""Mutant: handle_many makes its own ThreadPoolExecutor(max_workers=len(requests)).

Right for every non-empty list; with no requests the pool cannot be created
(ValueError: max_workers must be greater than 0) instead of returning [].

Must fail: test_handle_many_of_nothing
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor


async def handle(request: bytes, hash_fn: Callable[[bytes], bytes]) -> bytes:
    return await asyncio.to_thread(hash_fn, request)


async def handle_many(requests: list[bytes], hash_fn: Callable[[bytes], bytes]) -> list[bytes]:
    loop = asyncio.get_running_loop()
    with ThreadPoolExecutor(max_workers=len(requests)) as pool:
        futures = [loop.run_in_executor(pool, hash_fn, request) for request in requests]
        return list(await asyncio.gather(*futures))
