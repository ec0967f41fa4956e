"""ex03 alt: asyncio.wait(FIRST_EXCEPTION); on failure cancel the rest, retrieve every error, raise the first failed task's own exception."""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def _call(fetch, url):
    return await fetch(url)


async def fetch_all(urls: list[str], fetch: Callable[[str], Awaitable[T]]) -> list[T]:
    if not urls:
        return []
    tasks = [asyncio.ensure_future(_call(fetch, u)) for u in urls]
    done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
    failed = [t for t in tasks if t in done and not t.cancelled() and t.exception() is not None]
    if failed:
        for t in pending:
            t.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        for t in done:  # retrieve every error (marks them as seen)
            if not t.cancelled():
                t.exception()
        raise failed[0].exception()
    return [t.result() for t in tasks]
