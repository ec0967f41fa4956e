"""Calls `fetch()` once and awaits the same coroutine object on every attempt: the retry
raises RuntimeError("cannot reuse already awaited coroutine"). The message must say so,
not describe attempts that never ran.
Must fail: test_total_deadline_holds, test_hung_attempt_is_cancelled, test_later_attempt_succeeds, test_gives_up_after_attempts, test_other_errors_propagate_at_once
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

async def fetch_with_deadline(
    fetch: Callable[[], Awaitable[T]], attempts: int, per_try: float, total: float
) -> T:
    request = fetch()  # build the request once, retry it
    async with asyncio.timeout(total):
        for _ in range(attempts):
            try:
                async with asyncio.timeout(per_try):
                    return await request
            except TimeoutError:
                continue
        raise TimeoutError("all attempts timed out")
