"""Checks for ex01 hello_run: a first coroutine, run with asyncio.run."""

from __future__ import annotations

import asyncio
import inspect
import secrets

import pytest

from grader import explain
from grader.probes import InFlight, caller, exact, expect, fail, kernel_sleeps
from grader.probes.source import binds_async_def
from grader.procstate import unix_sockets_of_others

# The learner's code runs in a worker process; these checks hold proxies (grader.split).
pytestmark = pytest.mark.split


@pytest.mark.hint(1)
def test_greet_is_a_coroutine_function(ex):
    """greet is an async def function"""
    # The kind of the function the module holds (the worker's account) and what the
    # source binds greet to (the checker's own reading of the bytes the worker ran).
    expect(
        inspect.iscoroutinefunction(ex.greet) and binds_async_def(ex, "greet") is not False,
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
    with kernel_sleeps() as slept:
        result = await ex.greet("Ada", 0.35)
    elapsed = loop.time() - start
    exact(result, "Hello, Ada!", "greet('Ada', 0.35) returned the wrong value")
    if slept.elsewhere and not slept.sleeps and not slept.stood_still:
        # The kernel saw a thread other than the loop's sleep: the wait was handed to a
        # thread (its loop time is then the real time the clock saw pass, never exact).
        fail(
            "greet('Ada', 0.35) waited by sleeping in another thread (`time.sleep` handed to "
            "`asyncio.to_thread` or an executor): the loop stays free, but a thread is tied "
            "up for the whole wait. On the loop itself, `await asyncio.sleep(delay)` waits "
            "without any thread."
        )
    expect(
        elapsed == pytest.approx(0.35, abs=0.01),
        f"greet('Ada', 0.35) took {elapsed:.2f}s of loop time, not 0.35s. "
        "Wait with `await asyncio.sleep(delay)`: `time.sleep` stops the clock of the loop "
        "(nothing else runs) and no waiting at all returns too early.",
    )
    # The kernel's word, which no code in the learner's process can change: the loop's
    # clock moved, but the thread that runs the loop slept through it.
    if slept.stood_still and not slept.sleeps:
        fail(explain.loop_elsewhere())
    if slept.sleeps:
        fail(
            "greet('Ada', 0.35) returned after 0.35s of loop time, but the thread running the "
            "event loop slept meanwhile (`time.sleep`): nothing else ran on the loop while it "
            "waited. Wait with `await asyncio.sleep(delay)`."
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
    """main runs all greetings at once on one event loop"""
    flight = InFlight()
    times: list[float] = []
    delays: list[object] = []

    loops: set[int] = set()
    threads: set[int] = set()
    # The kernel's count of the Unix sockets held outside the checker (each event loop
    # holds a pair): before main runs, then at each greet. None where the run does not
    # have its network namespace to itself.
    sockets: list[int | None] = [unix_sockets_of_others()]

    async def probe(name: str, delay: float) -> str:
        delays.append(delay)
        loop, thread = caller()  # which loop and thread of the learner's ran this greet
        loops.add(loop)
        threads.add(thread)
        sockets.append(unix_sockets_of_others())
        with flight.track():
            # Short: loops run in threads of the learner's own let the clock move only
            # as fast as a real one.
            await asyncio.sleep(0.2)
        times.append(asyncio.get_running_loop().time())
        return f"Hello, {name}!"

    monkeypatch.setattr(ex, "greet", probe)
    # A name given twice is greeted twice: one greet(...) per entry, all awaited.
    names = ["Ada", "Grace", "Ada"]
    result = _main(ex, names, 1.0, "main(['Ada', 'Grace', 'Ada'], 1.0)")
    expected = ["Hello, Ada!", "Hello, Grace!", "Hello, Ada!"]
    # Only "every greeting is there": the order has its own check.
    if not isinstance(result, list) or sorted(result, key=repr) != sorted(expected):
        exact(result, expected, "main(['Ada', 'Grace', 'Ada'], 1.0) returned")
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
    counts = [n for n in sockets if n is not None]
    alive = (max(counts) - counts[0]) // 2 if len(counts) == len(sockets) > 1 else 0
    if alive >= 2:
        # Whatever the learner's process says of its loops: the kernel saw this many
        # self-pipes (one per loop) open at once while the greetings ran.
        fail(
            f"While the greetings ran, {alive} event loops were open at once (the kernel "
            "counted their sockets): main ran greetings on loops of their own, not as "
            "coroutines on one event loop. Write one `async def` that gathers every "
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


#: Each round's names, in no sorted order, and the order their greetings finish in: neither
#: the input order, nor its reverse, nor sorted. Rounds of several sizes, so that an order
#: nobody chose (a set's) cannot match the input in all of them by chance.
ROUNDS = (
    ["Grace", "Ada", "Linus", "Barbara", "Guido"],
    ["Ken", "Frances", "Edsger", "Margaret", "Dennis", "Radia", "Alan", "Hedy"],
    ["Tim", "Sophie", "John", "Anita", "Niklaus", "Joan", "Bjarne", "Katherine", "Donald", "Shafi", "Leslie"],
)


def _finish_times(names: list[str]) -> dict[str, float]:
    """When each greeting ends, in seconds: a fixed shuffle (names[i] ends at 3*i mod n,
    plus 1, hundredths), so the greetings finish in an order of their own. Short: code that
    runs loops in threads of its own lets the clock move only as fast as a real one."""
    return {name: ((3 * i) % len(names) + 1) / 100 for i, name in enumerate(names)}


@pytest.mark.virtual_time
@pytest.mark.weight(2)
@pytest.mark.hint(2)
def test_main_keeps_input_order(ex, monkeypatch):
    """main returns results in input order, not completion order"""
    # What each greeting returns, known only to greet: main must get it from greet.
    greetings = {name: f"{name.upper()}-{secrets.token_hex(3)}" for names in ROUNDS for name in names}
    ends: dict[str, float] = {}

    async def shuffled_probe(name: str, delay: float) -> str:
        await asyncio.sleep(ends[name])
        return greetings[name]

    monkeypatch.setattr(ex, "greet", shuffled_probe)
    for names in ROUNDS:
        ends.update(_finish_times(names))
        what = f"main({names!r}, 0.1)"
        result = _main(ex, names, 0.1, what)
        _check_order(result, names, greetings, ends, what)
    # A greeting that takes 30 times the delay main was given: main waits for each one,
    # however long (not a fixed time such as a sleep of a few delays, or a wait's timeout).
    late = ROUNDS[0][:3]
    ends.update({late[0]: 0.3, late[1]: 0.01, late[2]: 0.02})
    what = f"main({late!r}, 0.01), the greeting of {late[0]!r} ending after 0.3s,"
    try:
        result = _main(ex, late, 0.01, what)
    except Exception as exc:  # from the worker: a class of the same name, not asyncio's own
        if type(exc).__name__ != "InvalidStateError":
            raise
        result = None
    if not isinstance(result, list) or len(result) != len(late):
        fail(
            f"{what} did not return all {len(late)} greetings"
            + ("" if isinstance(result, list) else " (reading a result that was not ready yet)")
            + ": main must wait for every greeting to finish, however long it takes, not for "
            "a fixed time (a sleep, or the timeout of `asyncio.wait`). `await asyncio.gather(...)` "
            "returns once they have all finished."
        )
    _check_order(result, late, greetings, ends, what)


def _check_order(result, names, greetings, ends, what):
    """Fail unless ``result`` holds each name's greeting, in the order of ``names``."""
    __tracebackhide__ = True
    expected = [greetings[name] for name in names]
    # Type-strict: an object posing as a list (or a str whose == always holds) is no match.
    if type(result) is list and all(type(x) is str for x in result) and result == expected:
        return
    finished = [greetings[name] for name in sorted(names, key=ends.__getitem__)]
    if isinstance(result, list) and sorted(result, key=repr) == sorted(expected):
        if result == finished:
            fail(
                f"{what} returned the greetings in the order they finished "
                f"({', '.join(sorted(names, key=ends.__getitem__))}), not in the order of names. "
                "Collecting results as they complete (`asyncio.as_completed`, appending when "
                "each one is done) loses the input order; `asyncio.gather` returns results in "
                "the order of its arguments."
            )
        if result == sorted(expected):
            fail(
                f"{what} returned the greetings sorted, not in the order of names: return "
                "them in the order `asyncio.gather` gives them (the order of its arguments), "
                "unsorted."
            )
        fail(
            f"{what} returned every greeting, but in an order that is neither the order of "
            f"names nor the order they finished: {result!r}. A set (such as the `done` set "
            "`asyncio.wait` returns) has no order you can rely on: read each result from "
            "your own list of tasks, in the order you made them, or use `asyncio.gather`, "
            "which returns results in the order of its arguments."
        )
    exact(result, expected, f"{what}, each greet returning its own text and ending at its own time,")


#: What ``asyncio.run`` says when it is given something other than a coroutine.
_NOT_A_COROUTINE = "a coroutine was expected"


def _main(ex, names: list[str], delay: float, what: str) -> object:
    """Call the learner's main; "asyncio.run was given a future" gets its own lesson."""
    __tracebackhide__ = True
    try:
        return ex.main(names, delay)
    except ValueError as exc:
        if _NOT_A_COROUTINE not in str(exc):
            raise
        gathered = "_GatheringFuture" in str(exc)
        fail(
            f"{what} raised ValueError: {exc}. `asyncio.run(...)` takes a coroutine (what "
            "calling an `async def` function gives)"
            + (", and `asyncio.gather(...)` returns a future, not a coroutine" if gathered else "")
            + ". Put the work inside an `async def` function and run that: `async def "
            "greet_all(): return await asyncio.gather(*(greet(n, delay) for n in names))`, then "
            "`return asyncio.run(greet_all())`."
            + (
                " Called outside a running event loop, `asyncio.gather(...)` also wrapped each "
                "greeting in a task of a loop that was not running: those greetings never started."
                if gathered
                else ""
            )
        )
