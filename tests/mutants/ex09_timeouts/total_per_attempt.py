"""Mutant: "total" applied to each attempt (min(per_try, total)), never to the whole call.

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
    for _ in range(attempts):
        try:
            return await asyncio.wait_for(fetch(), min(per_try, total))
        except TimeoutError:
            continue
    raise TimeoutError
