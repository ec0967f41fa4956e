"""Mutant: each attempt is a task awaited with asyncio.wait(timeout=per_try) inside
asyncio.timeout(total); when the total deadline fires, the attempt task is left running.

The deadline cancels the coroutine waiting in asyncio.wait, not the task it waits for:
TimeoutError comes out on time while attempt 3 is still running, its cleanup not run.

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
            task: asyncio.Future[T] = asyncio.ensure_future(fetch())
            done, _ = await asyncio.wait({task}, timeout=per_try)
            if done:
                return task.result()
            task.cancel()
            await asyncio.wait({task})
        raise TimeoutError
