"""Exercise 08 - tasks_cancel: own a background task, cancel it, wait for it.

What to build
-------------
A ``Ticker`` that calls ``on_tick(1)``, ``on_tick(2)``, ... every ``interval`` seconds
in the background, while the code that started it goes on awaiting other things.

- ``Ticker(interval, on_tick)`` only stores its arguments.
- ``start()`` is a plain ``def``, called from inside a running event loop. It starts
  the ticking in a task and returns at once. The first tick comes one interval after
  ``start()``, then one per interval.
- ``on_tick`` may be a plain function (its result is ignored) or may return an
  awaitable (a coroutine, a Future, any object with ``__await__``), which the ticker
  awaits before it goes on ticking.
- ``async def stop()`` cancels the ticking task and returns only once that task has
  finished, so its cleanup (``finally:`` blocks inside ``on_tick``) has run. It returns
  normally, unless ``on_tick`` raised: that exception ends the ticking, and ``stop()``
  re-raises it, unchanged. If the task awaiting ``stop()`` is itself cancelled while
  ``stop()`` waits, that cancellation is its caller's: ``stop()`` lets it through.

Why it matters
--------------
``asyncio.create_task`` is how work runs "in the background", and it comes with three
duties the tutorial this kit corrects never mentions:

1. **Keep a reference.** The event loop holds tasks only weakly. A task nobody stores
   can be garbage-collected in the middle of an ``await`` ("Task was destroyed but it
   is pending!"). Fire-and-forget is not a pattern, it is a bug.
2. **Cancel, then wait.** ``task.cancel()`` only *requests* cancellation: it throws
   ``CancelledError`` into the task at its current ``await``. The task is finished only
   when that exception has travelled up through its ``finally:`` blocks. Await the task
   to know it is done. And never swallow ``CancelledError`` in the task itself: a loop
   that catches it and carries on cannot be stopped.
3. **Collect the result.** The tutorial says "asyncio doesn't propagate exceptions".
   It does, to whoever awaits the task. If nobody does, the error vanishes, and all you
   get is a "Task exception was never retrieved" line in the log.

Docs: https://docs.python.org/3/library/asyncio-task.html#creating-tasks (read the
"Important" box), https://docs.python.org/3/library/asyncio-task.html#task-cancellation
and https://docs.python.org/3/library/inspect.html#inspect.isawaitable
"""

from __future__ import annotations

import asyncio  # noqa: F401  (you will need it)
import inspect  # noqa: F401  (you will need it)
from collections.abc import Callable


class Ticker:
    def __init__(self, interval: float, on_tick: Callable[[int], object]) -> None:
        self.interval = interval
        self.on_tick = on_tick
        # TODO: somewhere to keep the ticking task.

    def start(self) -> None:
        # TODO: create the ticking task (and keep it). Return at once.
        raise NotImplementedError("Ticker.start")

    # TODO: the ticking loop itself, as a coroutine method: sleep one interval, call
    # on_tick with the next number, await its result if it is awaitable, repeat.

    async def stop(self) -> None:
        # TODO: cancel the task, wait until it has finished, re-raise on_tick's error.
        raise NotImplementedError("Ticker.stop")
