"""Mutant: waits with FIRST_EXCEPTION, then reads every task's result.

With several failures, the first one ends the wait while other fetches are still running:
`result()` of a task that is not done raises InvalidStateError, not the fetch's error.

Must fail: test_several_failures_none_lost
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def fetch_all(urls: list[str], fetch: Callable[[str], Awaitable[T]]) -> list[T]:
    if not urls:
        return []
    tasks = [asyncio.create_task(fetch(url)) for url in urls]
    await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
    return [task.result() for task in tasks]
