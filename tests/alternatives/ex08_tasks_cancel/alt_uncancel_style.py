"""Alt: stop() compares the caller's cancelling() count before and after `await task`
to decide whose CancelledError it got."""
from __future__ import annotations
import asyncio
import inspect


class Ticker:
    def __init__(self, interval, on_tick):
        self.interval = interval
        self.on_tick = on_tick
        self._task = None

    def start(self):
        self._task = asyncio.create_task(self._run(), name="ticker")

    async def _run(self):
        i = 1
        while True:
            await asyncio.sleep(self.interval)
            r = self.on_tick(i)
            if inspect.isawaitable(r):
                await r
            i += 1

    async def stop(self):
        task, self._task = self._task, None
        if task is None:
            return
        me = asyncio.current_task()
        before = me.cancelling()
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            if me.cancelling() > before:
                raise
