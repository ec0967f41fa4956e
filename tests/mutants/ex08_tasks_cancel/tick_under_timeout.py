"""Awaits on_tick's result under `asyncio.wait_for(result, interval)` "to keep the
cadence", swallowing the TimeoutError: a slow tick is cut short; and when stop() cancels
the task, that timeout can expire during the cancelled tick's cleanup and cancel it a
second time (from Python 3.12 on, where wait_for runs in the ticking task). stop() itself
is the reference one: the messages must not blame it.
Must fail: test_awaits_what_on_tick_returns
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
                try:
                    # keep the cadence: a tick may not take longer than one interval
                    await asyncio.wait_for(result, self.interval)
                except TimeoutError:
                    pass

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

