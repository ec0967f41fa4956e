"""Mutant: the task is kept in a class attribute (`Ticker._task`), shared by every Ticker.

With two Tickers, the second start() overwrites the first one's task: stop() on either
cancels and awaits the same task, and the first Ticker's task is never stopped.

Must fail: test_tick_error_surfaces_from_stop
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect


class Ticker:
    _task = None  # "the" ticking task: shared by every Ticker

    def __init__(self, interval, on_tick):
        self.interval, self.on_tick = interval, on_tick

    def start(self):
        Ticker._task = asyncio.create_task(self._run())

    async def _run(self):
        n = 0
        while True:
            await asyncio.sleep(self.interval)
            n += 1
            r = self.on_tick(n)
            if inspect.isawaitable(r):
                await r

    async def stop(self):
        task = Ticker._task
        if task is None:
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
