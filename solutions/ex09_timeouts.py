"""Exercise 09 - timeouts: reference solution."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def fetch_with_deadline(
    fetch: Callable[[], Awaitable[T]], attempts: int, per_try: float, total: float
) -> T:
    # One deadline around everything: it fires at `total` whatever the attempts do, even
    # if an attempt ignored its own cancellation.
    async with asyncio.timeout(total):
        for _ in range(attempts):
            try:
                async with asyncio.timeout(per_try):
                    return await fetch()
            except TimeoutError:
                # Only the inner deadline turns into TimeoutError here; when the outer one
                # fires, CancelledError passes through this loop and becomes TimeoutError
                # at the outer `async with`.
                continue
        raise TimeoutError(f"all {attempts} attempts timed out after {per_try}s each")
