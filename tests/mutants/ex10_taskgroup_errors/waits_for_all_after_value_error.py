"""Mutant: asyncio.wait(FIRST_EXCEPTION) by hand; a failure with no ValueError cancels the
other jobs, but once a ValueError has come it waits for every job (to be sure to collect
them all) and cancels nothing.

A job that never ends then never lets run_all return, also when a KeyError came at the
same moment as the ValueError.

Must fail: test_value_error_cancels_siblings, test_collects_every_value_error, test_other_error_propagates_in_group
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")


async def run_all(jobs: list[Callable[[], Awaitable[T]]]) -> tuple[list[T], list[ValueError]]:
    tasks: list[asyncio.Task[Any]] = [asyncio.ensure_future(job()) for job in jobs]
    if not tasks:
        return [], []
    done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
    failed = [t.exception() for t in done if t.exception() is not None]
    if failed and not any(isinstance(e, ValueError) for e in failed):
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending)
        raise ExceptionGroup("run_all failed", failed)  # type: ignore[type-var]
    outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    others = [o for o in outcomes if isinstance(o, BaseException) and not isinstance(o, ValueError)]
    if others:
        raise ExceptionGroup("run_all failed", others)  # type: ignore[type-var]
    errors = [o for o in outcomes if isinstance(o, ValueError)]
    if errors:
        return [], errors
    return list(outcomes), []  # type: ignore[arg-type]
