"""Mutant: ``return results`` is indented inside the ``for`` loop.

Only the first item goes through the pipeline; the function returns before the loop
reaches the second. Nothing is left unawaited: the loop simply stops.

Must fail: test_returns_stored_values, test_log_complete_in_order, test_calls_helpers_through_globals, test_items_one_after_another
"""

from __future__ import annotations

import asyncio


async def fetch(item: str, log: list[str]) -> str:
    await asyncio.sleep(0)
    log.append(f"fetch:{item}")
    return item.upper()


async def transform(data: str, log: list[str]) -> str:
    await asyncio.sleep(0)
    log.append(f"transform:{data}")
    return data + "!"


async def store(data: str, log: list[str]) -> str:
    await asyncio.sleep(0)
    log.append(f"store:{data}")
    return data


async def run_pipeline(items: list[str], log: list[str]) -> list[str]:
    results = []
    for item in items:
        data = await fetch(item, log)
        shaped = await transform(data, log)
        saved = await store(shaped, log)
        results.append(saved)
        return results
    return results
