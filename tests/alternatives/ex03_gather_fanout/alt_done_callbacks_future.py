"""ex03 alt: tasks with done-callbacks filling slots and settling one future; the first
failure wins, the others are cancelled (each callback reads its task's exception)."""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def fetch_all(urls: list[str], fetch: Callable[[str], Awaitable[T]]) -> list[T]:
    if not urls:
        return []
    overall: asyncio.Future[list[T]] = asyncio.get_running_loop().create_future()
    results: list[T | None] = [None] * len(urls)
    left = len(urls)

    async def run(url: str) -> T:
        return await fetch(url)

    def done(i: int, task: asyncio.Task[T]) -> None:
        nonlocal left
        if task.cancelled():
            return
        error = task.exception()
        if overall.done():
            return
        if error is not None:
            overall.set_exception(error)
            return
        results[i] = task.result()
        left -= 1
        if left == 0:
            overall.set_result(results)  # type: ignore[arg-type]

    tasks = []
    for i, url in enumerate(urls):
        task = asyncio.ensure_future(run(url))
        task.add_done_callback(lambda t, i=i: done(i, t))
        tasks.append(task)
    try:
        return await overall
    finally:
        for task in tasks:
            task.cancel()
