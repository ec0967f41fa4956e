"""Mutant: gathers the requests in reverse ("newest first") and forgets to reverse the
results back: results come back in reverse request order.

Must fail: test_handle_many_keeps_request_order
"""
from __future__ import annotations

import asyncio


async def handle(request, hash_fn):
    return await asyncio.to_thread(hash_fn, request)


async def handle_many(requests, hash_fn):
    return list(await asyncio.gather(*(handle(r, hash_fn) for r in reversed(requests))))
