"""stop() waits with `asyncio.wait([task])` then calls `task.exception()`, which raises
CancelledError on the task it just cancelled: stop() raises CancelledError into a caller
nobody cancelled.
Must fail: test_stop_waits_for_cleanup
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable

class Ticker:
    def __init__(self, interval: float, on_tick: Callable[[int], object]) -> None:
        self.interval = interval
        self.on_tick = on_tick
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        n = 0
        while True:
            await asyncio.sleep(self.interval)
            n += 1
            result = self.on_tick(n)
            if inspect.isawaitable(result):
                await result

    async def stop(self) -> None:
        task = self._task
        if task is None:
            return
        task.cancel()
        await asyncio.wait([task])
        if task.exception() is not None:  # raises CancelledError on a cancelled task
            raise task.exception()
