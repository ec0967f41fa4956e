"""Mutant: starts every fetch as a task, then reads ``task.result()`` without awaiting.

One ``sleep(0)`` is not "until they are done": ``result()`` of an unfinished task raises
InvalidStateError instead of waiting.

Must fail: test_fetches_concurrently, test_results_in_input_order, test_same_exception_propagates
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any


async def fetch_all(urls: list[str], fetch: Callable[[str], Awaitable[Any]]) -> list[Any]:
    tasks = [asyncio.ensure_future(fetch(url)) for url in urls]
    await asyncio.sleep(0)
    return [task.result() for task in tasks]
