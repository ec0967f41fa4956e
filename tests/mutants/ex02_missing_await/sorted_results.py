"""Mutant: returns the stored values sorted instead of in the order of the items.

Must fail: test_returns_stored_values
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
        results.append(await store(shaped, log))
    return sorted(results)


if __name__ == "__main__":
    log: list[str] = []
    print(asyncio.run(run_pipeline(["a", "b"], log)))
    print(log)
