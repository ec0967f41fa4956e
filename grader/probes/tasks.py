"""The learner's tasks: where they wait, awaiting learner code with a bound, and
cancelling whatever it leaves running when a check ends."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import types
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from grader import probes  # TARGET_FILE: the plugin sets it there, read at call time
from grader.loops import LOOPS, GraderLoop
from grader.probes.assertions import expect, fail
from grader.probes.blocking import describe_line
from grader.probes.concurrency import settle

T = TypeVar("T")


def current_loop() -> GraderLoop | None:
    """The grader loop created last in this check (``asyncio.run`` inside learner code too)."""
    return LOOPS[-1] if LOOPS else None


def logged_error() -> Exception | None:
    """The first exception the current grader loop could only log (one that escaped a
    callback or a task nobody awaited, such as a connection handler of a learner's server).
    In a split check, the worker's loop's (its account), taken from its report."""
    from grader.split import checker

    link = checker.current()
    if link is not None:
        for problem in link.problems():
            exc = problem.get("exception")
            if isinstance(exc, Exception):
                return exc
        return None
    loop = current_loop()
    for context in loop.problems if loop is not None else []:
        exc = context.get("exception")
        if isinstance(exc, Exception):
            return exc
    return None


def await_chain(task: asyncio.Task[Any]) -> list[types.FrameType]:
    """The frames a suspended task waits in, outermost first: its coroutine's, then each
    coroutine (or async generator) it awaits (``get_stack`` gives only the first)."""
    chain = []
    inner: Any = task.get_coro()
    while inner is not None:
        frame = getattr(inner, "cr_frame", None) or getattr(inner, "ag_frame", None)
        if frame is None:
            break
        chain.append(frame)
        inner = getattr(inner, "cr_await", None) or getattr(inner, "ag_await", None)
    return chain


def task_stacks(loop: asyncio.AbstractEventLoop, module_file: str | None = None) -> list[str]:
    """Where each pending task is waiting. With ``module_file`` (the learner's file), only
    the tasks running the learner's code, each named by the learner's function and placed
    at its innermost line there: the grader's own tasks and asyncio's internals are not
    the learner's business."""
    lines = []
    for task in asyncio.all_tasks(loop):
        coro = task.get_coro()
        where = None
        frames = await_chain(task) or task.get_stack()
        learner = [f for f in frames if module_file and f.f_code.co_filename == module_file]
        if module_file and not learner:
            continue
        pick = learner[-1] if learner else (frames[-1] if frames else None)
        if pick is not None:
            where = describe_line(pick.f_code.co_filename, pick.f_lineno)
        name = learner[0].f_code.co_qualname if learner else getattr(coro, "__qualname__", repr(coro))
        lines.append(f"task {name}: waiting at {where}" if where else f"task {name}")
    return sorted(lines)


def waiting_stacks(loop: asyncio.AbstractEventLoop, module_file: str | None = None) -> list[str]:
    """:func:`task_stacks`, or, on the loop of a split check, where the learner's tasks wait
    in the worker (its account: for explanations only, never for a verdict)."""
    remote = getattr(loop, "remote_stacks", None)
    if remote is not None:
        stacks = remote()
        if stacks is not None:
            return list(stacks)
    return task_stacks(loop, module_file)


def caller() -> tuple[int, int]:
    """Which event loop and thread the learner's code called the running probe from, as
    ids to compare with each other (a split check: the worker's account)."""
    import threading

    from grader.split import checker

    where = checker.CALLED_FROM.get()
    if where is not None:
        return where.loop, where.thread
    return id(asyncio.get_running_loop()), threading.get_ident()


@dataclass
class LoopThreadAccount:
    """The kernel's account of the worker's main thread during a block (split checks):
    the thread that runs the learner's code and, in an async check, its event loop."""

    #: Sleeping system calls it made (``time.sleep``'s)...
    sleeps: int = 0
    #: ...and those the worker's other threads made (a ``time.sleep`` handed to a thread).
    elsewhere: int = 0
    #: It neither ran nor was switched in or out while the block had the learner's code
    #: run: the learner's code, and its loop, ran on some other thread.
    stood_still: bool = False


@contextlib.contextmanager
def kernel_sleeps() -> Iterator[LoopThreadAccount]:
    """In a split check: what the kernel saw of the worker's main thread during the block
    (:class:`LoopThreadAccount`), filled in on leaving. Its sleeps come from the worker's
    seccomp listener (``grader.split.sleeps``), its activity from ``/proc``: the
    kernel's account, not the worker's. Left unknown in one process, or where the kernel
    gives no account (no seccomp)."""
    from grader.split import checker

    account = LoopThreadAccount()
    link = checker.current()
    watch = link.sleeps if link is not None else None
    pid = link.pid if link is not None else None
    mark = watch.mark() if watch is not None else None
    before = checker.thread_activity(pid, pid) if pid is not None else None
    try:
        yield account
    finally:
        if watch is not None and mark is not None:
            account.sleeps, account.elsewhere = watch.since(mark)
            after = checker.thread_activity(pid, pid) if pid is not None else None
            account.stood_still = before is not None and after is not None and after == before


def called_from() -> Any:
    """In a split check, inside a fake the learner's code called: where the call came
    from (``grader.split.checker.Caller``: its loop, its thread, whether that loop runs
    the check's call, the learner's threads alive). None in one process, where the fake
    runs where it was called and can look for itself."""
    from grader.split import checker

    return checker.CALLED_FROM.get()


def worker_account(op: str) -> Any:
    """In a split check, what the worker says of itself for ``op`` (``threads``: the
    threads the learner's code started; ``pending``: its tasks still pending); None in
    one process. The worker's account: SECURITY.md lists the verdicts that rest on it."""
    from grader.split import checker

    link = checker.current()
    return link.ask_value(op) if link is not None else None


def take_loop_problems(match: str) -> list[dict[str, Any]]:
    """Collect garbage now, then take what the loop running the learner's code recorded
    (its exception handler's contexts) whose message holds ``match``: in a split check the
    worker's loop (its account), else the running loop."""
    from grader.split import checker

    link = checker.current()
    if link is not None:
        return link.problems(match)
    gc.collect()
    loop: Any = asyncio.get_running_loop()
    problems: list[dict[str, Any]] = getattr(loop, "problems", [])
    taken = [p for p in problems if match in str(p.get("message", ""))]
    for problem in taken:
        problems.remove(problem)
    return taken


def learner_waiting(function: str) -> str | None:
    """Where a task of the running loop that runs the learner's ``function`` is waiting
    (``file:line: source``); None when no task runs it."""
    stacks = waiting_stacks(asyncio.get_running_loop(), probes.TARGET_FILE)
    lines = [line for line in stacks if line.startswith(f"task {function}:")]
    return lines[0].split("waiting at ", 1)[-1] if lines else None


async def call_learner(what: str, awaitable: Awaitable[T], timeout: float) -> T:
    """Await learner code with a teaching timeout: where it was stuck, not a bare Timeout."""
    task = asyncio.ensure_future(awaitable)
    done, _ = await asyncio.wait({task}, timeout=timeout)
    if task in done:
        return task.result()
    loop = asyncio.get_running_loop()
    target = probes.TARGET_FILE
    stacks = waiting_stacks(loop, target)
    from grader.split import checker

    link = checker.current()
    if link is not None and not link.closed:
        unstarted = bool(link.ask_value("unstarted_close"))  # the worker's account
    else:
        unstarted = any(_waits_for_unstarted_close(t) for t in asyncio.all_tasks(loop))
    task.cancel()
    with contextlib.suppress(BaseException):
        await asyncio.wait({task}, timeout=1.0)
    # Where the learner's code waits is the lesson; the check's own tasks are noise.
    name = target.rsplit("/", 1)[-1] if target else None
    learner = [line for line in stacks if name and f"waiting at {name}:" in line]
    detail = "; ".join(_collapsed(learner or stacks)) or "no task information"
    from grader.loops import VirtualTimeLoop

    clock = " of loop time" if isinstance(loop, VirtualTimeLoop) else ""
    fail(
        f"{what} did not finish within {timeout:g}s{clock} (it was waiting: {detail})."
        + (f" {UNSTARTED_CLOSE}" if unstarted else "")
    )


def _collapsed(lines: list[str], shown: int = 6) -> list[str]:
    """Identical lines once, with how many tasks share them (a hundred workers waiting at
    the same line are one line), and at most ``shown`` of them."""
    counts: dict[str, int] = {}
    for line in lines:
        counts[line] = counts.get(line, 0) + 1
    out = []
    for line, count in counts.items():
        if count > 1 and line.startswith("task ") and ":" in line:
            head, rest = line.split(":", 1)
            out.append(f"{count} tasks {head.removeprefix('task ')}:{rest}")
        else:
            out.append(line)
    more = len(out) - shown
    return out[:shown] + ([f"and {more} more"] if more > 0 else [])


#: The lesson for a task stuck in ``wait_closed()`` of a writer nobody closed.
UNSTARTED_CLOSE = (
    "`await writer.wait_closed()` waits for a close that was never started: it does not "
    "close anything itself. Call `writer.close()` first, then `await writer.wait_closed()`."
)


def _waits_for_unstarted_close(task: asyncio.Task[Any]) -> bool:
    """``task`` waits in ``StreamWriter.wait_closed()`` of a writer that is not closing."""
    for frame in await_chain(task):
        writer = frame.f_locals.get("self") if frame.f_code.co_name == "wait_closed" else None
        if isinstance(writer, asyncio.StreamWriter):
            return not writer.transport.is_closing()
    return False


@dataclass
class Outcome:
    """How one awaited learner call ended (see :func:`outcome_of`).

    ``finished`` is False when the call was still running at ``limit``; ``where`` then
    says where the tasks were waiting. ``at`` is the loop time the call ended, and
    ``snapshot`` what the check's ``snapshot()`` returned in that very step.
    """

    limit: float
    finished: bool = False
    value: Any = None
    error: BaseException | None = None
    at: float | None = None
    snapshot: Any = None
    where: str = ""


async def outcome_of(
    awaitable: Awaitable[Any],
    limit: float,
    snapshot: Callable[[], Any] | None = None,
) -> Outcome:
    """Await learner code in its own task for at most ``limit`` seconds of loop time and
    record how it ended, never raising: the value, any exception (``CancelledError``
    included), or "still running" (the task is then cancelled, with a bounded wait).

    ``snapshot`` runs in the same step the call ends, before any other task or callback:
    "had the cleanup run when it returned?" is judged at that moment, not one loop
    iteration later when a straggler may have caught up. On a virtual-time loop a large
    ``limit`` costs no real time.
    """
    loop = asyncio.get_running_loop()
    outcome = Outcome(limit)
    recording = True

    async def runner() -> None:
        value: Any = None
        error: BaseException | None = None
        try:
            value = await awaitable
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:  # recorded for the check to judge
            error = exc
        if recording:
            outcome.finished, outcome.value, outcome.error = True, value, error
            outcome.at = loop.time()
            if snapshot is not None:
                outcome.snapshot = snapshot()

    task = asyncio.ensure_future(runner())
    done, _ = await asyncio.wait({task}, timeout=limit)
    if not done:
        recording = False
        target = probes.TARGET_FILE
        stacks = waiting_stacks(loop, target)
        short = target.rsplit("/", 1)[-1] if target else None
        marker = f"waiting at {short}:"
        mine = [s.split("waiting at ", 1)[1] for s in stacks if short and marker in s]
        outcome.where = "; ".join(mine or stacks) or "no task information"
        task.cancel()
        with contextlib.suppress(BaseException):
            await asyncio.wait({task}, timeout=1.0)
    elif not task.cancelled() and task.exception() is not None:
        raise task.exception()  # type: ignore[misc]  # the check's own snapshot failed
    return outcome


def expect_finished(outcome: Outcome, what: str, advice: str = "") -> None:
    """Fail unless the call ``outcome`` records had finished: "``what`` was still running
    after ``limit`` s of loop time", where it was waiting, then ``advice``."""
    __tracebackhide__ = True
    expect(
        outcome.finished,
        f"{what} was still running after {outcome.limit:g} s of loop time (it was waiting: "
        f"{outcome.where})." + (f" {advice}" if advice else ""),
    )


def new_tasks(before: set[asyncio.Task[Any]]) -> set[asyncio.Task[Any]]:
    """Pending tasks that are not in ``before`` (a snapshot of ``asyncio.all_tasks()``),
    the current task excluded: what the code under test left running."""
    current = asyncio.current_task()
    return {t for t in asyncio.all_tasks() if t not in before and t is not current}


async def cancel_tasks(tasks: set[asyncio.Task[Any]], timeout: float = 1.0) -> set[asyncio.Task[Any]]:
    """Clean-up: cancel ``tasks`` (a few times, for code that swallows one cancellation)
    and wait a bounded time for them to end. Returns those still pending."""
    pending = {t for t in tasks if not t.done()}
    cancelled = set(pending)
    for _ in range(3):
        if not pending:
            break
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=timeout / 3)
    for task in cancelled:
        if task.done() and not task.cancelled():
            task.exception()  # retrieved: a clean-up must not leave "never retrieved" noise
    return pending


@contextlib.asynccontextmanager
async def cleaned_up(*releases: asyncio.Event) -> AsyncIterator[set[asyncio.Task[Any]]]:
    """Yield the tasks that exist now. On leaving, set ``releases`` (events the check's
    fakes block on, so they can end by themselves), let the loop run a few rounds, then
    cancel every task started since, with a bounded wait (:func:`cancel_tasks`)."""
    before = set(asyncio.all_tasks())
    try:
        yield before
    finally:
        for event in releases:
            event.set()
        await settle()
        await cancel_tasks(new_tasks(before))
