"""Mutant: when every attempt timed out, returns None instead of raising TimeoutError.

Must fail: test_gives_up_after_attempts
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
                continue
    return None  # type: ignore[return-value]
