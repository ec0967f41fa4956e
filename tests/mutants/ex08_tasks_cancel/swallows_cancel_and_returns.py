"""Mutant: the ticking loop catches CancelledError and returns ("stop quietly").

It stops ticking and stop() returns after the cleanup, but the task ends normally, not
cancelled: the cancellation was swallowed, which asyncio's docs actively discourage.

Must fail: test_stop_waits_for_cleanup
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect


class Ticker:
    def __init__(self, interval, on_tick):
        self.interval, self.on_tick = interval, on_tick
        self._task = None

    def start(self):
        self._task = asyncio.create_task(self._run())

    async def _run(self):
        n = 0
        try:
            while True:
                await asyncio.sleep(self.interval)
                n += 1
                r = self.on_tick(n)
                if inspect.isawaitable(r):
                    await r
        except asyncio.CancelledError:
            return  # "stopped cleanly": the task ends as if nothing happened

    async def stop(self):
        if self._task is None:
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
