"""ex02 alt: each stage wrapped in a task and awaited immediately; per-item helper."""
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


async def _one(item: str, log: list[str]) -> str:
    data = await asyncio.create_task(fetch(item, log))
    shaped = await asyncio.create_task(transform(data, log))
    return await asyncio.create_task(store(shaped, log))


async def run_pipeline(items: list[str], log: list[str]) -> list[str]:
    results: list[str] = []
    for item in items:
        results.append(await _one(item, log))
    return results
