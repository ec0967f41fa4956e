"""Mutant: the total deadline is only checked before starting each attempt.

An attempt started just before the deadline runs its full per_try past it.

Must fail: test_total_deadline_holds
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
    start = loop.time()
    for _ in range(attempts):
        if loop.time() - start >= total:
            break
        try:
            async with asyncio.timeout(per_try):
                return await fetch()
        except TimeoutError:
            continue
    raise TimeoutError
