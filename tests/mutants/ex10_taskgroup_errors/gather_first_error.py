"""Mutant: plain asyncio.gather, catching the ValueError it raises.

gather raises the first error only and leaves the other jobs running; a KeyError comes
out bare.

Must fail: test_value_error_cancels_siblings, test_collects_every_value_error, test_other_error_propagates_in_group
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def run_all(jobs: list[Callable[[], Awaitable[T]]]) -> tuple[list[T], list[ValueError]]:
    try:
        results = await asyncio.gather(*(job() for job in jobs))
    except ValueError as exc:
        return [], [exc]
    return list(results), []
