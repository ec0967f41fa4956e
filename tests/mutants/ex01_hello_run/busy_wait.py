"""Mutant: greet waits by watching the loop's clock in a ``while`` loop.

The loop never gets control back while greet spins, so its clock never moves and no
other greeting runs: the wait never ends.

Must fail: test_greet_returns_greeting_after_delay
"""

from __future__ import annotations

import asyncio


async def greet(name: str, delay: float) -> str:
    loop = asyncio.get_running_loop()
    end = loop.time() + delay
    while loop.time() < end:
        pass
    return f"Hello, {name}!"


def main(names: list[str], delay: float = 0.1) -> list[str]:
    async def greet_all() -> list[str]:
        return list(await asyncio.gather(*(greet(name, delay) for name in names)))

    return asyncio.run(greet_all())
