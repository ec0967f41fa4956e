"""Mutant: one await still missing (store is called but never awaited).

Must fail: test_returns_stored_values, test_log_complete_in_order, test_calls_helpers_through_globals, test_items_one_after_another, test_every_coroutine_awaited
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
        saved = store(shaped, log)
        results.append(saved)
    return results


if __name__ == "__main__":
    log: list[str] = []
    print(asyncio.run(run_pipeline(["a", "b"], log)))
    print(log)
