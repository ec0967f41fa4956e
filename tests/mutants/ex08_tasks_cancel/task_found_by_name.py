"""Mutant: keeps no reference to the task; stop() finds it again by name.

Works as long as the garbage collector does not run while the task waits on something
only the task itself references; then the task is destroyed mid-flight.

Must fail: test_keeps_a_reference_to_its_task
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
        self._name = f"ticker-{id(self)}"

    def start(self) -> None:
        asyncio.create_task(self._run(), name=self._name)  # noqa: RUF006 - the bug planted here

    async def _run(self) -> None:
        count = 0
        while True:
            await asyncio.sleep(self.interval)
            count += 1
            result = self.on_tick(count)
            if inspect.isawaitable(result):
                await result

    async def stop(self) -> None:
        for task in asyncio.all_tasks():
            if task.get_name() == self._name:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
