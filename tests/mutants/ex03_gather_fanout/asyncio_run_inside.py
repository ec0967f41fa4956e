"""Mutant: the coroutine starts a second event loop with ``asyncio.run``.

``fetch_all`` already runs on a loop; ``asyncio.run`` raises RuntimeError there.

Must fail: test_fetches_concurrently, test_results_in_input_order, test_same_exception_propagates, test_empty_list
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any


async def fetch_all(urls: list[str], fetch: Callable[[str], Awaitable[Any]]) -> list[Any]:
    async def fetch_everything() -> list[Any]:
        return list(await asyncio.gather(*(fetch(url) for url in urls)))

    return asyncio.run(fetch_everything())
