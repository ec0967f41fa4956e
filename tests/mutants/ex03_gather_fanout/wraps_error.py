"""Mutant: catches the fetch error and raises a new one (the seed\x27s "handle it explicitly").

Must fail: test_same_exception_propagates
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def fetch_all(urls: list[str], fetch: Callable[[str], Awaitable[T]]) -> list[T]:
    try:
        return list(await asyncio.gather(*(fetch(url) for url in urls)))
    except Exception as exc:
        raise RuntimeError(f"fetch failed: {exc}") from exc


if __name__ == "__main__":

    async def fake_fetch(url: str) -> str:
        await asyncio.sleep(len(url) / 10)
        return f"<html of {url}>"

    print(asyncio.run(fetch_all(["https://python.org", "https://a.io"], fake_fetch)))
