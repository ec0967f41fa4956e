"""Mutant: a semaphore lets at most 5 fetches run at once (the contract wants all at once).

Must fail: test_fetches_concurrently
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def fetch_all(urls: list[str], fetch: Callable[[str], Awaitable[T]]) -> list[T]:
    limit = asyncio.Semaphore(5)

    async def one(url: str) -> T:
        async with limit:
            return await fetch(url)

    return list(await asyncio.gather(*(one(url) for url in urls)))
