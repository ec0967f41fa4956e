"""Checks for ex10 taskgroup_errors: run jobs in a TaskGroup, sort their errors with except*.

Every check runs on virtual time: jobs sleep for whole seconds of loop time, so "they
all fail at the same moment" and "it returned at 1 s, not never" are exact. A job that
must be cancelled blocks on an event the check holds and logs its CancelledError and
its ``finally:``; whatever is still running at the end of a check is cancelled.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from grader.probes import (
    EventLog,
    InFlight,
    Outcome,
    cleaned_up,
    docs,
    exact,
    expect,
    expect_finished,
    fail,
    outcome_of,
)

# The learner's code runs in a worker process; these checks hold proxies (grader.split).
pytestmark = pytest.mark.split

#: Loop time (virtual, so free) a call gets before it counts as hanging.
LIMIT = 60.0
TASK_GROUPS = docs("library/asyncio-task", "task-groups")
EXCEPT_STAR = docs("tutorial/errors", "raising-and-handling-multiple-unrelated-exceptions")
#: What to do when run_all hangs although every job returned.
ALL_RETURNED = (
    "Every job had returned: run_all should return as soon as the last one does. Create "
    "a task per job in an `asyncio.TaskGroup`; its `async with` block ends when they are "
    "all done. " + TASK_GROUPS
)
#: What to do when a job failed and the others went on running.
LET_IT_REACH_THE_GROUP = (
    "Let each job's exception leave its task: create the tasks with "
    "`tg.create_task(job())` in one `asyncio.TaskGroup` and catch nothing inside them. "
    "When one fails, the group cancels the others, waits for them, and raises an "
    "ExceptionGroup, which `except* ValueError` sorts out after the `async with` block. "
    + TASK_GROUPS
)

Job = Callable[[], Awaitable[Any]]


# --- helpers ----------------------------------------------------------------------------


class _Jobs:
    """Builds scripted jobs and logs what happens to them."""

    def __init__(self) -> None:
        self.log = EventLog()
        self.release = asyncio.Event()  # set at clean-up: a blocked job may then end
        self.cancelled_at: dict[str, float] = {}  # blocked job -> loop time it was cancelled

    def returns(self, value: object, after: float) -> Job:
        async def job() -> object:
            await asyncio.sleep(after)
            return value

        return job

    def raises(self, error: BaseException, after: float) -> Job:
        async def job() -> object:
            await asyncio.sleep(after)
            raise error

        return job

    def blocks(self, name: str) -> Job:
        async def job() -> object:
            self.log.add(f"{name} started")
            try:
                await self.release.wait()
            except asyncio.CancelledError:
                self.log.add(f"{name} cancelled")
                self.cancelled_at.setdefault(name, asyncio.get_running_loop().time())
                raise
            finally:
                self.log.add(f"{name} finally")
            return name

        return job


async def _run(ex: Any, jobs: list[Job], snapshot: Any = None) -> Outcome:
    return await outcome_of(ex.run_all(jobs), LIMIT, snapshot)


def _expect_returned_after_failure(outcome: Outcome, story: str, jobs: _Jobs, blocked: str, since: float) -> None:
    """Fail if run_all was still running at the limit although a job had failed: say
    whether ``blocked`` (a job that never ends by itself) had been cancelled by then."""
    __tracebackhide__ = True
    if outcome.finished:
        return
    cancelled = jobs.cancelled_at.get(blocked)
    if cancelled is not None and cancelled - since < outcome.limit:
        seen = (
            f"{blocked} was cancelled at {cancelled - since:g} s, yet run_all did not return. "
            "After cancelling the other jobs, wait for them to end, then return."
        )
        advice = TASK_GROUPS
    else:
        in_gather = " (run_all was waiting in `asyncio.gather`, which cancels nothing)" if (
            "gather" in outcome.where
        ) else ""
        seen = (
            f"Meanwhile {blocked} was never cancelled: the failure did not stop the other "
            f"jobs{in_gather}."
        )
        advice = LET_IT_REACH_THE_GROUP
    expect_finished(outcome, f"{story}, and run_all", f"{seen} {advice}")


def _leaves(group: BaseExceptionGroup[Any]) -> list[BaseException]:
    found: list[BaseException] = []
    for exc in group.exceptions:
        found.extend(_leaves(exc) if isinstance(exc, BaseExceptionGroup) else [exc])
    return found


def _describe(outcome: Outcome) -> str:
    if outcome.error is None:
        return f"returned {outcome.value!r}"
    return f"raised {type(outcome.error).__name__}: {outcome.error!r}"


def _expect_not_copies(got: object, originals: list[BaseException], story: str) -> None:
    """Explain the error list holding look-alikes (same type and message) of the errors
    the jobs raised, not the objects themselves."""
    __tracebackhide__ = True
    if not isinstance(got, list):
        return
    copies = [
        g
        for g in got
        if not any(g is e for e in originals)
        and any(type(g) is type(e) and getattr(g, "args", None) == e.args for e in originals)
    ]
    expect(
        not copies,
        f"{story}; run_all reported {copies!r}: they look like the jobs' errors but are new "
        "objects (same type and message). Report the exception objects the jobs raised, "
        "as they are: `group.exceptions` in `except* ValueError as group:` holds them. A "
        "copy loses the traceback and whatever the caller attached to the original.",
    )


def _expect_no_groups(got: object, story: str) -> None:
    """Explain an error list holding ExceptionGroups where the ValueErrors inside belong."""
    __tracebackhide__ = True
    if not isinstance(got, list):
        return
    groups = [g for g in got if isinstance(g, BaseExceptionGroup)]
    expect(
        not groups,
        f"{story}; run_all reported {got!r}: {'an ExceptionGroup' if len(groups) == 1 else 'ExceptionGroups'}, "
        "where the list should hold the ValueErrors themselves. In `except* ValueError as "
        "group:`, `group` is an ExceptionGroup; the errors are `group.exceptions`: "
        "`errors.extend(group.exceptions)`.",
    )


def _not_a_coroutine(outcome: Outcome) -> str:
    """The lesson for a task handed a job instead of the coroutine it returns, if the
    group raised that TypeError; else ''."""
    error = outcome.error
    leaves = _leaves(error) if isinstance(error, BaseExceptionGroup) else [error]
    if any(isinstance(e, TypeError) and "coroutine was expected" in str(e) for e in leaves):
        return (
            " The group raised TypeError: a coroutine was expected: `tg.create_task(job)` "
            "hands the task the job itself, which is a function. Call it, and hand over the "
            "coroutine it returns: `tg.create_task(job())`."
        )
    return ""


def _expect_jobs_ran(outcome: Outcome) -> None:
    """Fail with the lesson when the jobs never ran because their tasks got the jobs
    themselves, not their coroutines."""
    __tracebackhide__ = True
    lesson = _not_a_coroutine(outcome)
    expect(not lesson, f"run_all {_describe(outcome)}.{lesson}")


# --- checks -----------------------------------------------------------------------------


@pytest.mark.virtual_time
@pytest.mark.weight(2)
@pytest.mark.hint(1)
async def test_all_succeed_in_job_order(ex):
    """all succeed: (results in job order, []) even when later jobs finish first"""
    jobs = _Jobs()
    async with cleaned_up(jobs.release):
        outcome = await _run(ex, [jobs.returns("a", 3), jobs.returns("b", 2), jobs.returns("c", 1)])
        empty = await _run(ex, [])
    expect_finished(outcome, "Three jobs returned 'a', 'b', 'c' after 3, 2 and 1 s, and run_all", ALL_RETURNED)
    if outcome.error is not None:
        fail(f"With three jobs that all succeed, run_all {_describe(outcome)}.{_not_a_coroutine(outcome)}")
    value = outcome.value
    results = value[0] if type(value) is tuple and len(value) == 2 else None
    if isinstance(results, list) and results != ["a", "b", "c"] and sorted(results) == ["a", "b", "c"]:
        fail(
            f"run_all returned the results as {results!r}: that is the order the jobs "
            "finished in, not the order of the jobs. Keep the tasks in a list as you create "
            "them and read `task.result()` from that list afterwards."
        )
    exact(value, (["a", "b", "c"], []), "run_all([job_a, job_b, job_c])")
    expect(empty.finished and empty.error is None, f"run_all([]) {_describe(empty)}; expected ([], []).")
    exact(empty.value, ([], []), "run_all([])")


@pytest.mark.virtual_time
@pytest.mark.weight(1)
@pytest.mark.hint(1)
async def test_runs_jobs_concurrently(ex):
    """runs all jobs at once"""
    loop = asyncio.get_running_loop()
    flight = InFlight()

    def job(n: int) -> Job:
        async def run() -> int:
            with flight.track():
                await asyncio.sleep(1)
            return n

        return run

    jobs = _Jobs()
    async with cleaned_up(jobs.release):
        t0 = loop.time()
        outcome = await _run(ex, [job(n) for n in range(4)])
    expect_finished(outcome, "Four jobs of 1 s each ran, and run_all", ALL_RETURNED)
    expect(
        outcome.error is None,
        f"With four jobs that all succeed, run_all {_describe(outcome)}.{_not_a_coroutine(outcome)}",
    )
    assert outcome.at is not None
    expect(
        flight.max == 4 and outcome.at - t0 == pytest.approx(1.0, abs=0.05),
        f"Four 1-second jobs took {outcome.at - t0:g} s of loop time, with at most "
        f"{flight.max} running at once: they should all run together and finish after "
        "1 s. Create every task first (`tg.create_task(job())` for each job) and only "
        "then wait: the TaskGroup waits for all of them when its `async with` block ends.",
    )


@pytest.mark.virtual_time
@pytest.mark.weight(3)
@pytest.mark.hint(1)
async def test_value_error_cancels_siblings(ex):
    """a ValueError cancels the other jobs, and run_all returns ([], [that error]) promptly"""
    loop = asyncio.get_running_loop()
    jobs = _Jobs()
    bad = ValueError("job 0 failed")
    story = "Job 0 raised ValueError after 1 s while job 1 was blocked and job 2 returned"
    async with cleaned_up(jobs.release):
        t0 = loop.time()
        outcome = await _run(
            ex,
            [jobs.raises(bad, 1), jobs.blocks("job 1"), jobs.returns("ok", 0.5)],
            lambda: list(jobs.log.events),
        )
    _expect_returned_after_failure(outcome, story, jobs, "job 1", t0)
    events = outcome.snapshot
    expect(
        "job 1 started" in events,
        "Job 0 was to raise ValueError after 1 s while job 1 blocked and job 2 returned, "
        f"but job 1 never started: run_all {_describe(outcome)}."
        + (
            _not_a_coroutine(outcome)
            or " Each job is a function: call it to get its coroutine, and run that in the group."
        ),
    )
    expect(
        "job 1 cancelled" in events and "job 1 finally" in events,
        f"{story}; run_all {_describe(outcome)} while job 1 was still running: it never "
        "received CancelledError. When one job fails, the others must be cancelled and "
        "waited for; a TaskGroup does both. " + TASK_GROUPS,
    )
    if outcome.error is not None:
        fail(
            f"{story}; run_all {_describe(outcome)}. A ValueError is not an error of "
            "run_all: catch it with `except* ValueError as group:` and return "
            "`([], list_of_value_errors)`. " + EXCEPT_STAR
        )
    value = outcome.value
    if type(value) is tuple and len(value) == 2:
        _expect_no_groups(value[1], story)
        _expect_not_copies(value[1], [bad], story)
    exact(value, ([], [bad]), "run_all(...) with one failing job")
    assert outcome.at is not None
    expect(
        outcome.at - t0 == pytest.approx(1.0, abs=0.05),
        f"run_all returned after {outcome.at - t0:g} s of loop time; the ValueError came "
        "at 1 s, and it should return right then.",
    )


@pytest.mark.virtual_time
@pytest.mark.weight(2)
@pytest.mark.hint(2)
async def test_collects_every_value_error(ex):
    """collects every ValueError raised at the same moment, the same objects"""
    jobs = _Jobs()
    errors = [ValueError(f"job {i} failed") for i in range(3)]
    story = "Jobs 0, 1 and 2 raised ValueError at the same moment (1 s)"
    async with cleaned_up(jobs.release):
        t0 = asyncio.get_running_loop().time()
        outcome = await _run(
            ex,
            [*(jobs.raises(e, 1) for e in errors), jobs.blocks("job 3"), jobs.returns("ok", 0.5)],
        )
    _expect_returned_after_failure(outcome, story, jobs, "job 3", t0)
    _expect_jobs_ran(outcome)
    if outcome.error is not None:
        fail(
            f"{story}; run_all {_describe(outcome)}. Catch them with `except* ValueError "
            "as group:` and return `([], errors)`. " + EXCEPT_STAR
        )
    value = outcome.value
    expect(
        type(value) is tuple and len(value) == 2,
        f"run_all returned {value!r}; expected a tuple (results, errors).",
    )
    results, got = value
    exact(results, [], "the results when jobs failed")
    expect(type(got) is list, f"the errors must be a list, got {type(got).__name__}: {got!r}")
    _expect_no_groups(got, story)
    _expect_not_copies(got, list(errors), story)
    found = [e for e in errors if any(g is e for g in got)]
    expect(
        len(found) == 3,
        f"{story}; run_all reported {len(found)} of them ({got!r}). A TaskGroup raises one "
        "ExceptionGroup holding every failure: `group.exceptions` in `except* ValueError "
        "as group:` lists them all. Report each one, not only the first.",
    )
    expect(
        len(got) == 3 and all(type(g) is ValueError for g in got),
        f"run_all reported {got!r}; expected exactly the 3 ValueError objects the jobs "
        "raised (not copies, not wrapped, not the group).",
    )


@pytest.mark.virtual_time
@pytest.mark.weight(2)
@pytest.mark.hint(2)
async def test_other_error_propagates_in_group(ex):
    """any other exception propagates inside an ExceptionGroup, even next to a ValueError"""
    alone = KeyError("missing-key")
    mixed = KeyError("missing-key-2")
    # Each case builds its jobs afresh: the clean-up releases the blocked job, and a job
    # released in one case would no longer block in the next.
    cases: list[tuple[KeyError, str, str, Callable[[_Jobs], list[Job]]]] = [
        (
            alone,
            "Job 0 raised KeyError after 1 s",
            "job 1",
            lambda jobs: [jobs.raises(alone, 1), jobs.blocks("job 1")],
        ),
        (
            mixed,
            "Job 0 raised KeyError and job 1 raised ValueError at the same moment",
            "job 2",
            lambda jobs: [jobs.raises(mixed, 1), jobs.raises(ValueError("bad value"), 1), jobs.blocks("job 2")],
        ),
    ]
    for key_error, story, blocked, make_jobs in cases:
        jobs = _Jobs()
        async with cleaned_up(jobs.release):
            t0 = asyncio.get_running_loop().time()
            outcome = await _run(ex, make_jobs(jobs))
        _expect_returned_after_failure(outcome, story, jobs, blocked, t0)
        _expect_jobs_ran(outcome)
        if outcome.error is None:
            fail(
                f"{story}; run_all {_describe(outcome)}: the KeyError was swallowed. Only "
                "ValueErrors are run_all's to handle; `except* ValueError` leaves the rest "
                "of the group to propagate by itself (do not catch ExceptionGroup or "
                "Exception as a whole). " + EXCEPT_STAR
            )
        error = outcome.error
        if error is key_error:
            fail(
                f"{story}; run_all raised the bare KeyError, outside any ExceptionGroup. "
                "The contract is that it propagates inside an ExceptionGroup, as the "
                "TaskGroup raised it: let `except*` re-raise what it does not handle (no "
                "`except* KeyError`, no `raise group.exceptions[0]`), and read "
                "`task.result()` only when no job failed: on a failed task it raises that "
                "task's exception on its own."
            )
        expect(
            isinstance(error, ExceptionGroup),
            f"{story}; run_all {_describe(outcome)}; expected an ExceptionGroup holding the KeyError.",
        )
        assert isinstance(error, ExceptionGroup)
        expect(
            any(leaf is key_error for leaf in _leaves(error)),
            f"{story}; run_all raised {error!r}, which does not hold that KeyError.",
        )
