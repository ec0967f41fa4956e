"""Exercise 03 - gather_fanout: reference solution."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def fetch_all(urls: list[str], fetch: Callable[[str], Awaitable[T]]) -> list[T]:
    # gather keeps argument order and re-raises the first exception unchanged; it also
    # retrieves the exceptions of children that fail later, so none goes unreported.
    return list(await asyncio.gather(*(fetch(url) for url in urls)))


if __name__ == "__main__":

    async def fake_fetch(url: str) -> str:
        await asyncio.sleep(len(url) / 10)
        return f"<html of {url}>"

    print(asyncio.run(fetch_all(["https://python.org", "https://a.io"], fake_fetch)))
