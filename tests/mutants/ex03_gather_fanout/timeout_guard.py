"""Mutant: a "safety" 0.5 s time limit around the whole gather.

The contract sets no time limit: slower fetches end in TimeoutError instead of their
results or their own exceptions. (The fakes' delays are never round numbers, so the limit
never ends at the very moment a fetch does.)

Must fail: test_results_in_input_order, test_same_exception_propagates, test_several_failures_none_lost
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def fetch_all(urls: list[str], fetch: Callable[[str], Awaitable[T]]) -> list[T]:
    return list(await asyncio.wait_for(asyncio.gather(*(fetch(url) for url in urls)), timeout=0.5))
