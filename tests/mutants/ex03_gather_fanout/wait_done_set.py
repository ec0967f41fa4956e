"""Mutant: asyncio.wait, then results read from the done *set*: its order is arbitrary
(it usually fails test_results_in_input_order too, but not always, so that is not
required), and of the failed tasks only the first one met has its error retrieved.

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
    done, _ = await asyncio.wait(tasks)
    return [task.result() for task in done]
