"""Mutant: hands hash_fn to a thread, then polls ``future.done()`` in a ``while`` loop.

The loop's thread spins instead of awaiting: the asyncio future can only be completed by
the loop, which never gets control back.

Must fail: test_handle_returns_hash_fn_result, test_loop_runs_while_handle_blocks, test_loop_runs_while_handle_many_blocks, test_handle_many_overlaps_calls, test_handle_many_keeps_request_order, test_handle_propagates_hash_fn_error
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable


async def handle(request: bytes, hash_fn: Callable[[bytes], bytes]) -> bytes:
    future = asyncio.get_running_loop().run_in_executor(None, hash_fn, request)
    while not future.done():
        pass
    return future.result()


async def handle_many(requests: list[bytes], hash_fn: Callable[[bytes], bytes]) -> list[bytes]:
    return list(await asyncio.gather(*(handle(request, hash_fn) for request in requests)))
