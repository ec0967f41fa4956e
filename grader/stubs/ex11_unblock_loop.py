"""Exercise 11 - unblock_loop: move blocking work off the event loop (fix it).

What to build
-------------
This request handler works -- and freezes the whole server while it works. Repair it:

1. ``async def handle(request, hash_fn)`` returns ``hash_fn(request)``, the bytes it
   returns, unchanged. ``hash_fn`` is an ordinary *blocking* function (slow hashing, a
   disk read, a call into a C library): run it in a worker thread and ``await`` its result,
   so the event loop keeps running meanwhile. An exception raised by ``hash_fn``
   propagates out of ``handle``.
2. ``async def handle_many(requests, hash_fn)`` handles all the requests **at the same
   time** and returns the results as a list, in the order of ``requests``.

Why it matters
--------------
The event loop runs on one thread. A coroutine that calls a blocking function directly
holds that thread until the function returns: no other task runs, no timer fires, no
connection is served. Writing ``async def`` in front of it changes nothing -- ``async``
does not make code non-blocking, only ``await`` on something that really waits does.
``await asyncio.to_thread(hash_fn, request)`` (or ``loop.run_in_executor(...)``) runs the
call in a thread pool and suspends the coroutine until the result is ready; the loop is
free in the meantime, and several calls can run in several threads at once. (For pure-
Python CPU work, threads share the GIL: the loop stays responsive, but the work itself does
not get faster. Exercise 12 is about that case.)

Docs: https://docs.python.org/3/library/asyncio-dev.html#running-blocking-code,
https://docs.python.org/3/library/asyncio-task.html#asyncio.to_thread and
https://docs.python.org/3/library/asyncio-eventloop.html#asyncio.loop.run_in_executor
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable


async def handle(request: bytes, hash_fn: Callable[[bytes], bytes]) -> bytes:
    # TODO: this call blocks the event loop until hash_fn returns. Run it in a worker
    # thread instead and await the result.
    return hash_fn(request)


async def handle_many(requests: list[bytes], hash_fn: Callable[[bytes], bytes]) -> list[bytes]:
    # Looks concurrent, but every handle() runs hash_fn on the loop's own thread, so the
    # calls still happen one after another. Once handle() is fixed, this gather runs them
    # at the same time and returns the results in the order of `requests`.
    return await asyncio.gather(*(handle(request, hash_fn) for request in requests))


if __name__ == "__main__":
    import hashlib

    def slow_hash(data: bytes) -> bytes:
        return hashlib.scrypt(data, salt=b"awaitlings", n=2**14, r=8, p=1)

    print(asyncio.run(handle_many([b"alpha", b"beta", b"gamma"], slow_hash)))
