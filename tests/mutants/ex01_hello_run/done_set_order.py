"""Mutant: reads the results from the ``done`` set ``asyncio.wait`` returns.

A set of tasks iterates in an order of its own (by the tasks' hashes), not in the order
the tasks were made: with a few names it may happen to match, with more it does not.

Must fail: test_main_keeps_input_order
"""

from __future__ import annotations

import asyncio


async def greet(name: str, delay: float) -> str:
    await asyncio.sleep(delay)
    return f"Hello, {name}!"


async def _greet_all(names: list[str], delay: float) -> list[str]:
    tasks = [asyncio.create_task(greet(n, delay)) for n in names]
    if not tasks:
        return []
    done, _pending = await asyncio.wait(tasks)
    return [t.result() for t in done]


def main(names: list[str], delay: float = 0.1) -> list[str]:
    return asyncio.run(_greet_all(names, delay))
