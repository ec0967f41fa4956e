"""Mutant: pauses between attempts with `time.sleep(0.05)`: a blocking call on the event
loop's thread (short, so no deadline is missed, but nothing else runs meanwhile).

Must fail: test_later_attempt_succeeds, test_total_deadline_holds
"""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

import time

async def fetch_with_deadline(
    fetch: Callable[[], Awaitable[T]], attempts: int, per_try: float, total: float
) -> T:
    async with asyncio.timeout(total):
        for i in range(attempts):
            if i:
                time.sleep(0.05)  # small pause before retrying
            try:
                async with asyncio.timeout(per_try):
                    return await fetch()
            except TimeoutError:
                continue
        raise TimeoutError("all attempts timed out")
