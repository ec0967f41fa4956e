"""Exercise 01 - hello_run: your first coroutine, run with ``asyncio.run``.

What to build
-------------
1. ``async def greet(name, delay)`` returns ``f"Hello, {name}!"`` after waiting ``delay``
   seconds *without blocking the event loop*.
2. ``def main(names, delay=0.1)`` greets everyone **concurrently** on one event loop,
   closed before main returns, and returns the greetings in the order of ``names``.
   One ``asyncio.run(...)`` call does all of that: it makes a loop, runs one coroutine of
   yours on it to the end, and closes it. Call ``greet`` by its plain name (the checks may
   swap it for a probe).

Why it matters
--------------
A coroutine function only *describes* work: calling ``greet("Ada", 1)`` builds a
coroutine object and runs nothing. ``asyncio.run`` starts an event loop and drives one
top-level coroutine to completion; inside it, ``await`` hands control back to the loop
while you wait, so other coroutines can run. ``time.sleep`` would freeze the loop
instead, and three 1-second greetings would take 3 seconds, not 1.

Docs: https://docs.python.org/3/library/asyncio-task.html#coroutines and
https://docs.python.org/3/library/asyncio-runner.html#asyncio.run
"""

from __future__ import annotations

import asyncio  # noqa: F401  (you will need it)


async def greet(name: str, delay: float) -> str:
    # TODO: wait `delay` seconds without blocking the loop, then return the greeting.
    raise NotImplementedError("greet")


def main(names: list[str], delay: float = 0.1) -> list[str]:
    # TODO: one asyncio.run(...) call that greets every name concurrently.
    raise NotImplementedError("main")


if __name__ == "__main__":
    print(main(["Ada", "Grace", "Guido"]))
