"""Mutant: asyncio.gather(..., return_exceptions=True) instead of a TaskGroup.

Nothing is cancelled: a failure waits for every other job, even one that never ends.

Must fail: test_value_error_cancels_siblings, test_collects_every_value_error
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def run_all(jobs: list[Callable[[], Awaitable[T]]]) -> tuple[list[T], list[ValueError]]:
    outcomes = await asyncio.gather(*(job() for job in jobs), return_exceptions=True)
    errors = [o for o in outcomes if isinstance(o, ValueError)]
    others = [o for o in outcomes if isinstance(o, BaseException) and not isinstance(o, ValueError)]
    if others:
        raise ExceptionGroup("run_all failed", others)
    if errors:
        return [], errors
    return list(outcomes), []  # type: ignore[arg-type]
