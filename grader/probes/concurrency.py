"""Concurrency observed by counting and ordering: how many calls run at once, what
happened before what, and a fake that code calling it one at a time cannot pass."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any


async def settle(rounds: int = 5) -> None:
    """Yield to the loop a few times so callbacks that are already due can run."""
    for _ in range(rounds):
        await asyncio.sleep(0)


async def wait_event(event: asyncio.Event, timeout: float) -> bool:
    """Wait until ``event`` is set; False if ``timeout`` passed first."""
    try:
        await asyncio.wait_for(event.wait(), timeout)
    except TimeoutError:
        return False
    return True


@dataclass
class InFlight:
    """Counts how many calls are running at once; ``max`` is the high-water mark."""

    current: int = 0
    max: int = 0
    total: int = 0

    @contextlib.contextmanager
    def track(self) -> Iterator[None]:
        """Count one call running for the duration of the block."""
        self.current += 1
        self.total += 1
        self.max = max(self.max, self.current)
        try:
            yield
        finally:
            self.current -= 1


@dataclass
class EventLog:
    """An ordered list of events with "happened before" helpers."""

    events: list[str] = field(default_factory=list)

    def add(self, event: str) -> None:
        self.events.append(event)

    def __contains__(self, event: str) -> bool:
        return event in self.events

    def before(self, first: str, second: str) -> bool:
        """Both happened and ``first`` came before ``second``."""
        return first in self.events and second in self.events and (self.events.index(first) < self.events.index(second))


class BarrierProbe:
    """A fake async callable: each call waits until ``parties`` calls are waiting at once.

    Sequential code (await one call, then the next) never gathers ``parties`` waiters, so
    the barrier times out and the probe records ``broken``. With a virtual-time loop the
    timeout costs no real time. ``result(*args)`` gives each call's return value.
    """

    def __init__(
        self,
        parties: int,
        *,
        timeout: float = 2.0,
        result: Callable[..., Any] = lambda *args: args[0] if args else None,
    ) -> None:
        self.parties = parties
        self.timeout = timeout
        self.result = result
        self.calls: list[tuple[Any, ...]] = []
        self.in_flight = InFlight()
        self.broken = False
        self._barrier: asyncio.Barrier | None = None

    async def __call__(self, *args: Any) -> Any:
        if self._barrier is None:
            self._barrier = asyncio.Barrier(self.parties)
        self.calls.append(args)
        with self.in_flight.track():
            if not self.broken:
                try:
                    async with asyncio.timeout(self.timeout):
                        await self._barrier.wait()
                except (TimeoutError, asyncio.BrokenBarrierError):
                    self.broken = True
                    with contextlib.suppress(Exception):
                        await self._barrier.abort()
                except asyncio.CancelledError:
                    # Cancelled before the others arrived: this call never ran together
                    # with them (code that cancels each call in turn is sequential too).
                    if not self.broken and self._barrier.n_waiting < self.parties:
                        self.broken = True
                    raise
        return self.result(*args)
