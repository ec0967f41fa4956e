"""Alt: attempts as a recursive helper coroutine, all awaited in the call's own task, inside
`asyncio.timeout(total)`."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

async def fetch_with_deadline(
    fetch: Callable[[], Awaitable[T]], attempts: int, per_try: float, total: float
) -> T:
    async def attempt(left: int) -> T:
        if left == 0:
            raise TimeoutError("out of attempts")
        try:
            async with asyncio.timeout(per_try):
                return await fetch()
        except TimeoutError:
            pass
        return await attempt(left - 1)

    async with asyncio.timeout(total):
        return await attempt(attempts)
