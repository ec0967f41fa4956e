"""Exercise 09 - timeouts: retries with a deadline per attempt and one for the whole call.

What to build
-------------
``async def fetch_with_deadline(fetch, attempts, per_try, total)``:

- calls ``fetch()`` (a zero-argument callable returning an awaitable) up to
  ``attempts`` times, and returns the first value an attempt produces;
- an attempt that takes longer than ``per_try`` seconds is cancelled, and the next
  attempt starts at once;
- the whole call never takes longer than ``total`` seconds: when that deadline passes,
  whatever is running is cancelled and ``TimeoutError`` is raised;
- when every attempt timed out, it raises ``TimeoutError``;
- any other exception from ``fetch`` propagates at once, unchanged (no retry);
- nothing is left running when it returns or raises.

Why it matters
--------------
Every network call needs a deadline, or one silent peer hangs your program forever. Two
deadlines are the usual pair: a short one per attempt (retry a stuck request) and one for
the whole operation (the caller's patience). The catch is to make the second one real:
"5 tries of 1 s" is not "at most 2.5 s" unless something bounds the whole call.

In asyncio a timeout *is* a cancellation. ``async with asyncio.timeout(s):`` cancels
the code inside it when time is up, waits for that code to finish its cleanup, then
raises ``TimeoutError``. (``asyncio.wait_for(aw, s)`` does the same for one awaitable,
with one difference on Python 3.11: there it runs ``aw`` in a task of its own, and if
the code awaiting ``wait_for`` is cancelled while ``wait_for`` waits for a cancelled
``aw`` to finish, it stops waiting and leaves ``aw`` running. From 3.12 on, ``wait_for``
is built on ``asyncio.timeout`` and behaves as above.)
Because it is a cancellation, the timed-out attempt's ``finally:`` blocks run, and
nothing keeps running in the background, unless you ``asyncio.shield`` it or cancel a
task without waiting for it. Timeouts also nest: an inner one that fires is reported by
the inner ``async with``; an outer one that fires passes straight through the inner one.

Docs: https://docs.python.org/3/library/asyncio-task.html#timeouts (``asyncio.timeout``,
``asyncio.wait_for``) and https://docs.python.org/3/library/asyncio-task.html#task-cancellation
"""

from __future__ import annotations

import asyncio  # noqa: F401  (you will need it)
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def fetch_with_deadline(
    fetch: Callable[[], Awaitable[T]], attempts: int, per_try: float, total: float
) -> T:
    # TODO: a deadline for the whole call around a retry loop; a deadline per attempt
    # inside it; retry only on the per-attempt timeout.
    raise NotImplementedError("fetch_with_deadline")
