"""ex03 alt (first written as a wrong answer): tasks awaited in order; on error the others are cancelled but not awaited. Task.cancel() on an already-failed task clears its _log_traceback, so no error is reported as lost."""
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
        raise
    return results
