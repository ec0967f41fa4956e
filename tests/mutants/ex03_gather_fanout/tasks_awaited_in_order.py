"""Mutant: creates all tasks, then awaits them in order.

Concurrent and ordered, and a single failure propagates bare; but when several fetches
fail, only the first awaited error is retrieved and the others are logged as
"Task exception was never retrieved".

Must fail: test_several_failures_none_lost
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def fetch_all(urls: list[str], fetch: Callable[[str], Awaitable[T]]) -> list[T]:
    tasks = [asyncio.ensure_future(fetch(url)) for url in urls]
    return [await task for task in tasks]


if __name__ == "__main__":

    async def fake_fetch(url: str) -> str:
        await asyncio.sleep(len(url) / 10)
        return f"<html of {url}>"

    print(asyncio.run(fetch_all(["https://python.org", "https://a.io"], fake_fetch)))
