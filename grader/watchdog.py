"""The watchdog: what stops a check at its time limit, and says where it was waiting.

At the check's limit (real time, from a thread) it asks the running loop to record where
each of the learner's tasks waits and to cancel the check; if the check is still running
a moment later, the loop was blocked or the cancellation swallowed, and it tells the
parent so (a :class:`~grader.channel.Stuck` message: the only account the parent gets if
it must kill the child). pytest-timeout is the backstop a little later. The loop monitor
(``grader.monitor``) usually decides long before: :func:`on_hold` records its finding.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from grader import explain, monitor, probes
from grader.channel import Message, Stuck
from grader.loops import GRADER_THREAD_PREFIX, LOOPS

#: pytest-timeout fires this long after the watchdog, as a backstop. Room for pytest to
#: build the stopped check's report on a loaded machine (an alarm during that is an
#: INTERNALERROR, no verdict), and still short of the parent's kill (HARD_MARGIN_S, 5 s).
BACKSTOP_S = 3.5


@dataclass
class CheckState:
    """What the plugin knows about the check that is running (written by the main thread,
    the watchdog and the loop monitor)."""

    nodeid: str
    started: float
    status: str = "passed"
    message: str | None = None
    output: str = ""
    import_error: bool = False
    hygiene: list[str] = field(default_factory=list)
    expired: str | None = None  # where tasks were waiting when the watchdog fired
    cancel_sent_at: float | None = None  # the watchdog asked a running loop to cancel the check...
    cancel_ran_at: float | None = None  # ...and the loop ran that request (late if it was blocked)
    call_done: bool = False  # the check's own code has ended (teardown may follow)
    stuck_shape: str | None = None  # explain.stuck_shape of the tasks at the limit
    hold: monitor.Hold | None = None  # what held the loop's thread (the loop monitor saw it)
    held_reported: bool = False
    finished: bool = False  # its verdict has been sent
    send: Callable[[Message], None] | None = None  # the result channel (None: run by hand)


def on_hold(check: CheckState | None, hold: monitor.Hold, test_code: types.CodeType | None) -> None:
    """Monitor thread: the learner's code holds the loop's thread. Record why, and ask the
    loop to cancel the check (the monitor's signal stops the learner's code itself)."""
    if check is None or check.hold is not None:
        return
    check.hold = hold
    if check.send is not None:  # the verdict, should the child have to be killed before it sends one
        check.send(Stuck(check.nodeid, hold.message(), "failed"))
    for loop in reversed(list(LOOPS)):
        if loop.is_running() and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(cancel_check, loop, test_code)
            return


def on_stalled(check: CheckState | None, loop: asyncio.AbstractEventLoop, target: str | None) -> None:
    """Loop thread, inside the selector: the loop is about to wait for what nothing can
    bring. Record why; raise in the learner's code if it is what runs the loop (its own
    ``run_forever``), else cancel the check's tasks."""
    if check is None or check.call_done or check.hold is not None:
        return
    remote = getattr(loop, "remote_stall", None)
    if remote is not None:
        # A split check: the learner's code and its loop are in the worker, which says
        # where it waits (and stops its own run_forever there).
        at, stacks = remote()
        on_hold(check, monitor.Hold("stalled", at, waiting="; ".join(stacks) or None), None)
        return
    at = monitor.learner_line_here(target)
    waiting = "; ".join(probes.waiting_stacks(loop, target)) or None
    on_hold(check, monitor.Hold("stalled", at, waiting=waiting), None)
    if at is not None:
        raise monitor.LoopHeld("the loop waited for what nothing could bring")


def cancel_check(loop: asyncio.AbstractEventLoop, test_code: Any) -> None:
    tasks = asyncio.all_tasks(loop)
    mine = [t for t in tasks if getattr(t.get_coro(), "cr_code", None) is test_code]
    for task in mine or tasks:
        task.cancel()


def expire(check: CheckState, test_code: types.CodeType | None, limit: float) -> None:
    """Watchdog thread: ask the running loop to dump its tasks and cancel the check; a
    little later, tell the parent why the check is still running if it is (the parent
    may have to kill it: this is the only account it will get)."""
    for loop in reversed(list(LOOPS)):
        if loop.is_running() and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(cancel_stuck, loop, check, test_code)
            except RuntimeError:
                continue
            check.cancel_sent_at = time.monotonic()
            later = threading.Timer(BACKSTOP_S / 2, report_stuck, args=(check, limit))
            later.name = GRADER_THREAD_PREFIX + "watchdog-note"
            later.daemon = True
            later.start()
            return
    check.expired = check.expired or ""


def report_stuck(check: CheckState, limit: float) -> None:
    """Watchdog thread, after the cancel request: a check still running was cancelled and
    went on (a swallowed CancelledError), or its loop never ran the request (blocked)."""
    if check.finished or check.call_done or check.send is None:
        return
    shape = "swallowed" if cancel_in_time(check) else "blocked"
    at = monitor.most_telling_line(threading.main_thread().ident, probes.TARGET_FILE) if shape == "blocked" else None
    message = "Stopped by the grader. " + explain.timeout(limit, check.expired or None, shape, at)
    check.send(Stuck(check.nodeid, message))


def cancel_in_time(check: CheckState) -> bool:
    """The loop ran the watchdog's cancel request promptly (not only after the backstop
    had interrupted whatever blocked it)."""
    if check.cancel_sent_at is None or check.cancel_ran_at is None:
        return False
    return check.cancel_ran_at - check.cancel_sent_at < BACKSTOP_S / 2


def cancel_stuck(loop: asyncio.AbstractEventLoop, check: CheckState, test_code: Any) -> None:
    check.cancel_ran_at = time.monotonic()
    stacks = probes.waiting_stacks(loop, probes.TARGET_FILE)
    check.expired = "; ".join(s for s in stacks if test_code is None or "test_" not in s) or "; ".join(stacks)
    tasks = asyncio.all_tasks(loop)
    check.stuck_shape = explain.stuck_shape([innermost(t) for t in tasks])
    mine = [t for t in tasks if getattr(t.get_coro(), "cr_code", None) is test_code]
    for task in mine or tasks:
        task.cancel()


def timeout_message(check: CheckState, limit: float, excinfo: pytest.ExceptionInfo[BaseException] | None) -> str:
    """Why the check ran out of time, as far as the watchdog could tell."""
    backstop = excinfo is not None and is_timeout(excinfo.value)
    at = explain.place(excinfo.tb, probes.TARGET_FILE) if backstop and excinfo is not None else None
    if backstop and cancel_in_time(check):
        shape: str | None = "swallowed"  # cancelled at the limit, and still running
    elif backstop and check.cancel_sent_at is not None:
        shape = "blocked"  # the loop did not run the watchdog's request until the backstop
    else:
        shape = check.stuck_shape
    return explain.timeout(limit, check.expired or None, shape, at)


def innermost(task: asyncio.Task[Any]) -> str:
    """``Class.method`` of the coroutine a task is suspended in (``Event.wait``)."""
    inner: Any = task.get_coro()
    name = "?"
    while inner is not None:
        code = getattr(inner, "cr_code", None) or getattr(inner, "ag_code", None)
        if code is None:
            break
        name = code.co_qualname
        inner = getattr(inner, "cr_await", None) or getattr(inner, "ag_await", None)
    return str(name)


def is_timeout(exc: BaseException) -> bool:
    return isinstance(exc, pytest.fail.Exception) and str(exc.msg).startswith("Timeout")
