"""Exercise 12 - cpu_bound: CPU-bound work in worker processes (fix it).

What to build
-------------
``async def crunch_all(nums, fn=slow_square)`` computes ``fn(n)`` for every ``n`` in a
**pool of worker processes** and returns the results as a list, in the order of
``nums``. The event loop must stay responsive while the workers compute. ``fn`` is any
picklable module-level function (``slow_square`` by default); call the one you are given.

The version below uses threads, as the tutorial this kit corrects recommends ("threading
is better suited for CPU-bound workloads that require true parallelism"). It returns the
right numbers and keeps the loop responsive -- and computes no faster than a plain loop.
Repair it.

Why it matters
--------------
In CPython only the thread holding the *global interpreter lock* (GIL) runs Python
bytecode. Threads take turns: they overlap waiting (I/O, ``time.sleep``, C code that
releases the GIL, as in exercise 11), but pure-Python computation such as
``slow_square`` runs one thread at a time, so four threads on four cores do the work of
one core. Separate *processes* each have their own interpreter and GIL, and run truly in
parallel. ``concurrent.futures.ProcessPoolExecutor`` manages such a pool, and
``await loop.run_in_executor(pool, fn, n)`` waits for one result without blocking the
loop. (Free-threaded builds of Python 3.13+ can drop the GIL; this course targets the
standard build.)

Processes share no memory: the function and its argument are *pickled* -- sent by name and
value -- to the worker, which imports the function's module to find it. So ``fn`` must be
a module-level function (no lambda, no nested function), your module must not run work at
import time (keep demo code under ``if __name__ == "__main__":``), and it must also work
when workers are started with ``spawn`` (the default on macOS and Windows: a fresh
interpreter instead of a copy of this one). To pick a start method yourself, pass
``mp_context=multiprocessing.get_context(...)`` to the pool; do not call
``set_start_method`` at import time. Shut the pool down when you are done
(``with ProcessPoolExecutor() as pool: ...``) so no worker process is left behind.

Docs: https://docs.python.org/3/library/asyncio-eventloop.html#executing-code-in-thread-or-process-pools,
https://docs.python.org/3/library/concurrent.futures.html#processpoolexecutor and
https://docs.python.org/3/library/multiprocessing.html#the-spawn-and-forkserver-start-methods
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

R = TypeVar("R")


def slow_square(n: int) -> int:
    """``n * n`` for ``n >= 0``, computed the slow way: ``n`` additions in pure Python,
    holding the GIL the whole time."""
    total = 0
    for _ in range(n):
        total += n
    return total


async def crunch_all(nums: list[int], fn: Callable[[int], R] = slow_square) -> list[R]:  # type: ignore[assignment]
    # TODO: threads share one GIL, so this computes one number at a time, however many
    # threads run. Send the calls to a pool of worker processes instead, await their
    # results without blocking the loop, keep the order of `nums`, and shut the pool down.
    return list(await asyncio.gather(*(asyncio.to_thread(fn, n) for n in nums)))


if __name__ == "__main__":
    import time

    start = time.perf_counter()
    results = asyncio.run(crunch_all([3_000_000] * 4))
    print(f"4 x slow_square(3_000_000) in {time.perf_counter() - start:.2f}s")
