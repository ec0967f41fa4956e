"""Mutant: the ticking loop catches exceptions from on_tick, prints them and goes on.

Must fail: test_tick_error_surfaces_from_stop
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

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        count = 0
        while True:
            await asyncio.sleep(self.interval)
            count += 1
            try:
                result = self.on_tick(count)
                if inspect.isawaitable(result):
                    await result
            except Exception as exc:
                print(f"tick {count} failed: {exc!r}")

    async def stop(self) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
