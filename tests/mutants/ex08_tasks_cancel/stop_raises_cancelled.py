"""Mutant: stop() awaits the cancelled task and lets its CancelledError escape.

Must fail: test_stop_waits_for_cleanup
"""

from __future__ import annotations

import asyncio
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
            result = self.on_tick(count)
            if inspect.isawaitable(result):
                await result

    async def stop(self) -> None:
        assert self._task is not None
        self._task.cancel()
        await self._task
