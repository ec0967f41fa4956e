"""Mutant: transform wrapped in `asyncio.ensure_future` and the task passed on to store
unawaited: store gets a Task, and the results are tasks.

Must fail: test_returns_stored_values, test_log_complete_in_order
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
        shaped = asyncio.ensure_future(transform(data, log))
        saved = await store(shaped, log)
        results.append(saved)
    return results
