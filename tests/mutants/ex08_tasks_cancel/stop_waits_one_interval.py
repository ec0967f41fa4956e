"""stop() cancels the task but waits for it at most one interval
(`asyncio.wait_for(asyncio.shield(task), self.interval)`), then returns quietly: a cleanup
slower than that is still running when stop() returns, and nobody waits for it any more.

Must fail: test_stop_waits_for_cleanup
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
            r = self.on_tick(n)
            if inspect.isawaitable(r):
                await r

    async def stop(self):
        task = self._task
        if task is None:
            return
        task.cancel()
        try:
            await asyncio.wait_for(asyncio.shield(task), self.interval)
        except TimeoutError:
            return
        except asyncio.CancelledError:
            if asyncio.current_task().cancelling():
                raise
