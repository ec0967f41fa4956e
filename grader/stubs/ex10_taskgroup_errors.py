"""Exercise 10 - taskgroup_errors: run jobs in a TaskGroup, sort their errors with except*.

What to build
-------------
``async def run_all(jobs)``, where each job is a zero-argument callable returning a
coroutine (``job()`` starts nothing until it is awaited or made a task):

- run all the jobs concurrently in an ``asyncio.TaskGroup``;
- all succeed: return ``(results, [])``, the results in the order of ``jobs`` (not the
  order they finished in);
- one or more jobs raise ``ValueError``: the other jobs are cancelled, and ``run_all``
  returns ``([], errors)``, with every ``ValueError`` raised (the same objects);
- any other exception (say a ``KeyError``) propagates out of ``run_all`` inside an
  ``ExceptionGroup``, also when a ValueError came at the same moment (whether the group
  carries the ValueErrors too is up to you).

Why it matters
--------------
The tutorial this kit corrects says asyncio "doesn't propagate exceptions". It does, and
``asyncio.TaskGroup`` (Python 3.11) makes it structured: when a task in the group fails,
the group cancels the others, *waits* for them, then raises one ``ExceptionGroup``
holding every failure. Nothing is left running, and nothing is lost.

``asyncio.gather`` is the older tool, and it behaves differently: on the first exception
it raises that one error and leaves the other awaitables running, and
``return_exceptions=True`` waits for all of them, however long they take.

``except*`` is how you take an ExceptionGroup apart: ``except* ValueError as group:``
runs when the group holds at least one ValueError, with ``group`` an ExceptionGroup of
just those (``group.exceptions``). Whatever it does not match is re-raised for you, still
inside an ExceptionGroup. One restriction: ``return`` is not allowed inside ``except*``.

Docs: https://docs.python.org/3/library/asyncio-task.html#task-groups and
https://docs.python.org/3/tutorial/errors.html#raising-and-handling-multiple-unrelated-exceptions
"""

from __future__ import annotations

import asyncio  # noqa: F401  (you will need it)
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def run_all(jobs: list[Callable[[], Awaitable[T]]]) -> tuple[list[T], list[ValueError]]:
    # TODO: create one task per job inside `async with asyncio.TaskGroup() as tg:`,
    # keeping the tasks in job order; sort out the failures with `except* ValueError`.
    raise NotImplementedError("run_all")
