"""Mutant: decides by iscoroutinefunction(on_tick) instead of looking at its result.

A plain function that returns a coroutine (a lambda, a functools.partial, a method that
builds one) is called, and its coroutine is never awaited.

Must fail: test_awaits_what_on_tick_returns
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import Callable


class Ticker:
    def __init__(self, interval: float, on_tick: Callable[[int], object]) -> None:
        self.interval = interval
        self.on_tick = on_tick
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        count = 0
        while True:
            await asyncio.sleep(self.interval)
            count += 1
            if inspect.iscoroutinefunction(self.on_tick):
                await self.on_tick(count)
            else:
                self.on_tick(count)

    async def stop(self) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
