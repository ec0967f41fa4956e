"""ex02 alt: async generator consumed with an async comprehension."""
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


async def _stored(items, log):
    for item in items:
        data = await fetch(item, log)
        shaped = await transform(data, log)
        yield await store(shaped, log)


async def run_pipeline(items: list[str], log: list[str]) -> list[str]:
    return [saved async for saved in _stored(items, log)]
