"""Mutant: sequential, but stage by stage: fetches every item, then transforms every
item, then stores every item. Every await is there, yet item 2 starts before item 1
is stored, so the log is out of pipeline order.

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
    fetched = [await fetch(item, log) for item in items]
    shaped = [await transform(data, log) for data in fetched]
    return [await store(data, log) for data in shaped]


if __name__ == "__main__":
    log: list[str] = []
    print(asyncio.run(run_pipeline(["a", "b"], log)))
    print(log)
