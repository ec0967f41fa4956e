"""Mutant: start() creates the task without keeping it; stop() only sets a flag.

Nothing keeps the task alive (the loop holds tasks weakly), nothing cancels it, and
nobody waits for it: it ticks once more after stop() and its cleanup runs later, if ever.

Must fail: test_stop_waits_for_cleanup, test_no_ticks_after_stop, test_keeps_a_reference_to_its_task
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable


class Ticker:
    def __init__(self, interval: float, on_tick: Callable[[int], object]) -> None:
        self.interval = interval
        self.on_tick = on_tick
        self._stopped = False

    def start(self) -> None:
        asyncio.create_task(self._run())  # noqa: RUF006 - the bug this mutant plants

    async def _run(self) -> None:
        count = 0
        while not self._stopped:
            await asyncio.sleep(self.interval)
            count += 1
            result = self.on_tick(count)
            if inspect.isawaitable(result):
                await result

    async def stop(self) -> None:
        self._stopped = True
