"""Mutant: gathers, then leaves out the results that are None.

A fetch may return None (or any falsy value): result[i] is what fetch(urls[i]) returned,
so filtering shifts every later result onto the wrong url.

Must fail: test_fetches_concurrently
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def fetch_all(urls: list[str], fetch: Callable[[str], Awaitable[T]]) -> list[T]:
    results = await asyncio.gather(*(fetch(url) for url in urls))
    return [r for r in results if r is not None]
