"""Mutant: handle is right, but handle_many calls ThreadPoolExecutor.map and consumes it on
the loop's thread: the calls overlap in the threads, yet the loop is blocked meanwhile.

Must fail: test_loop_runs_while_handle_many_blocks, test_handle_many_overlaps_calls
"""
from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

_POOL = ThreadPoolExecutor(max_workers=32)


async def handle(request, hash_fn):
    return await asyncio.to_thread(hash_fn, request)


async def handle_many(requests, hash_fn):
    return list(_POOL.map(hash_fn, requests))
