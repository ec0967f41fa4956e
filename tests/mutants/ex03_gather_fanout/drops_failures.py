"""Mutant: gather(return_exceptions=True), then silently drops the failures from the list.

Must fail: test_same_exception_propagates, test_several_failures_none_lost
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def fetch_all(urls: list[str], fetch: Callable[[str], Awaitable[T]]) -> list[T]:
    results = await asyncio.gather(*(fetch(url) for url in urls), return_exceptions=True)
    return [r for r in results if not isinstance(r, BaseException)]
