"""Retries on `except (TimeoutError, ConnectionError)`: "network hiccups are worth a retry".
The contract says any other exception propagates at once.
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
    async with asyncio.timeout(total):
        for _ in range(attempts):
            try:
                async with asyncio.timeout(per_try):
                    return await fetch()
            except (TimeoutError, ConnectionError):
                # network hiccups are worth a retry too
                continue
        raise TimeoutError("all attempts failed")
