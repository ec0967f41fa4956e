"""Mutant: shields each attempt "so it is not lost"; a timed-out attempt keeps running.

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
            try:
                return await asyncio.wait_for(asyncio.shield(fetch()), per_try)
            except TimeoutError:
                continue
        raise TimeoutError
