"""ex03 alt: explicit tasks passed to gather; on error cancel the rest."""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def fetch_all(urls: list[str], fetch: Callable[[str], Awaitable[T]]) -> list[T]:
    async def one(url: str):
        return await fetch(url)

    tasks = [asyncio.create_task(one(u)) for u in urls]
    try:
        results = await asyncio.gather(*tasks)
    except BaseException:
        for t in tasks:
            t.cancel()
        raise
    return list(results)
