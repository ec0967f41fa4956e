"""Catches CancelledError inside the per-try `async with asyncio.timeout(per_try):` block
and continues: the per-try timeout then ends quietly (no TimeoutError), and the total
deadline's cancellation is swallowed the same way, so attempts go on after `total`.
Must fail: test_total_deadline_holds, test_swallowing_fetch_still_times_out
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
            async with asyncio.timeout(per_try):
                try:
                    return await fetch()
                except asyncio.CancelledError:
                    # the per-try timeout cancelled this attempt: try the next one
                    continue
        raise TimeoutError("all attempts timed out")
