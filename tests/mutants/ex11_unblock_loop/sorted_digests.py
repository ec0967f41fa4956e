"""Mutant: gathers in parallel, then returns sorted(results) ("deterministic output"):
the results no longer line up with the requests.

Must fail: test_handle_many_keeps_request_order
"""
from __future__ import annotations

import asyncio


async def handle(request, hash_fn):
    return await asyncio.to_thread(hash_fn, request)


async def handle_many(requests, hash_fn):
    return sorted(await asyncio.gather(*(handle(r, hash_fn) for r in requests)))
