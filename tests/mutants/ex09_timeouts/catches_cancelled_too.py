"""Retries on `except (TimeoutError, asyncio.CancelledError)` "because a timed-out attempt
shows up as a cancellation". The per-try timeout already turns its cancellation into
TimeoutError; what the CancelledError clause catches is the total deadline, passing
through the loop: the call goes on with new attempts after `total` (and, with a fetch that
ignores one cancellation, hangs).
Must fail: test_total_deadline_holds, test_swallowing_fetch_still_times_out
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

async def fetch_with_deadline(
    fetch: Callable[[], Awaitable[T]], attempts: int, per_try: float, total: float
) -> T:
    async with asyncio.timeout(total):
        for _ in range(attempts):
            try:
                async with asyncio.timeout(per_try):
                    return await fetch()
            except (TimeoutError, asyncio.CancelledError):
                # a timed-out attempt shows up as a cancellation: retry it
                continue
        raise TimeoutError("all attempts timed out")
