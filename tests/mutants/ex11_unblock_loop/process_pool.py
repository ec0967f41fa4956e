"""Mutant: "threads are slow, use processes": run_in_executor with a ProcessPoolExecutor.

hash_fn need not be picklable (the checks' fakes are not), and the contract asks for a
worker thread: every call fails before it runs.

Must fail: test_handle_returns_hash_fn_result, test_loop_runs_while_handle_blocks, test_handle_many_overlaps_calls, test_handle_propagates_hash_fn_error
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor

_POOL = ProcessPoolExecutor()


async def handle(request: bytes, hash_fn: Callable[[bytes], bytes]) -> bytes:
    return await asyncio.get_running_loop().run_in_executor(_POOL, hash_fn, request)


async def handle_many(requests: list[bytes], hash_fn: Callable[[bytes], bytes]) -> list[bytes]:
    return list(await asyncio.gather(*(handle(r, hash_fn) for r in requests)))
