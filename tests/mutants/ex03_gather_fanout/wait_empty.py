"""Mutant: asyncio.wait on the tasks, which refuses an empty set.

Must fail: test_empty_list
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def fetch_all(urls: list[str], fetch: Callable[[str], Awaitable[T]]) -> list[T]:
    tasks = [asyncio.ensure_future(fetch(url)) for url in urls]
    await asyncio.wait(tasks)
    return [task.result() for task in tasks]


if __name__ == "__main__":

    async def fake_fetch(url: str) -> str:
        await asyncio.sleep(len(url) / 10)
        return f"<html of {url}>"

    print(asyncio.run(fetch_all(["https://python.org", "https://a.io"], fake_fetch)))
