"""Mutant: each attempt is a task; on the per-try timeout it is cancelled, then waited
for with `asyncio.wait`. When the total deadline cancels *that* wait, the attempt is
left behind: if it ignored its first cancellation, it is still running when the call
raises TimeoutError (at the right time, so only a look at what is left running tells).

This is what `asyncio.wait_for` itself does on Python 3.11 (it runs the awaitable in a
task, and its "cancel and wait" stops waiting when the caller is cancelled), so
`asyncio.timeout(total)` around `asyncio.wait_for(fetch(), per_try)` fails this way on
3.11 only: from 3.12 on, `wait_for` is built on `asyncio.timeout` and awaits fetch in the
caller's own task. Written out by hand, as here, it is wrong on every version.

Must fail: test_swallowing_fetch_still_times_out
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def _attempt(fetch: Callable[[], Awaitable[T]], per_try: float) -> T:
    task: asyncio.Future[T] = asyncio.ensure_future(fetch())
    try:
        done, _ = await asyncio.wait({task}, timeout=per_try)
    except asyncio.CancelledError:
        task.cancel()
        await asyncio.wait({task})
        raise
    if task in done:
        return task.result()
    task.cancel()
    await asyncio.wait({task})  # "wait for its cleanup" -- unless we are cancelled here
    raise TimeoutError


async def fetch_with_deadline(
    fetch: Callable[[], Awaitable[T]], attempts: int, per_try: float, total: float
) -> T:
    async with asyncio.timeout(total):
        for _ in range(attempts):
            try:
                return await _attempt(fetch, per_try)
            except TimeoutError:
                continue
        raise TimeoutError
