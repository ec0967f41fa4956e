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

EXPLANATIONS: dict[str, str] = {
    "never_awaited": (
        "A coroutine was created but never awaited. Calling an `async def` function only "
        "builds a coroutine object; nothing in it runs until you `await` it (or wrap it in "
        "a task). A missing `await` does not block: the work silently never happens and "
        f"Python warns. Add `await` before the call. {DOCS}asyncio-dev.html#detect-never-awaited-coroutines"
    ),
    "never_retrieved": (
        "A task failed and nobody looked at its exception (\"Task exception was never "
        "retrieved\"). asyncio does propagate exceptions, but only to whoever awaits the "
        "task: keep a reference to every task you create and await it (or use a "
        f"TaskGroup). {DOCS}asyncio-dev.html#detect-never-retrieved-exceptions"
    ),
    "destroyed_pending": (
        "A task was destroyed while still pending: it was created, never awaited, and "
        "garbage-collected mid-flight. Keep a reference to every task and await or cancel "
        f"it before returning. {DOCS}asyncio-task.html#asyncio.create_task"
    ),
    "unclosed": (
        "A connection or transport was left open (ResourceWarning: unclosed). Close what "
        "you open: `writer.close()` then `await writer.wait_closed()`, on every path "
        f"(use try/finally). {DOCS}asyncio-stream.html#asyncio.StreamWriter.close"
    ),
    "callback_error": (
        "An exception escaped a callback or a connection handler, and the event loop could "
        "only log it. Handle errors inside the handler (try/finally to close the "
        f"connection). {DOCS}asyncio-dev.html"
    ),
    "blocking": (
        "A blocking call ran on the event loop's thread: while it runs, no other task can "
        "make progress. Use the async equivalent (`await asyncio.sleep`, streams) or move "
        f"the call off the loop with `await asyncio.to_thread(...)`. {DOCS}asyncio-dev.html#running-blocking-code"
    ),
    "async_with_writer": (
        "`async with writer:` raises TypeError: a StreamWriter is not an async context "
        "manager (before 3.13 it is not one at all). Close it yourself: `writer.close()` "
        f"then `await writer.wait_closed()`. {DOCS}asyncio-stream.html#asyncio.StreamWriter"
    ),
    "loop_closed": (
        "\"Event loop is closed\": something used a loop after `asyncio.run` finished, "
        "usually a task or transport left behind by the previous run. Do all async work "
        f"inside one `asyncio.run(main())`. {DOCS}asyncio-runner.html#asyncio.run"
    ),
    "cancelled_swallowed": (
        "CancelledError was caught and not re-raised, so the task could not be cancelled. "
        "If you catch it to clean up, re-raise it (`except asyncio.CancelledError: ...; "
        f"raise`), or use try/finally. {DOCS}asyncio-task.html#task-cancellation"
    ),
}

_HYGIENE_PATTERNS: tuple[tuple[str, str], ...] = (
    (r"was never awaited", "never_awaited"),
    (r"exception was never retrieved", "never_retrieved"),
    (r"destroyed but it is pending", "destroyed_pending"),
    (r"unclosed", "unclosed"),
    (r"Exception in callback|Unhandled exception in client_connected_cb", "callback_error"),
)


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
    more = f" (and {len(observations) - 1} more)" if len(observations) > 1 else ""
    note = hygiene_note(observations)
    return f"The result was right, but the code left a problem behind: {first}{more}.\n{note}"


def hygiene_note(observations: Iterable[str]) -> str:
    """The explanations for the kinds of problem observed, each once."""
    keys: list[str] = []
    for text in observations:
        key = classify(text)
        if key and key not in keys:
            keys.append(key)
    return "\n".join(EXPLANATIONS[k] for k in keys)


def timeout(limit: float, where: str | None) -> str:
    waiting = f" It was still waiting: {where}." if where else ""
    return (
        f"Did not finish within {limit:g}s.{waiting} Code that awaits something that never "
        "happens (a read with no data coming, an event nobody sets, a task that never ends) "
        "hangs forever, and so does a loop that never yields. Check what each `await` "
        "waits for and who makes it happen."
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


def unexpected_exception(exc: BaseException, tb: types.TracebackType | None, target: str | None) -> str:
    """A check ended in an exception nobody expected: name it and where it came from."""
    text = str(exc)
    if type(exc).__name__ == "BlockingError":
        where = _frame_of(exc, target, tb)
        at = f" (at {where})" if where else ""
        return f"{text} on the event loop{at}. {EXPLANATIONS['blocking']}"
    if isinstance(exc, TypeError) and ("asynchronous context manager" in text or "__aenter__" in text):
        return f"TypeError: {text}. {EXPLANATIONS['async_with_writer']}"
    if isinstance(exc, RuntimeError) and "Event loop is closed" in text:
        return f"RuntimeError: {text}. {EXPLANATIONS['loop_closed']}"
    if isinstance(exc, AssertionError):
        return f"Assertion failed: {text.strip() or 'assert'}"
    where = _frame_of(exc, target, tb)
    if where:
        return f"Your code raised {type(exc).__name__}: {text} (at {where})."
    return f"The check stopped on {type(exc).__name__}: {text}"


def _frame_of(exc: BaseException | None, target: str | None = None, tb: types.TracebackType | None = None) -> str | None:
    """``file:line: source`` of the innermost traceback frame in ``target`` (or the last)."""
    tb = tb or (exc.__traceback__ if exc is not None else None)
    if tb is None:
        return None
    frames = traceback.extract_tb(tb)
    chosen = [f for f in frames if target and f.filename == target] or ([] if target else frames)
    if not chosen:
        return None
    frame = chosen[-1]
    line = (frame.line or linecache.getline(frame.filename, frame.lineno or 0)).strip()
    return f"{Path(frame.filename).name}:{frame.lineno}: {line}"
