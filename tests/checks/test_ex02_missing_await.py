"""Checks for ex02 missing_await: a pipeline whose awaits went missing.

The seed tutorial claims a missing ``await`` blocks. It does not: the coroutine object is
built, never run, flows on where a value was expected, and Python warns when it is
collected. These checks look at what the pipeline returned and logged, replace the
helpers with recording fakes (called through the module's globals, as the contract says)
and name every coroutine that was created but never awaited.
"""

from __future__ import annotations

import asyncio
import inspect
import re
import types
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from grader.probes import call_learner, exact, expect, fail
from grader.split.checker import RemoteAwaitable, SharedList

# The learner's code runs in a worker process; these checks hold proxies (grader.split).
# A log the check reads is a SharedList: the learner's code appends to it in place.
pytestmark = pytest.mark.split

STAGES = ("fetch", "transform", "store")

MISSING_AWAIT = (
    "Calling an `async def` function runs none of its body: it returns a coroutine object, "
    "and only `await` (or a task) runs it. A missing `await` does not block anything; the "
    'work silently never happens and Python warns "coroutine ... was never awaited".'
)


async def _run(ex: types.ModuleType, items: list[str], log: list[str]) -> Any:
    """Await the learner's run_pipeline, turning the usual missing-await crashes into lessons."""
    pending = ex.run_pipeline(items, log)
    if not inspect.isawaitable(pending):
        fail(
            "run_pipeline(...) returned a plain value instead of a coroutine: keep it an "
            "`async def` function, since it has to `await` the helpers."
        )
    try:
        return await call_learner(f"run_pipeline({items!r}, log)", pending, 5.0)
    except Exception as exc:  # the learner's crash, explained below
        if "coroutine" in str(exc):
            fail(
                f"run_pipeline({items!r}, log) raised {type(exc).__name__}: {exc}. A coroutine "
                f"object reached code that expected a string: the result of a call you did "
                f"not await. {MISSING_AWAIT}"
            )
        raise


def _returned_early(done: int, total: int) -> str:
    """The lesson for a pipeline that went through ``done`` whole items of ``total``, then stopped."""
    return (
        f"run_pipeline went through the first {done} of the {total} items completely, then returned: "
        "the items after it never reached any stage. Look for a `return` (or `break`) inside "
        "the `for` loop: return the results once the loop is over."
    )


def _is_coroutine(value: object) -> bool:
    """A coroutine object: one of this process's, or one of the worker's (its proxy)."""
    return inspect.iscoroutine(value) or (
        isinstance(value, RemoteAwaitable) and repr(value).startswith("<coroutine object ")
    )


def _coroutine_name(value: object) -> str:
    if inspect.iscoroutine(value):
        return str(value.__name__)
    found = re.match(r"<coroutine object ([\w.<>]+)", repr(value))
    return found.group(1).rsplit(".", 1)[-1] if found else "?"


def _task_name(value: object) -> str | None:
    """The function a task (or future) runs, when ``value`` is one of this process's or the
    worker's; None otherwise."""
    if isinstance(value, asyncio.Task):
        return str(getattr(value.get_coro(), "__name__", "?"))
    if isinstance(value, asyncio.Future):
        return ""
    if isinstance(value, RemoteAwaitable):
        found = re.match(r"<(Task|Future) \w+ ?([\w.<>]*)", repr(value))
        if found:
            return found.group(2).rsplit(".", 1)[-1].removesuffix("()") if found.group(1) == "Task" else ""
    return None


def _describe_result(result: object) -> str:
    items = result if isinstance(result, list) else []
    coroutines = [x for x in items if _is_coroutine(x)]
    if coroutines:
        name = _coroutine_name(coroutines[0])
        return (
            f"run_pipeline returned coroutine objects ({_brief(coroutines[0])}, ...) instead of "
            f"strings: `{name}(...)` was called but never awaited. {MISSING_AWAIT}"
        )
    tasks = [name for name in map(_task_name, items) if name is not None]
    if tasks:
        what = f"a task running `{tasks[0]}(...)`" if tasks[0] else "a Future"
        return (
            f"run_pipeline returned task objects instead of strings: {what} went on where "
            "its result was expected. A task runs in the background; `await task` gives its "
            "result. In a sequential pipeline, simply `await` each stage."
        )
    return ""


def _shown(value: object) -> str:
    """``repr(value)`` with the folders of file paths left out (a task's repr, put in the
    log by the learner's code, names the file it runs in)."""
    return re.sub(r"(?:/[^/\s'\"<>:]+)+/([^/\s'\"<>:]+\.py)", r"\1", repr(value))


class _Fakes:
    """Recording stand-ins for fetch/transform/store with the contract's parameter names."""

    def __init__(self, returns: dict[str, Callable[[str], str]], yields: int = 1) -> None:
        self.returns = returns
        self.yields = yields
        self.calls: list[tuple[str, str, object]] = []  # (stage, argument, log object)
        self.events: list[str] = []

    async def _stage(self, stage: str, arg: str, log: list[str]) -> str:
        self.calls.append((stage, arg, log))
        self.events.append(f"start {stage}:{arg if isinstance(arg, str) else _brief(arg)}")
        for _ in range(self.yields):
            await asyncio.sleep(0)
        log.append(f"{stage}:{arg}")
        self.events.append(f"end {stage}:{arg if isinstance(arg, str) else _brief(arg)}")
        return self.returns[stage](arg)

    def install(self, ex: types.ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
        async def fetch(item: str, log: list[str]) -> str:
            return await self._stage("fetch", item, log)

        async def transform(data: str, log: list[str]) -> str:
            return await self._stage("transform", data, log)

        async def store(data: str, log: list[str]) -> str:
            return await self._stage("store", data, log)

        for fake in (fetch, transform, store):
            monkeypatch.setattr(ex, fake.__name__, fake)


@pytest.mark.weight(2)
@pytest.mark.hint(1)
async def test_returns_stored_values(ex):
    """returns what store returned, in input order"""
    # Not in sorted order, and one item twice: one result per item, in the items' order.
    items = ["b", "a", "c", "a"]
    log: list[str] = SharedList()
    result = await _run(ex, items, log)
    hint = _describe_result(result)
    if hint:
        fail(hint)
    if result == ["B", "A", "C", "A"]:
        fail(
            "run_pipeline(['b', 'a', 'c', 'a'], log) returned ['B', 'A', 'C', 'A']: what fetch "
            "returned. Return, for each item, the value `await store(...)` gave back."
        )
    strings = isinstance(result, list) and all(type(x) is str for x in result)
    if strings and sorted(result) == ["A!", "A!", "B!", "C!"] and result != ["B!", "A!", "C!", "A!"]:
        fail(
            f"run_pipeline(['b', 'a', 'c', 'a'], log) returned {result!r}: the right values in "
            "another order. Return one result per item, in the order of `items` (append each "
            "stored value as you go; do not sort them)."
        )
    # Fewer results than distinct items, each right: the loop stopped early (a dict keyed
    # by item returns one per distinct item: its own lesson below).
    stopped = isinstance(result, list) and 0 < len(result) < len(set(items))
    if stopped and result == ["B!", "A!", "C!", "A!"][: len(result)]:
        early = _returned_early(len(result), len(items))
        fail(f"run_pipeline(['b', 'a', 'c', 'a'], log) returned {result!r}. {early}")
    if strings and sorted(result) == ["A!", "B!", "C!"]:
        fail(
            f"run_pipeline(['b', 'a', 'c', 'a'], log) returned {result!r}: {len(result)} results "
            f"for {len(items)} items. 'a' is there twice, so it is processed and returned "
            "twice: collect the results in a list (a dict or set keyed by item keeps one per "
            "distinct item)."
        )
    exact(result, ["B!", "A!", "C!", "A!"], "run_pipeline(['b', 'a', 'c', 'a'], log) returned")
    exact(await _run(ex, ["z"], SharedList()), ["Z!"], "run_pipeline(['z'], log) returned")
    exact(await _run(ex, [], SharedList()), [], "run_pipeline([], log) returned")


@pytest.mark.weight(2)
@pytest.mark.hint(2)
async def test_log_complete_in_order(ex):
    """the log is complete and in pipeline order when run_pipeline returns"""
    log: list[str] = SharedList()
    result = await _run(ex, ["a", "b"], log)
    expected = ["fetch:a", "transform:A", "store:A!", "fetch:b", "transform:B", "store:B!"]
    if not log and result == ["A!", "B!"]:
        fail(
            "run_pipeline(['a', 'b'], log) returned ['A!', 'B!'], so every stage ran, but the "
            "caller's `log` stayed empty: the stages logged into another list. Pass the very "
            "`log` you were given to every helper (`log = []` inside run_pipeline makes a new "
            "list the caller never sees)."
        )
    if log != expected:
        missing = [entry for entry in expected if entry not in log]
        stages = sorted(entry.split(":")[0] for entry in log)
        why = ""
        if log and len(log) % 3 == 0 and log == expected[: len(log)]:
            why = " " + _returned_early(len(log) // 3, 2)
        elif stages == sorted(entry.split(":")[0] for entry in expected) and sorted(log) != sorted(expected):
            why = (
                " Every stage ran, once per item, but with other values: each stage must receive "
                "what the previous stage returned (the awaited value)."
            )
        elif missing and sorted(log) != sorted(expected):
            why = (
                f" Missing: {missing}. A stage that never logged never ran: its coroutine was "
                f"created and not awaited (or awaited only after run_pipeline returned). "
                f"{MISSING_AWAIT}"
            )
        elif sorted(log) == sorted(expected):
            why = (
                " Every entry is there but the order is wrong: the items were interleaved, "
                "so something ran in the background (gather over items, or a task you did not "
                "await right away). Await each stage of one item before starting the next."
            )
        fail(f"After run_pipeline(['a', 'b'], log) returned, log was {_shown(log)}, not {expected!r}.{why}")


@pytest.mark.weight(2)
@pytest.mark.hint(2)
async def test_calls_helpers_through_globals(ex, monkeypatch):
    """calls fetch, transform and store through the module, each fed the previous result"""
    fakes = _Fakes(
        {
            "fetch": lambda item: f"fetched({item})",
            "transform": lambda data: f"shaped({data})",
            "store": lambda data: f"receipt({data})",
        }
    )
    fakes.install(ex, monkeypatch)
    log: list[str] = SharedList()
    result = await _run(ex, ["x", "y"], log)
    called = [(stage, arg) for stage, arg, _ in fakes.calls]
    expected_calls = [
        ("fetch", "x"),
        ("transform", "fetched(x)"),
        ("store", "shaped(fetched(x))"),
        ("fetch", "y"),
        ("transform", "fetched(y)"),
        ("store", "shaped(fetched(y))"),
    ]
    if not fakes.calls:
        fail(
            "run_pipeline never called the module's fetch/transform/store as they are when it "
            "runs (the checks replaced them with fakes, and no fake was called): it calls copies "
            "of its own, code that repeats their bodies or the functions as they were when "
            "run_pipeline was defined (default arguments, a table built at import). Call them "
            "by their plain names, looked up when called."
        )
    # Wiring, not order (the order has its own check): compare the calls as a multiset.
    if sorted(called, key=repr) != sorted(expected_calls, key=repr):
        ran = ", ".join(f"{stage}({_brief(arg)})" for stage, arg in called)
        want = ", ".join(f"{stage}({arg!r})" for stage, arg in expected_calls)
        if called and len(called) % 3 == 0 and called == expected_calls[: len(called)]:
            why = _returned_early(len(called) // 3, 2)
        elif len(called) < len(expected_calls):
            why = "Stages are missing: a helper whose body never ran was called without `await`. " + MISSING_AWAIT
        else:
            why = (
                "Each stage must receive the value the previous stage returned (the awaited "
                "value), and every item must go through all three stages exactly once."
            )
        fail(f"The stages that ran were {ran}; expected {want}. {why}")
    expect(
        all(passed_log is log for _, _, passed_log in fakes.calls),
        "Pass the caller's `log` list itself to every helper (not a copy or a new list).",
    )
    hint = _describe_result(result)
    if hint:
        fail(hint)
    if result == ["shaped(fetched(x))", "shaped(fetched(y))"]:
        fail(
            "run_pipeline returned what transform returned; it must return what store "
            "returned (with the real helpers they happen to be equal; with these fakes they "
            "are not)."
        )
    exact(
        result,
        ["receipt(shaped(fetched(x)))", "receipt(shaped(fetched(y)))"],
        "with recording fakes, run_pipeline(['x', 'y'], log) returned",
    )


@pytest.mark.weight(2)
@pytest.mark.hint(3)
async def test_items_one_after_another(ex, monkeypatch):
    """finishes each item before starting the next"""
    fakes = _Fakes(
        {"fetch": str.upper, "transform": lambda d: d + "!", "store": lambda d: d},
        yields=3,
    )
    fakes.install(ex, monkeypatch)
    await _run(ex, ["a", "b"], SharedList())
    expected = []
    for stage, arg in (
        ("fetch", "a"),
        ("transform", "A"),
        ("store", "A!"),
        ("fetch", "b"),
        ("transform", "B"),
        ("store", "B!"),
    ):
        expected += [f"start {stage}:{arg}", f"end {stage}:{arg}"]
    events = fakes.events
    if events == expected:
        return
    if not events:
        fail(
            "None of the module's helpers ran (the checks replaced fetch, transform and store "
            "with fakes). Call them by their plain names and await each call."
        )
    starts = [e for e in events if e.startswith("start")]
    overlap = next(
        (e for i, e in enumerate(events) if e.startswith("start") and i > 0 and events[i - 1].startswith("start")),
        None,
    )
    if overlap is not None:
        fail(
            f"Stages ran at the same time: {events[: events.index(overlap) + 1]!r} ... "
            "The pipeline must be sequential: await fetch, then transform, then store for one "
            "item, and only then start the next item (no gather or tasks across items)."
        )
    started = ", ".join(e.removeprefix("start ") for e in starts)
    if len(events) % 6 == 0 and events == expected[: len(events)]:
        fail(f"The stages ran in the order {started}. " + _returned_early(len(events) // 6, 2))
    stage_names = [e.split(":")[0] for e in starts]
    expected_names = [e.split(":")[0] for e in expected if e.startswith("start")]
    if sorted(stage_names) == sorted(expected_names) and stage_names != expected_names:
        fail(
            f"The stages started in the order {started}; expected fetch:a, transform:A, store:A!, "
            "then fetch:b, transform:B, store:B!. Every stage ran, but stage by stage across the "
            "items: finish one item (fetch, transform, store) before starting the next."
        )
    if stage_names == expected_names:
        fail(
            f"The stages started in the order {started}; expected fetch:a, transform:A, store:A!, "
            "then fetch:b, transform:B, store:B!. Every stage ran in its turn, but with other "
            "values: each stage must receive what the previous stage returned (the awaited value)."
        )
    fail(
        f"The stages started in the order {started}; expected fetch:a, transform:A, store:A!, "
        "then fetch:b, transform:B, store:B!. A stage that never started was never awaited. " + MISSING_AWAIT
    )


@pytest.mark.weight(2)
@pytest.mark.hint(1)
async def test_every_coroutine_awaited(ex, monkeypatch):
    """awaits every coroutine it creates (no "never awaited")"""
    created: list[tuple[str, object, Coroutine[Any, Any, Any]]] = []  # (stage, first arg, coro)
    for stage in STAGES:
        original = getattr(ex, stage)

        def tracked(*args: Any, _original: Callable[..., Any] = original, _stage: str = stage, **kw: Any) -> Any:
            coro = _original(*args, **kw)
            if inspect.iscoroutine(coro):
                first = args[0] if args else next(iter(kw.values()), "?")
                created.append((_stage, first, coro))
            return coro

        monkeypatch.setattr(ex, stage, tracked)
    try:
        await _run(ex, ["a", "b"], SharedList())
    finally:
        # A task the learner created may still own a coroutine that has not started yet;
        # that is not "never awaited", so only coroutines no task owns count.
        owned = {id(task.get_coro()) for task in asyncio.all_tasks()}
        never = [
            (stage, first, coro)
            for stage, first, coro in created
            if inspect.getcoroutinestate(coro) == inspect.CORO_CREATED and id(coro) not in owned
        ]
        for _, _, coro in never:
            coro.close()  # reported below; closing stops the duplicate RuntimeWarning
    if never:
        calls = ", ".join(f"{stage}({_brief(first)}, log)" for stage, first, _ in never)
        fail(
            f"{len(never)} coroutine(s) were created and never awaited: {calls}. Python would "
            f"print \"RuntimeWarning: coroutine '{never[0][0]}' was never awaited\" when they "
            f"are garbage-collected. {MISSING_AWAIT} Put `await` before each helper call."
        )


def _brief(value: object) -> str:
    if _is_coroutine(value):
        return f"<coroutine {_coroutine_name(value)}>"
    task = _task_name(value)
    if task is not None:
        return f"<task {task}>" if task else "<Future>"
    return _shown(value)
