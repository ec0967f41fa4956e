"""Exercise 02 - missing_await: find the awaits that went missing.

What to build
-------------
This module is a tiny pipeline that already *almost* works. The three helpers are
correct; do not change them:

- ``fetch(item, log)`` returns ``item.upper()``;
- ``transform(data, log)`` returns ``data + "!"``;
- ``store(data, log)`` returns ``data``.

Each one yields to the event loop once, then appends ``"<stage>:<argument>"`` to ``log``.

``run_pipeline(items, log)`` must push every item through fetch -> transform -> store,
**one item after another**, and return what ``store`` returned, in input order. When it
returns, ``log`` is complete. For ``["a", "b"]``::

    result == ["A!", "B!"]
    log == ["fetch:a", "transform:A", "store:A!",
            "fetch:b", "transform:B", "store:B!"]

Someone left awaits out of ``run_pipeline``. Repair it. Keep calling the helpers by
their plain names (``fetch(...)``, not a copy of their code): the checks swap them for
recording fakes.

Why it matters
--------------
The tutorial this kit corrects says: "If you don't use ``await``, your coroutine will
block and prevent other coroutines from running." That is backwards. Calling an
``async def`` function runs *none* of its body: it only builds a coroutine object.
Without ``await`` (or a task) that object is never run. Nothing blocks; the work
silently never happens, the object flows on where a value was expected, and when it is
garbage-collected Python prints ``RuntimeWarning: coroutine 'transform' was never
awaited``. Run this file as it is (``python ex02_missing_await.py``) and read what it
prints before you change anything.

Docs: https://docs.python.org/3/library/asyncio-task.html#coroutines and
https://docs.python.org/3/library/asyncio-dev.html#detect-never-awaited-coroutines
"""

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
    # TODO: this runs without an error, and it is wrong. Find the missing awaits.
    results = []
    for item in items:
        data = await fetch(item, log)
        shaped = transform(data, log)
        saved = store(shaped, log)
        results.append(saved)
    return results


if __name__ == "__main__":
    log: list[str] = []
    print(asyncio.run(run_pipeline(["a", "b"], log)))
    print(log)
