"""Teaching texts: what went wrong, in asyncio terms, and what to try.

Pure functions from an observation (a warning text, a loop's exception context, an
exception and its traceback) to one short paragraph that names the mistake and links the
Python docs. The plugin and the reporters use them; nothing here runs learner code.
"""

from __future__ import annotations

import linecache
import re
import traceback
import types
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

DOCS = "https://docs.python.org/3/library/"

#: The common asyncio failure shapes: one paragraph each (what happened, why, what to do)
#: and the page of the Python docs that explains it. Checks append ``EXPLANATIONS[key]``
#: to their messages; the terminal shows each at most once per exercise (:func:`split`).
TEXTS: dict[str, tuple[str, str]] = {
    "never_awaited": (
        "A coroutine was created but never awaited. Calling an `async def` function only "
        "builds a coroutine object; nothing in it runs until you `await` it (or wrap it in "
        "a task). A missing `await` does not block: the work silently never happens and "
        "Python warns. Add `await` before the call.",
        f"{DOCS}asyncio-dev.html#detect-never-awaited-coroutines",
    ),
    "never_retrieved": (
        "A task failed and nobody looked at its exception (\"Task exception was never "
        "retrieved\"). asyncio does propagate exceptions, but only to whoever awaits the "
        "task: keep a reference to every task you create and await it (or use a "
        "TaskGroup).",
        f"{DOCS}asyncio-dev.html#detect-never-retrieved-exceptions",
    ),
    "destroyed_pending": (
        "A task was destroyed while still pending: it was still running when its loop "
        "closed or when the last reference to it went away. Keep a reference to every "
        "task and await or cancel it before returning.",
        f"{DOCS}asyncio-task.html#asyncio.create_task",
    ),
    "unclosed_loop": (
        "An event loop was left open (ResourceWarning: unclosed event loop). A loop you make "
        "with `asyncio.new_event_loop()` must be closed (`loop.close()`, in a finally); "
        "`asyncio.run(...)` makes one, runs your coroutine and closes it for you.",
        f"{DOCS}asyncio-runner.html#asyncio.run",
    ),
    "unclosed": (
        "A connection or transport was left open (ResourceWarning: unclosed). Close what "
        "you open: `writer.close()` then `await writer.wait_closed()`, on every path "
        "(use try/finally).",
        f"{DOCS}asyncio-stream.html#asyncio.StreamWriter.close",
    ),
    "callback_error": (
        "An exception escaped a callback or a connection handler, and the event loop could "
        "only log it. Handle errors inside the handler (try/finally to close the "
        "connection).",
        f"{DOCS}asyncio-dev.html",
    ),
    "spin": (
        "Code that runs without awaiting holds the event loop's thread: while it runs, no "
        "other task can make progress, and nothing it waits for (a future, a flag another "
        "task sets, data) can arrive. Await what you wait for (`await future`, `await "
        "event.wait()`, a read that waits for data), and move long computations off the loop "
        "with `await loop.run_in_executor(...)`.",
        f"{DOCS}asyncio-dev.html#running-blocking-code",
    ),
    "blocking": (
        "A blocking call ran on the event loop's thread: while it runs, no other task can "
        "make progress. Use the async equivalent (`await asyncio.sleep`, streams) or move "
        "the call off the loop with `await asyncio.to_thread(...)`.",
        f"{DOCS}asyncio-dev.html#running-blocking-code",
    ),
    "async_with_writer": (
        "`async with writer:` raises TypeError: a StreamWriter is not an async context "
        "manager (on 3.11, 3.12 and 3.13 alike). Close it yourself, in a `finally:`: "
        "`writer.close()` then `await writer.wait_closed()`.",
        f"{DOCS}asyncio-stream.html#asyncio.StreamWriter",
    ),
    "loop_closed": (
        "\"Event loop is closed\": something used a loop after `asyncio.run` finished, "
        "usually a task or transport left behind by the previous run. Do all async work "
        "inside one `asyncio.run(main())`.",
        f"{DOCS}asyncio-runner.html#asyncio.run",
    ),
    "run_forever": (
        "`loop.run_forever()` (or `run_until_complete`) inside a coroutine raises "
        "RuntimeError: the loop is already running, since `asyncio.run` started it and your "
        "coroutine runs in it. Nothing has to keep the loop alive from inside: return the "
        "server, and let `main` keep the program alive with `async with server: await "
        "server.serve_forever()`.",
        f"{DOCS}asyncio-eventloop.html#asyncio.Server.serve_forever",
    ),
    "cancelled_swallowed": (
        "CancelledError was caught and not re-raised, so the task could not be cancelled. "
        "If you catch it to clean up, re-raise it (`except asyncio.CancelledError: ...; "
        "raise`), or use try/finally.",
        f"{DOCS}asyncio-task.html#task-cancellation",
    ),
    "deadlock": (
        "Every task was waiting for another one and none could go on: a deadlock. The "
        "classic shape is both sides of a connection waiting, say a client that sends "
        "everything before reading while the peer stops reading until its replies are "
        "read, so each `drain()` or `read()` waits forever. Do the two directions at the "
        "same time (one task sends while another reads), and make sure whatever you wait "
        "for is done by someone who is not waiting for you.",
        f"{DOCS}asyncio-stream.html#asyncio.StreamWriter.drain",
    ),
}

#: Each explanation as one string, its docs link last (what checks append to messages).
EXPLANATIONS: dict[str, str] = {key: f"{text} {link}" for key, (text, link) in TEXTS.items()}

#: A few words naming each shape, for "explained above" in reports.
TITLES: dict[str, str] = {
    "never_awaited": "a coroutine never awaited",
    "never_retrieved": "a task exception never retrieved",
    "destroyed_pending": "a task destroyed while pending",
    "unclosed_loop": "an event loop left open",
    "unclosed": "a connection left open",
    "callback_error": "an exception in a callback",
    "spin": "code that never yields",
    "blocking": "a blocking call on the loop",
    "async_with_writer": "`async with writer`",
    "loop_closed": "\"Event loop is closed\"",
    "run_forever": "`run_forever` inside a coroutine",
    "cancelled_swallowed": "a swallowed CancelledError",
    "deadlock": "a deadlock",
}

_HYGIENE_PATTERNS: tuple[tuple[str, str], ...] = (
    (r"ignored cancellation", "cancelled_swallowed"),
    (r"was never awaited", "never_awaited"),
    (r"exception was never retrieved", "never_retrieved"),
    (r"destroyed but it is pending", "destroyed_pending"),
    (r"Event loop is closed", "loop_closed"),
    (r"unclosed event loop", "unclosed_loop"),
    (r"unclosed", "unclosed"),
    (r"Exception in callback|Unhandled exception in client_connected_cb", "callback_error"),
)

#: Where a task waits when it waits for another task or for the peer (innermost
#: coroutine, ``Class.method``); a task in ``sleep`` is waiting for time, not for anyone.
_WAITS_FOR_OTHERS = frozenset(
    {
        "StreamReader._wait_for_data", "FlowControlMixin._drain_helper", "StreamWriter.drain",
        "StreamWriter.wait_closed", "Event.wait", "Condition.wait", "Lock.acquire",
        "Semaphore.acquire", "BoundedSemaphore.acquire", "Queue.get", "Queue.put", "Queue.join",
        "Barrier.wait", "Barrier._block", "Barrier._wait",
    }
)  # fmt: skip


def classify(text: str) -> str | None:
    """The explanation key for a warning or loop message, if it is one we teach."""
    for pattern, key in _HYGIENE_PATTERNS:
        if re.search(pattern, text, re.IGNORECASE):
            return key
    return None


def is_hygiene_warning(category: type[Warning], text: str) -> bool:
    return (issubclass(category, RuntimeWarning | ResourceWarning) and classify(text) is not None) or (
        category.__name__ == "PytestUnraisableExceptionWarning" and classify(text) is not None
    )


def loop_problem(context: dict[str, Any]) -> str:
    """One line for a loop exception-handler context."""
    message = str(context.get("message", "event loop error"))
    exc = context.get("exception")
    if exc is not None:
        message += f": {type(exc).__name__}: {exc}"
    where = _frame_of(exc)
    return message + (f" ({where})" if where else "")


def hygiene_failure(observations: Sequence[str]) -> str:
    """The message of a check that passed its assertions but left async mistakes behind."""
    first = observations[0].splitlines()[0]
    if classify(first) in ("unclosed", "unclosed_loop"):
        first = plain_reprs(first)
    more = f" (and {len(observations) - 1} more)" if len(observations) > 1 else ""
    note = hygiene_note(observations)
    return f"The result was right, but the code left a problem behind: {first}{more}.\n{note}"


_REPR_START = re.compile(r"<([A-Za-z_]\w*)")
#: The grader's own classes, as a learner knows them.
_OWN_CLASSES = {
    name: "event loop" for name in ("VirtualTimeLoop", "GraderLoop", "WorkerLoop", "LinkedLoop")
}


def plain_reprs(text: str) -> str:
    """``text`` with each object's repr cut to its class (``<StreamWriter transport=<...
    fd=18 ...>>`` -> ``<StreamWriter>``): a resource warning names what was left open; the
    file descriptors, buffer states and the grader's own loop classes only confuse."""
    out: list[str] = []
    i = 0
    while i < len(text):
        start = _REPR_START.match(text, i)
        if start is None:
            out.append(text[i])
            i += 1
            continue
        depth, j = 0, i
        while j < len(text):
            depth += {"<": 1, ">": -1}.get(text[j], 0)
            if depth == 0:
                break
            j += 1
        name = start.group(1)
        out.append(f"<{_OWN_CLASSES.get(name, name.lstrip('_'))}>")
        i = j + 1
    return "".join(out)


def hygiene_note(observations: Iterable[str], already: str = "") -> str:
    """The explanations for the kinds of problem observed, each once, leaving out those
    ``already`` contains (the message they will be appended to)."""
    keys: list[str] = []
    for text in observations:
        key = classify(text)
        if key and key not in keys and EXPLANATIONS[key] not in already:
            keys.append(key)
    return "\n".join(EXPLANATIONS[k] for k in keys)


def timeout(limit: float, where: str | None, shape: str | None = None, at: str | None = None) -> str:
    """A check that did not finish in time; ``shape`` (see :func:`stuck_shape`) says why
    when the plugin could tell: ``deadlock``, ``blocked`` (the loop never got control
    back; ``at`` is the learner's line it was running) or ``swallowed`` (the check was
    cancelled at its limit and went on running)."""
    waiting = f" It was still waiting: {where}." if where else ""
    head = f"Did not finish within {limit:g}s.{waiting}"
    if shape == "blocked":
        running = f" (at {at})" if at else ""
        eof = ""
        if at and ".read(" in at:
            eof = (
                "At end of file `read()` returns b'' at once, without waiting: a loop that does "
                "not stop on b'' (`if not data: break`) runs forever and never gives the loop "
                "back. "
            )
        return (
            f"{head} The event loop never got control back: your code kept running{running}, so "
            f"no other task could run, not even the cancellation at the time limit. {eof}"
            + EXPLANATIONS["blocking"]
        )
    if shape == "swallowed":
        return f"{head} It was cancelled at the time limit and went on running. " + EXPLANATIONS["cancelled_swallowed"]
    if shape == "deadlock":
        return f"{head} " + EXPLANATIONS["deadlock"]
    if at and not where:
        head += f" Your code was running at {at}."
    return (
        f"{head} Code that awaits something that never happens (a read with no data coming, "
        "an event nobody sets, a task that never ends) hangs forever, and so does a loop "
        "that never yields. Check what each `await` waits for and who makes it happen."
    )


def loop_held(
    kind: str, at: str | None, call: str | None = None, cpu_s: float | None = None, *, again: bool = False
) -> str:
    """The event loop's thread was held by the learner's code (see ``grader.monitor``):
    ``kind`` is what the kernel showed it doing, ``at`` the learner's line."""
    where = f" (at {at})" if at else ""
    source = at.split(": ", 1)[-1] if at else ""
    if kind == "stdin":
        what = "`input()`" if "input(" in source else "a read of standard input"
        return (
            f"Your code waited for a line of standard input on the event loop's thread{where}: "
            f"{what} blocks the whole loop until someone types a line and presses Enter, so "
            "no other task runs meanwhile (nothing from the network is read or shown). Read "
            "input on the loop instead: `await reader.readline()` on an asyncio StreamReader "
            "fed by standard input (`loop.connect_read_pipe`). (A thread blocked in `input()` "
            "cannot be cancelled: the program then waits at exit for Enter.) "
            f"{DOCS}asyncio-dev.html#running-blocking-code"
        )
    if kind == "spin":
        used = f"{cpu_s:.1f} s of CPU" if cpu_s is not None else "the CPU"
        eof = ""
        if ".read" in source:
            eof = (
                " At end of file `read()` and `readline()` return b'' at once, without "
                "waiting: a loop that does not stop on b'' (`if not data: break`) runs forever "
                "and never gives the loop back."
            )
        ran = (
            f"your code entered again the loop that an earlier check saw run for {used} without yielding{where}"
            if again
            else f"your code ran for {used} without yielding{where}"
        )
        return (
            f"The event loop never got control back: {ran}, so no other task could run.{eof} A "
            "coroutine only lets others run where it awaits something that is not ready yet. "
            + EXPLANATIONS["spin"]
        )
    if kind == "busy":
        used = f"{cpu_s:.1f} s of CPU" if cpu_s is not None else "the CPU"
        return (
            f"The event loop never waited: your code kept its thread busy for {used} without "
            "the loop ever going idle, either code that never yields or a task that polls "
            "(`while not done: await asyncio.sleep(0)`) instead of awaiting what it waits for. "
            + EXPLANATIONS["spin"]
        )
    if kind == "poll":
        used = f"{cpu_s:.1f} s of CPU" if cpu_s is not None else "the CPU"
        return (
            f"The event loop never waited: for {used} it always had a task ready to run{where}. "
            "Tasks did take turns, but one of them polls, going round and round (`while not "
            "done: await asyncio.sleep(0)` and the like) instead of awaiting what it waits for, "
            "so the loop never sleeps until something happens and a whole CPU burns meanwhile. "
            "Await the thing itself: `await task`, `await asyncio.gather(*tasks)`, "
            "`await event.wait()`. " + f"{DOCS}asyncio-task.html#awaitables"
        )
    if kind == "sleep":
        return (
            f"Your code slept on the event loop's thread{where}: `time.sleep` stops every "
            "task, not only this one. Use `await asyncio.sleep(...)`. " + EXPLANATIONS["blocking"]
        )
    asleep = f" (asleep in `{call}`)" if call else ""
    if kind == "wait":
        return (
            f"The event loop's thread was blocked{where}, waiting for another thread or "
            f"process{asleep}: a call like `future.result()`, `pool.map(...)`, "
            "`thread.join()` or `queue.get()` holds the whole loop until it returns. Await "
            "the work instead: `await loop.run_in_executor(pool, fn, arg)`, `await "
            "asyncio.to_thread(fn, arg)`, `await asyncio.wrap_future(future)`. "
            + EXPLANATIONS["blocking"]
        )
    return (
        f"The event loop's thread was blocked{where} in a blocking call{asleep}: no other "
        "task could run until it returned. " + EXPLANATIONS["blocking"]
    )


def stalled(at: str | None, waiting: str | None) -> str:
    """An event loop waited for what nothing could bring: no task ready, no timer, no
    socket, pipe, thread or signal handler that could wake it (``grader.loops``)."""
    where = f" (at {at})" if at else ""
    source = at.split(": ", 1)[-1] if at else ""
    if "run_forever" in source:
        return (
            f"The event loop ran out of work and waited forever{where}: `loop.run_forever()` "
            "returns only when something calls `loop.stop()`, and here nothing could: no "
            "task was left to run, no timer was set, no connection or thread could wake "
            "it. Run the work with `asyncio.run(main())` instead, where `main` awaits the "
            "tasks (`await asyncio.gather(...)`), and the loop stops when main returns. "
            f"{DOCS}asyncio-runner.html#asyncio.run"
        )
    tasks = f" Where each task waits: {waiting}." if waiting else ""
    return (
        f"The event loop waited for something that could never happen{where}: no task was "
        "ready, no timer was set, and no connection, pipe or thread could wake it, so every "
        f"task waits forever.{tasks} Check what each `await` waits for and who makes it "
        "happen: an event nobody sets, a task that waits for the one waiting for it, a "
        "future nobody completes. " + EXPLANATIONS["deadlock"]
    )


def stuck_shape(waiting_in: Sequence[str]) -> str | None:
    """``deadlock`` when at least two tasks wait for each other or for the peer (streams,
    events, locks, queues) and none is merely sleeping; else None. ``waiting_in`` holds
    the innermost coroutine of each pending task (``StreamReader._wait_for_data``)."""
    if any(name.rsplit(".", 1)[-1] == "sleep" for name in waiting_in):
        return None
    waiting = [name for name in waiting_in if _short_qualname(name) in _WAITS_FOR_OTHERS]
    return "deadlock" if len(waiting) >= 2 else None


def split(message: str) -> tuple[str, tuple[str, ...]]:
    """The message without the explanation paragraphs it contains, and their keys in the
    order they appeared: reporters show each explanation once per exercise."""
    found: list[tuple[int, str]] = []
    rest = message
    for key, text in EXPLANATIONS.items():
        at = rest.find(text)
        if at >= 0:
            found.append((message.find(text), key))
            rest = rest.replace(text, "\0")
    if not found:
        return message.strip(), ()
    lines = [re.sub(r"\s*\x00\s*", " ", line).strip() for line in rest.split("\n")]
    text = "\n".join(line for line in lines if line)
    return text, tuple(key for _, key in sorted(found))


def kernel_sleeps(count: int) -> str:
    """Where a blocking sleep was, when only the kernel saw it (``probes.kernel_sleeps``)."""
    times = "once" if count == 1 else f"{count} times"
    return f"the event loop's thread (the kernel saw it sleep {times}; the line was not reported)"


def loop_elsewhere() -> str:
    """The worker's main thread did nothing while the check ran (``probes.kernel_sleeps``)."""
    return (
        "Your code did not run on the thread that starts it: that thread did nothing at all "
        "while the check ran (the kernel's count), so your event loop ran on another one. "
        "Run your code where it is called, with no thread of your own in between."
    )


def blocking_calls(found: Sequence[Any]) -> str:
    calls = "; ".join(str(f) for f in found[:3])
    return f"Blocking call on the event loop: {calls}. {EXPLANATIONS['blocking']}"


def import_failure(exc: BaseException, path: Path) -> str:
    """Why the learner's module could not be imported, pointing at the line."""
    name = path.name
    if isinstance(exc, SystemExit):
        return (
            f"Importing {name} called sys.exit(): module-level code should only define "
            "things. Put script code under `if __name__ == \"__main__\":`."
        )
    if type(exc).__name__ == "Failed" and str(exc).startswith("Timeout"):
        return (
            f"Importing {name} did not finish: module-level code runs forever or blocks. "
            "Put script code under `if __name__ == \"__main__\":`."
        )
    if type(exc).__name__ in {"Failed", "OutcomeException"}:
        return str(getattr(exc, "msg", exc))
    where = _frame_of(exc, str(path))
    at = f" at {where}" if where else ""
    return f"Importing {name} raised {type(exc).__name__}: {exc}{at}. Fix that before anything else can be checked."


#: A check's own function, as pickle and others name a local object (``test_x.<locals>.f``):
#: grader internals, not the learner's business.
_CHECK_LOCALS = re.compile(r"\btest_\w+\.<locals>\.")


def unexpected_exception(exc: BaseException, tb: types.TracebackType | None, target: str | None) -> str:
    """A check ended in an exception nobody expected: name it and where it came from."""
    text = _CHECK_LOCALS.sub("", str(exc))
    if type(exc).__name__ == "BlockingError":
        where = _frame_of(exc, target, tb) or getattr(exc, "learner_at", None)
        at = f" (at {where})" if where else ""
        return f"{text} on the event loop{at}. {EXPLANATIONS['blocking']}"
    if isinstance(exc, TypeError) and ("asynchronous context manager" in text or "__aenter__" in text):
        return f"TypeError: {text}. {EXPLANATIONS['async_with_writer']}"
    if isinstance(exc, RuntimeError) and "already running" in text:
        where = _frame_of(exc, target, tb) or getattr(exc, "learner_at", None)
        at = f" (at {where})" if where else ""
        return f"RuntimeError: {text}{at}. {EXPLANATIONS['run_forever']}"
    if isinstance(exc, RuntimeError) and "Event loop is closed" in text:
        return f"RuntimeError: {text}. {EXPLANATIONS['loop_closed']}"
    if isinstance(exc, AssertionError):
        return f"Assertion failed: {text.strip() or 'assert'}"
    missing = getattr(exc, "name", None) if isinstance(exc, AttributeError) else None
    module = getattr(exc, "obj", None)
    learner_module = isinstance(module, types.ModuleType) and getattr(module, "__file__", None) == target
    if missing and target and (learner_module or getattr(module, "learner_file", None) == target):
        return f"{Path(target).name} does not define `{missing}`, which this check uses."
    # A split run's exception comes from the worker, with where it was raised there.
    where = _frame_of(exc, target, tb) or getattr(exc, "learner_at", None)
    if where:
        return f"Your code raised {type(exc).__name__}: {text} (at {where})."
    return f"The check stopped on {type(exc).__name__}: {text}"


def place(tb: types.TracebackType | None, target: str | None) -> str | None:
    """``file:line: source`` of the innermost frame of ``tb`` in the learner's ``target``."""
    return _frame_of(None, target, tb) if target else None


def _frame_of(
    exc: BaseException | None, target: str | None = None, tb: types.TracebackType | None = None
) -> str | None:
    """``file:line: source`` of the innermost traceback frame in ``target`` (or the last)."""
    tb = tb or (exc.__traceback__ if exc is not None else None)
    if tb is None:
        return None
    frames = traceback.extract_tb(tb)
    chosen = [f for f in frames if target and f.filename == target] or ([] if target else frames)
    if not chosen:
        return None
    frame = chosen[-1]
    return location(frame.filename, frame.lineno or 0, frame.line)


def location(filename: str, lineno: int, line: str | None = None) -> str:
    """``file:line: source``, the way every message names a place in the learner's code."""
    text = (line or linecache.getline(filename, lineno)).strip()
    return f"{Path(filename).name}:{lineno}: {text}"


def _short_qualname(name: str) -> str:
    """``Class.method`` from a qualified name (``asyncio.streams.StreamReader.read`` too)."""
    parts = name.split(".")
    return ".".join(parts[-2:])
