"""`break` instead of `continue` after the per-try TimeoutError: gives up after the first
timed-out attempt, with attempts and time left. (The messages must not blame a missing
total deadline, nor tell of attempts that never ran.)
Must fail: test_total_deadline_holds, test_later_attempt_succeeds, test_gives_up_after_attempts, test_other_errors_propagate_at_once
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
            except TimeoutError:
                break
        raise TimeoutError("all attempts timed out")
