"""Mutant: fetches each distinct url once and reuses its result for the repeats.

The contract says ``result[i]`` is what ``fetch(urls[i])`` returned: a url listed twice
is fetched twice (a page may change between two fetches, and ``fetch`` may count calls).

Must fail: test_fetches_concurrently
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def fetch_all(urls: list[str], fetch: Callable[[str], Awaitable[T]]) -> list[T]:
    distinct = list(dict.fromkeys(urls))
    results = await asyncio.gather(*(fetch(url) for url in distinct))
    by_url = dict(zip(distinct, results))
    return [by_url[url] for url in urls]
