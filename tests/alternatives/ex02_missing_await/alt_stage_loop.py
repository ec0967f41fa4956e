"""ex02 alt: loop over the stages looked up at call time."""
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
        value = item
        for stage in (fetch, transform, store):
            value = await stage(value, log)
        results.append(value)
    return results
