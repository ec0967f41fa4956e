"""ex02 alt: a defensive pipeline that reads the caller's log as it goes (its length, its
last entry, a slice, membership, iteration) to make sure each stage logged once."""
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
    results: list[str] = []
    for item in items:
        before = len(log)
        data = await fetch(item, log)
        shaped = await transform(data, log)
        saved = await store(shaped, log)
        added = log[before:]
        if len(log) != before + 3 or len(added) != 3 or not log or ":" not in log[-1]:
            raise RuntimeError(f"a stage did not log exactly once: {added!r}")
        if any(entry not in log for entry in added) or [e for e in log][-3:] != added:
            raise RuntimeError("the log changed under us")
        results.append(saved)
    return results


if __name__ == "__main__":
    shared: list[str] = []
    print(asyncio.run(run_pipeline(["a", "b"], shared)))
    print(shared)
