"""Mutant: ``return loop.run_in_executor(...)`` without ``await``.

handle returns the asyncio Future (the work does run, in a thread), so callers get an
awaitable instead of bytes, and handle_many a list of them.

Must fail: test_handle_returns_hash_fn_result, test_loop_runs_while_handle_blocks, test_loop_runs_while_handle_many_blocks, test_handle_many_overlaps_calls, test_handle_many_keeps_request_order, test_handle_propagates_hash_fn_error
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any


async def handle(request: bytes, hash_fn: Callable[[bytes], bytes]) -> Any:
    loop = asyncio.get_running_loop()
    return loop.run_in_executor(None, hash_fn, request)


async def handle_many(requests: list[bytes], hash_fn: Callable[[bytes], bytes]) -> list[Any]:
    return list(await asyncio.gather(*(handle(r, hash_fn) for r in requests)))
