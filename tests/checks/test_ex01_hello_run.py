"""Checks for ex01 hello_run: a first coroutine, run with asyncio.run."""

from __future__ import annotations

import asyncio
import inspect
import secrets

import pytest

from grader.probes import InFlight, caller, exact, expect, fail

# The learner's code runs in a worker process; these checks hold proxies (grader.split).
pytestmark = pytest.mark.split


@pytest.mark.hint(1)
def test_greet_is_a_coroutine_function(ex):
    """greet is an async def function"""
    expect(
        inspect.iscoroutinefunction(ex.greet),
        "greet must be defined with `async def`: only a coroutine function can `await`.",
    )


@pytest.mark.virtual_time
@pytest.mark.weight(2)
@pytest.mark.hint(1)
async def test_greet_returns_greeting_after_delay(ex):
    """greet waits its delay on the loop, then returns the greeting"""
    loop = asyncio.get_running_loop()
    start = loop.time()
    # Short: on the virtual clock any delay is free, but a `time.sleep` costs real time.
    result = await ex.greet("Ada", 0.35)
    elapsed = loop.time() - start
    exact(result, "Hello, Ada!", "greet('Ada', 0.35) returned the wrong value")
    expect(
        elapsed == pytest.approx(0.35, abs=0.01),
        f"greet('Ada', 0.35) took {elapsed:.2f}s of loop time, not 0.35s. "
        "Wait with `await asyncio.sleep(delay)`: `time.sleep` stops the clock of the loop "
        "(nothing else runs) and no waiting at all returns too early.",
    )


@pytest.mark.weight(2)
@pytest.mark.hint(1)
async def test_greet_does_not_block_the_loop(ex, no_blocking):
    """greet never blocks the event loop"""
    await ex.greet("Grace", 0.05)


@pytest.mark.virtual_time
@pytest.mark.weight(3)
@pytest.mark.hint(2)
def test_main_greets_concurrently(ex, monkeypatch):
    """main runs all greetings at once in one asyncio.run call"""
    flight = InFlight()
    times: list[float] = []
    delays: list[object] = []

    loops: set[int] = set()
    threads: set[int] = set()

    async def probe(name: str, delay: float) -> str:
        delays.append(delay)
        loop, thread = caller()  # which loop and thread of the learner's ran this greet
        loops.add(loop)
        threads.add(thread)
        with flight.track():
            await asyncio.sleep(1.0)
        times.append(asyncio.get_running_loop().time())
        return f"Hello, {name}!"

    monkeypatch.setattr(ex, "greet", probe)
    # A name given twice is greeted twice: one greet(...) per entry, all awaited.
    names = ["Ada", "Grace", "Ada"]
    result = ex.main(names, 1.0)
    exact(result, ["Hello, Ada!", "Hello, Grace!", "Hello, Ada!"], "main(['Ada', 'Grace', 'Ada'], 1.0) returned")
    if len(times) != 3:
        fail(
            f"main(['Ada', 'Grace', 'Ada'], 1.0) ran greet to the end {len(times)} time(s), not 3: "
            "main must call greet once per entry of names (a name given twice is greeted "
            "twice) and await every call, inside asyncio.run(...). Keying coroutines by name "
            "(a dict or a set) drops the duplicates, and a coroutine that is created but "
            "never awaited never runs."
        )
    if len(loops) > 1:
        fail(
            f"The 3 greetings ran in {len(loops)} different event loops: main started one "
            "`asyncio.run(...)` (or loop) per greeting, "
            + (f"in {len(threads)} threads. " if len(threads) > 1 else "one after another. ")
            + "One loop runs them all together: write one `async def` that gathers every "
            "`greet(name, delay)`, and pass it to a single `asyncio.run(...)` call."
        )
    if any(delay != 1.0 for delay in delays):
        fail(
            f"main(names, 1.0) called greet with delay(s) {delays!r}: pass main's own `delay` "
            "argument on to every `greet(name, delay)` call (not a constant or the default)."
        )
    expect(
        flight.max == 3,
        f"At most {flight.max} greeting(s) ran at the same time; all 3 should. Awaiting each "
        "`greet(...)` in turn runs them one after another: start them together with "
        "`asyncio.gather(*coros)` (or tasks) and await them all at once.",
    )
    spread = max(times) - min(times)
    expect(spread == pytest.approx(0, abs=0.05), "the greetings did not finish together")


@pytest.mark.virtual_time
@pytest.mark.weight(2)
@pytest.mark.hint(2)
def test_main_keeps_input_order(ex, monkeypatch):
    """main returns results in input order, not completion order"""

    # What each greeting returns, known only to greet: main must get it from greet.
    greetings = {name: f"{name.upper()}-{secrets.token_hex(3)}" for name in "abc"}

    async def reversed_probe(name: str, delay: float) -> str:
        # Later names finish first.
        await asyncio.sleep({"a": 3, "b": 2, "c": 1}[name])
        return greetings[name]

    monkeypatch.setattr(ex, "greet", reversed_probe)
    exact(
        ex.main(["a", "b", "c"], 0.1),
        [greetings[name] for name in "abc"],
        "main(['a','b','c']) with 'c' finishing first (each greet returning its own text) returned",
    )
