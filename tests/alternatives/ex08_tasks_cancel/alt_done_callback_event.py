"""Alt: a done-callback sets an asyncio.Event; stop() awaits the event, then
task.result() re-raises on_tick's error (CancelledError of the task is expected)."""
from __future__ import annotations
import asyncio
import inspect


class Ticker:
    def __init__(self, interval, on_tick):
        self.interval = interval
        self.on_tick = on_tick
        self._task = None
        self._finished = None

    def start(self):
        self._finished = asyncio.Event()
        self._task = asyncio.create_task(self._ticking())
        self._task.add_done_callback(lambda _t: self._finished.set())

    async def _ticking(self):
        count = 0
        while True:
            await asyncio.sleep(self.interval)
            count += 1
            maybe = self.on_tick(count)
            if inspect.isawaitable(maybe):
                await maybe

    async def stop(self):
        if self._task is None:
            return
        self._task.cancel()
        await self._finished.wait()
        if not self._task.cancelled():
            self._task.result()  # raises on_tick's exception, unchanged
