"""Mutant: each attempt gets min(per_try, time remaining), with no deadline around the loop.

Right while every attempt obeys its cancellation; an attempt that swallows it once is
never cut off again, and the call runs past total.

Must fail: test_swallowing_fetch_still_times_out
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def fetch_with_deadline(
    fetch: Callable[[], Awaitable[T]], attempts: int, per_try: float, total: float
) -> T:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + total
    for _ in range(attempts):
        remaining = deadline - loop.time()
        if remaining <= 0:
            break
        try:
            async with asyncio.timeout(min(per_try, remaining)):
                return await fetch()
        except TimeoutError:
            continue
    raise TimeoutError
