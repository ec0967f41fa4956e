"""Mutant: the helpers bound as default arguments when run_pipeline is defined: the
module's helpers, replaced later, are never called.

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

async def run_pipeline(items: list[str], log: list[str], _stages=(fetch, transform, store)) -> list[str]:
    results = []
    for item in items:
        value = item
        for stage in _stages:
            value = await stage(value, log)
        results.append(value)
    return results
