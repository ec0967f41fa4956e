"""ex03 alt: TaskGroup, ExceptionGroup unwrapped with except*."""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def fetch_all(urls: list[str], fetch: Callable[[str], Awaitable[T]]) -> list[T]:
    try:
        async with asyncio.TaskGroup() as tg:
            tasks = [tg.create_task(fetch(u)) for u in urls]
    except* Exception as eg:
        raise eg.exceptions[0]
    return [t.result() for t in tasks]
