"""Mutant: store runs as a fire-and-forget task and transform's value is returned.

With the real helpers the result looks right, but the log is incomplete when
run_pipeline returns and the value returned is not store's.

Must fail: test_log_complete_in_order, test_calls_helpers_through_globals, test_items_one_after_another
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
        asyncio.create_task(store(shaped, log))
        results.append(shaped)
    return results


if __name__ == "__main__":
    log: list[str] = []
    print(asyncio.run(run_pipeline(["a", "b"], log)))
    print(log)
