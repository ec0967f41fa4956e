"""Alt: `asyncio.timeout(None)` rescheduled to absolute deadlines; a TimeoutError that is not
the per-try one's (`expired()`) is re-raised."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

async def fetch_with_deadline(
    fetch: Callable[[], Awaitable[T]], attempts: int, per_try: float, total: float
) -> T:
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(None) as whole:
        whole.reschedule(loop.time() + total)
        for n in range(1, attempts + 1):
            try:
                async with asyncio.timeout(None) as one:
                    one.reschedule(loop.time() + per_try)
                    return await fetch()
            except TimeoutError:
                if not one.expired():  # not ours: let it through
                    raise
    raise TimeoutError(f"all {attempts} attempts timed out")
