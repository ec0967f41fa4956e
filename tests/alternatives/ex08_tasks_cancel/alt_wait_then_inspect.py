"""Alt: stop() waits with asyncio.wait({task}) (which never raises the task's outcome),
then inspects the finished task."""
from __future__ import annotations
import asyncio
import inspect


class Ticker:
    def __init__(self, interval, on_tick):
        self.interval = interval
        self.on_tick = on_tick
        self._task = None

    def start(self):
        self._task = asyncio.get_running_loop().create_task(self._tick_forever())

    async def _tick_forever(self):
        n = 0
        while True:
            await asyncio.sleep(self.interval)
            n += 1
            res = self.on_tick(n)
            if inspect.isawaitable(res):
                await res

    async def stop(self):
        task = self._task
        if task is None:
            return
        task.cancel()
        await asyncio.wait({task})  # a cancellation of our caller propagates from here
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            raise exc
