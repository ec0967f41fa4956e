"""ex03 alt: tasks awaited in order; on the first error the others are cancelled and drained (errors retrieved) before re-raising."""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def fetch_all(urls: list[str], fetch: Callable[[str], Awaitable[T]]) -> list[T]:
    async def one(url):
        return await fetch(url)

    tasks = [asyncio.create_task(one(u)) for u in urls]
    results = []
    try:
        for t in tasks:
            results.append(await t)
    except BaseException:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
    return results
