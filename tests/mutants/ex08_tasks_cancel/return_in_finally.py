"""Mutant: a `return` in the ticking loop's `finally:` (to report the tick count).

A return in finally discards whatever was propagating: on_tick's exception and the
CancelledError alike. stop() never sees the error, and the task never ends cancelled.

Must fail: test_stop_waits_for_cleanup, test_tick_error_surfaces_from_stop
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect


class Ticker:
    def __init__(self, interval, on_tick):
        self.interval, self.on_tick = interval, on_tick
        self._task = None
        self.ticks = 0

    def start(self):
        self._task = asyncio.create_task(self._run())

    async def _run(self):
        try:
            while True:
                await asyncio.sleep(self.interval)
                self.ticks += 1
                r = self.on_tick(self.ticks)
                if inspect.isawaitable(r):
                    await r
        finally:
            return self.ticks  # report how many ticks ran (and swallow whatever was raised)

    async def stop(self):
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
