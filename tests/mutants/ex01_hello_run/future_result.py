"""Mutant: the greetings are scheduled with ``run_coroutine_threadsafe`` and collected
with ``future.result()`` on the loop's own thread.

``result()`` blocks the thread that would have to run the greetings: they never finish.

Must fail: test_main_greets_concurrently, test_main_keeps_input_order
"""

from __future__ import annotations

import asyncio


async def greet(name: str, delay: float) -> str:
    await asyncio.sleep(delay)
    return f"Hello, {name}!"


def main(names: list[str], delay: float = 0.1) -> list[str]:
    async def greet_all() -> list[str]:
        loop = asyncio.get_running_loop()
        futures = [asyncio.run_coroutine_threadsafe(greet(name, delay), loop) for name in names]
        return [future.result() for future in futures]

    return asyncio.run(greet_all())
