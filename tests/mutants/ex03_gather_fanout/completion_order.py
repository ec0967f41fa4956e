"""Mutant: collects results with as_completed, so they come back in completion order.

Must fail: test_results_in_input_order
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def fetch_all(urls: list[str], fetch: Callable[[str], Awaitable[T]]) -> list[T]:
    results = []
    for next_done in asyncio.as_completed([fetch(url) for url in urls]):
        results.append(await next_done)
    return results


if __name__ == "__main__":

    async def fake_fetch(url: str) -> str:
        await asyncio.sleep(len(url) / 10)
        return f"<html of {url}>"

    print(asyncio.run(fetch_all(["https://python.org", "https://a.io"], fake_fetch)))
