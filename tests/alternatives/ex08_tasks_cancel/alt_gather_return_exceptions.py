"""Alt: stop() awaits gather(task, return_exceptions=True) and re-raises a real error;
ticking on absolute deadlines (no drift), awaitable detected via __await__."""
from __future__ import annotations
import asyncio


class Ticker:
    def __init__(self, interval, on_tick):
        self.interval = interval
        self.on_tick = on_tick
        self._task: asyncio.Task | None = None

    def start(self):
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        self._task = asyncio.create_task(self._loop(t0))

    async def _loop(self, t0):
        loop = asyncio.get_running_loop()
        n = 0
        while True:
            n += 1
            await asyncio.sleep(max(0.0, t0 + n * self.interval - loop.time()))
            res = self.on_tick(n)
            if hasattr(type(res), "__await__"):
                await res

    async def stop(self):
        if self._task is None:
            return
        self._task.cancel()
        (outcome,) = await asyncio.gather(self._task, return_exceptions=True)
        if isinstance(outcome, BaseException) and not isinstance(outcome, asyncio.CancelledError):
            raise outcome
