"""stop() catches every CancelledError out of `await task`: the one it caused, and also
one aimed at its own caller, who is then never told it was cancelled.

Must fail: test_stop_lets_callers_cancellation_through
"""

from __future__ import annotations

import asyncio
import inspect


class Ticker:
    def __init__(self, interval, on_tick):
        self.interval = interval
        self.on_tick = on_tick
        self._task = None

    def start(self):
        self._task = asyncio.create_task(self._run())

    async def _run(self):
        n = 0
        while True:
            await asyncio.sleep(self.interval)
            n += 1
            result = self.on_tick(n)
            if inspect.isawaitable(result):
                await result

    async def stop(self):
        if self._task is None:
            return
        self._task.cancel()
        try:
            await self._task
        except asyncio.CancelledError:
            pass
