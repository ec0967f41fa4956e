"""ex03 alt: as_completed with index-carrying wrappers; on error, cancel and drain the rest."""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def fetch_all(urls: list[str], fetch: Callable[[str], Awaitable[T]]) -> list[T]:
    async def indexed(i, url):
        return i, await fetch(url)

    tasks = [asyncio.create_task(indexed(i, u)) for i, u in enumerate(urls)]
    results: list = [None] * len(urls)
    try:
        for nxt in asyncio.as_completed(tasks):
            i, value = await nxt
            results[i] = value
    except BaseException:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
    return results
