"""Mutant: every item runs at once (gather over items), so the log interleaves.

Must fail: test_log_complete_in_order, test_items_one_after_another
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
    async def one(item: str) -> str:
        data = await fetch(item, log)
        shaped = await transform(data, log)
        return await store(shaped, log)

    return list(await asyncio.gather(*(one(item) for item in items)))


if __name__ == "__main__":
    log: list[str] = []
    print(asyncio.run(run_pipeline(["a", "b"], log)))
    print(log)
