"""Mutant: retries on any exception, not only on a timeout.

Must fail: test_other_errors_propagate_at_once
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def fetch_with_deadline(
    fetch: Callable[[], Awaitable[T]], attempts: int, per_try: float, total: float
) -> T:
    last: Exception = TimeoutError()
    async with asyncio.timeout(total):
        for _ in range(attempts):
            try:
                async with asyncio.timeout(per_try):
                    return await fetch()
            except Exception as exc:
                last = exc
                continue
    raise last
