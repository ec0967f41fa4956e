"""Exercise 03 - gather_fanout: fetch everything at once, keep the order.

What to build
-------------
``async def fetch_all(urls, fetch)`` calls ``await fetch(url)`` for every url and returns
the results as a list, where ``result[i]`` is what ``fetch(urls[i])`` returned, whatever
it is (``None`` and ``""`` are results too).

- All fetches run **concurrently**: ten fetches of one second each take about one
  second, not ten.
- Results come back in **input order**, not in the order the fetches finished.
- If a fetch raises, **that same exception** propagates out of ``fetch_all`` (not a
  copy, not wrapped in an ``ExceptionGroup``, not returned inside the list).
- If several fetches raise, one of their exceptions propagates and **none is left
  unretrieved**: every failed fetch's exception is awaited or read by someone, or asyncio
  logs "Task exception was never retrieved". ``gather`` retrieves them for you; awaiting
  tasks one by one, the first error ends your loop before the later ones are read.
- ``fetch_all([], fetch)`` returns ``[]``.

``fetch`` is any async callable taking one url; the checks pass fakes.

Why it matters
--------------
Awaiting coroutines one by one (``for url in urls: await fetch(url)``) waits for each
before starting the next: it is correct and sequential. Concurrency comes from starting
them all first, then waiting for all of them: ``asyncio.gather``, tasks you create and
then await, or an ``asyncio.TaskGroup``. They differ in the details this exercise grades:
``gather`` returns results in argument order and re-raises the first exception as it is;
``asyncio.as_completed`` yields in completion order; a ``TaskGroup`` raises an
``ExceptionGroup`` that you must unwrap if your caller expects the bare exception.

The tutorial this kit corrects says asyncio "doesn't automatically propagate
exceptions". It does: an exception in a coroutine you await, or in a task you await,
reaches you. What gets lost is an exception in a task *nobody* awaits.

Docs: https://docs.python.org/3/library/asyncio-task.html#running-tasks-concurrently and
https://docs.python.org/3/library/asyncio-task.html#task-groups
"""

from __future__ import annotations

import asyncio  # noqa: F401  (you will need it)
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def fetch_all(urls: list[str], fetch: Callable[[str], Awaitable[T]]) -> list[T]:
    # TODO: start every fetch(url) at once, wait for all, return results in input order.
    raise NotImplementedError("fetch_all")


if __name__ == "__main__":

    async def fake_fetch(url: str) -> str:
        await asyncio.sleep(len(url) / 10)
        return f"<html of {url}>"

    print(asyncio.run(fetch_all(["https://python.org", "https://a.io"], fake_fetch)))
