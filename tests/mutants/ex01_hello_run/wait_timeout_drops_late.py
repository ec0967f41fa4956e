"""Mutant: asyncio.wait with a timeout of a few delays, dropping the greetings still
pending: a greeting that takes longer is lost.

Must fail: test_main_keeps_input_order
"""

from __future__ import annotations

import asyncio


async def greet(name: str, delay: float) -> str:
    await asyncio.sleep(delay)
    return f"Hello, {name}!"


def main(names: list[str], delay: float = 0.1) -> list[str]:
    async def greet_all() -> list[str]:
        tasks = [asyncio.create_task(greet(n, delay)) for n in names]
        done, pending = await asyncio.wait(tasks, timeout=2 * delay)
        for t in pending:
            t.cancel()  # a slow greeting is silently dropped
        return [t.result() for t in tasks if t in done]
    return asyncio.run(greet_all())
