"""Mutant: `log = []` at the top of run_pipeline: the stages log into a new list and the
caller's log stays empty.

Must fail: test_log_complete_in_order, test_calls_helpers_through_globals
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
    log = []
    results = []
    for item in items:
        data = await fetch(item, log)
        shaped = await transform(data, log)
        results.append(await store(shaped, log))
    return results
