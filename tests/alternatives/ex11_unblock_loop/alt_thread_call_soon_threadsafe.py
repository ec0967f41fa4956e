"""Alt: a threading.Thread of its own per call; the thread hands the result (or the
exception) back to an asyncio future with loop.call_soon_threadsafe."""
from __future__ import annotations

import asyncio
import threading


def _settle(fut, value, exc):
    if fut.done():
        return
    if exc is not None:
        fut.set_exception(exc)
    else:
        fut.set_result(value)


async def handle(request, hash_fn):
    loop = asyncio.get_running_loop()
    fut = loop.create_future()

    def work():
        try:
            value = hash_fn(request)
        except BaseException as exc:  # noqa: BLE001 - handed to the awaiting coroutine
            loop.call_soon_threadsafe(_settle, fut, None, exc)
        else:
            loop.call_soon_threadsafe(_settle, fut, value, None)

    threading.Thread(target=work, daemon=True).start()
    return await fut


async def handle_many(requests, hash_fn):
    return list(await asyncio.gather(*[handle(r, hash_fn) for r in requests]))
