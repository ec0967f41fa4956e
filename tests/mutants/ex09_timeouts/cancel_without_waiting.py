"""Mutant: runs each attempt as a task and cancels it on timeout, without waiting for it.

cancel() only requests cancellation: when the call raises, the last attempt's cleanup
has not run yet.

Must fail: test_hung_attempt_is_cancelled
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
            task = asyncio.ensure_future(fetch())
            try:
                done, _ = await asyncio.wait({task}, timeout=per_try)
            finally:
                if not task.done():
                    task.cancel()
            if task in done:
                return task.result()
        raise TimeoutError
