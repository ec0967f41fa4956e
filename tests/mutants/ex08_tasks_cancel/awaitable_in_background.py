"""Mutant: runs on_tick's awaitable as a background task instead of awaiting it.

Ticks overlap, and an exception in an async on_tick is never retrieved.

Must fail: test_awaits_what_on_tick_returns, test_tick_error_surfaces_from_stop
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import Callable


class Ticker:
    def __init__(self, interval: float, on_tick: Callable[[int], object]) -> None:
        self.interval = interval
        self.on_tick = on_tick
        self._task: asyncio.Task[None] | None = None
        self._background: set[asyncio.Future[object]] = set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        count = 0
        while True:
            await asyncio.sleep(self.interval)
            count += 1
            result = self.on_tick(count)
            if inspect.isawaitable(result):
                future = asyncio.ensure_future(result)
                self._background.add(future)
                future.add_done_callback(self._background.discard)

    async def stop(self) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
