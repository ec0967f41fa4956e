"""Awaits on_tick's result through `asyncio.shield(...)` "so a stop() lands between
ticks": stop() cancels the ticking task, which ends at once, while on_tick never gets
the CancelledError and goes on running in a task of its own. stop() itself is the
reference one: the messages must name the shield, not blame stop().
Must fail: test_stop_waits_for_cleanup, test_stop_lets_callers_cancellation_through
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
        n = 0
        while True:
            await asyncio.sleep(self.interval)
            n += 1
            result = self.on_tick(n)
            if inspect.isawaitable(result):
                # never cut a user's callback in half: a stop() lands between ticks
                await asyncio.shield(result)

    async def stop(self) -> None:
        task = self._task
        if task is None:
            return
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            if asyncio.current_task().cancelling():
                raise
