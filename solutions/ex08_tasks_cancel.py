"""Exercise 08 - tasks_cancel: reference solution."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable


class Ticker:
    """Calls ``on_tick(1)``, ``on_tick(2)``, ... every ``interval`` seconds in a task."""

    def __init__(self, interval: float, on_tick: Callable[[int], object]) -> None:
        self.interval = interval
        self.on_tick = on_tick
        # The loop keeps only a weak reference to its tasks: this attribute is what keeps
        # the ticking task alive (and what lets stop() find it).
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        count = 0
        while True:
            await asyncio.sleep(self.interval)
            count += 1
            result = self.on_tick(count)
            if inspect.isawaitable(result):
                await result

    async def stop(self) -> None:
        task = self._task
        if task is None:
            return
        task.cancel()  # a no-op when on_tick already failed and ended the task
        try:
            await task  # waits for the task's cleanup; re-raises on_tick's exception
        except asyncio.CancelledError:
            # The task ended cancelled, as asked. But if *we* are being cancelled while
            # waiting, that cancellation belongs to our caller: let it through.
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise
