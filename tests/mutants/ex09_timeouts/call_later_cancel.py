"""The total deadline as `loop.call_later(total, task.cancel)` on a task running the retry
loop: a bare cancel() is not turned into TimeoutError, so the call raises CancelledError.
Must fail: test_total_deadline_holds, test_hung_attempt_is_cancelled, test_swallowing_fetch_still_times_out
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

async def fetch_with_deadline(
    fetch: Callable[[], Awaitable[T]], attempts: int, per_try: float, total: float
) -> T:
    async def retry_loop() -> T:
        for _ in range(attempts):
            try:
                return await asyncio.wait_for(fetch(), per_try)
            except TimeoutError:
                continue
        raise TimeoutError("all attempts timed out")

    task = asyncio.ensure_future(retry_loop())
    handle = asyncio.get_running_loop().call_later(total, task.cancel)
    try:
        return await task
    finally:
        handle.cancel()
