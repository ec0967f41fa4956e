"""Mutant: the total deadline (an absolute timeout_at) is entered anew inside each
attempt's try/except TimeoutError, so its expiry is caught and retried like a per-try one.

It still raises at the total deadline with well-behaved fetches, but starts the remaining
attempts after it (each cancelled at once), and an attempt that ignores one cancellation
is cut off only by its own per-try deadline.

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
    deadline = asyncio.get_running_loop().time() + total
    for _ in range(attempts):
        try:
            async with asyncio.timeout_at(deadline):
                async with asyncio.timeout(per_try):
                    return await fetch()
        except TimeoutError:
            continue
    raise TimeoutError
