"""Mutant: the tutorial's ``loop = asyncio.new_event_loop()`` and ``run_until_complete``,
and the loop is never closed.

Every call to main leaks a loop and its selector (``ResourceWarning: unclosed event
loop``); ``asyncio.run`` makes, runs and closes a loop in one call.

Must fail: test_main_keeps_input_order
"""

from __future__ import annotations

import asyncio


async def greet(name: str, delay: float) -> str:
    await asyncio.sleep(delay)
    return f"Hello, {name}!"


def main(names: list[str], delay: float = 0.1) -> list[str]:
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    return list(loop.run_until_complete(asyncio.gather(*(greet(n, delay) for n in names))))
