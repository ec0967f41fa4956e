"""Alt: `contextlib.suppress(TimeoutError)` around each per-try `asyncio.timeout`, all inside
`asyncio.timeout(total)`."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

import contextlib

async def fetch_with_deadline(
    fetch: Callable[[], Awaitable[T]], attempts: int, per_try: float, total: float
) -> T:
    async with asyncio.timeout(total):
        for _ in range(attempts):
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(per_try):
                    return await fetch()
        raise TimeoutError(f"{attempts} attempts of {per_try}s each timed out")
