"""Mutant: as_completed with each result put back at its index: concurrent, ordered, and
one failure propagates bare; but it stops at the first error and leaves the other fetches
running, so their later errors are never retrieved.

Must fail: test_several_failures_none_lost
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def fetch_all(urls: list[str], fetch: Callable[[str], Awaitable[T]]) -> list[T]:
    async def indexed(i: int, url: str) -> tuple[int, T]:
        return i, await fetch(url)

    results: list[T | None] = [None] * len(urls)
    for next_done in asyncio.as_completed([indexed(i, url) for i, url in enumerate(urls)]):
        i, value = await next_done
        results[i] = value
    return results  # type: ignore[return-value]
