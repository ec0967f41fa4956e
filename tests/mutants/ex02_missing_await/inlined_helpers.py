"""Mutant: copies the helpers' work inline instead of calling them.

The checks replace the helpers with fakes; a copy never calls them.

Must fail: test_calls_helpers_through_globals, test_items_one_after_another
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
        await asyncio.sleep(0)
        log.append(f"fetch:{item}")
        data = item.upper()
        log.append(f"transform:{data}")
        shaped = data + "!"
        log.append(f"store:{shaped}")
        results.append(shaped)
    return results


if __name__ == "__main__":
    log: list[str] = []
    print(asyncio.run(run_pipeline(["a", "b"], log)))
    print(log)
