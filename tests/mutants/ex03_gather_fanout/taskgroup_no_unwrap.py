"""Mutant: a TaskGroup without unwrapping: a failing fetch surfaces as an ExceptionGroup.

Must fail: test_same_exception_propagates
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def fetch_all(urls: list[str], fetch: Callable[[str], Awaitable[T]]) -> list[T]:
    async with asyncio.TaskGroup() as tg:
        tasks = [tg.create_task(fetch(url)) for url in urls]  # type: ignore[arg-type]
    return [task.result() for task in tasks]


if __name__ == "__main__":

    async def fake_fetch(url: str) -> str:
        await asyncio.sleep(len(url) / 10)
        return f"<html of {url}>"

    print(asyncio.run(fetch_all(["https://python.org", "https://a.io"], fake_fetch)))
