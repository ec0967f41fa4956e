"""Mutant: ignores attempts and keeps retrying until the total deadline.

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
        while True:
            try:
                async with asyncio.timeout(per_try):
                    return await fetch()
            except TimeoutError:
                continue
