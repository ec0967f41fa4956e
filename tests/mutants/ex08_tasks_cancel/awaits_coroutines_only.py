"""Mutant: awaits the result only when it is a coroutine (asyncio.iscoroutine).

A Future or any other object with __await__ is an awaitable too, and is dropped.

Must fail: test_awaits_what_on_tick_returns
"""

from __future__ import annotations

import asyncio
import contextlib
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
            result = self.on_tick(count)
            if asyncio.iscoroutine(result):
                await result

    async def stop(self) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
