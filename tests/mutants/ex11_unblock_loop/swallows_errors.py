"""Mutant: catches every exception from hash_fn and returns empty bytes.

Must fail: test_handle_propagates_hash_fn_error
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable


async def handle(request: bytes, hash_fn: Callable[[bytes], bytes]) -> bytes:
    try:
        return await asyncio.to_thread(hash_fn, request)
    except Exception:
        return b""


async def handle_many(requests: list[bytes], hash_fn: Callable[[bytes], bytes]) -> list[bytes]:
    return list(await asyncio.gather(*(handle(r, hash_fn) for r in requests)))
