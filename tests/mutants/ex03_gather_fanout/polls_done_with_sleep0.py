"""Mutant: starts a task per url, then polls `all(t.done() for t in tasks)` with
`await asyncio.sleep(0)` in between: the loop never waits, a whole CPU burns.

Must fail: test_results_in_input_order
"""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

async def fetch_all(urls, fetch):
    tasks = [asyncio.ensure_future(fetch(u)) for u in urls]
    while not all(t.done() for t in tasks):
        await asyncio.sleep(0)
    return [t.result() for t in tasks]
