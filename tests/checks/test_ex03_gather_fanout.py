"""Checks for ex03 gather_fanout: concurrent fan-out, results in input order, bare errors.

Concurrency is proven by a barrier every fake fetch waits on (it opens only when all of
them wait at once); order and failures run on the virtual clock, so "the last url
finishes first" costs no real time. ``gather``, tasks awaited together and an unwrapped
``TaskGroup`` all pass; what the contract leaves open (whether the other fetches are
cancelled after a failure) is never looked at.
"""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

import pytest

from grader.probes import BarrierProbe, call_learner, docs, exact, fail, take_loop_problems

# The learner's code runs in a worker process; these checks hold proxies (grader.split).
pytestmark = pytest.mark.split

TASKS = "library/asyncio-task"  # the docs page for every lesson here

#: Added to every delay of a fake fetch, so that no fetch ends at a round time (0.5 s,
#: 1 s, 2 s): a timeout or a sleep of the learner's own never ends at the very moment a
#: fetch does, where which of the two comes first would be a toss-up.
ODD = 0.0007


class FetchError(Exception):
    """What the fake fetches raise."""


class Page:
    """A fetch result compared by identity (no ``__eq__``), with a readable repr."""

    def __init__(self, url: str) -> None:
        self.url = url

    def __repr__(self) -> str:
        return f"Page({self.url!r})"


async def _fetch_all(ex: Any, urls: list[str], fetch: Any, what: str) -> Any:
    pending = ex.fetch_all(urls, fetch)
    if not inspect.isawaitable(pending):
        fail(
            f"{what} returned {pending!r} instead of a coroutine: keep fetch_all an "
            "`async def` function (it has to await the fetches)."
        )
    return await call_learner(what, pending, 60.0)


@pytest.mark.virtual_time
@pytest.mark.weight(3)
@pytest.mark.hint(1)
async def test_fetches_concurrently(ex):
    """runs all fetches at the same time, one per url in the list"""
    # The last url repeats the first: result[i] is what fetch(urls[i]) returned, so a url
    # listed twice is fetched twice (a page may change between two fetches).
    urls = [f"https://site{i}.example/" for i in range(7)] + ["https://site0.example/"]
    # What each fetch returns: only fetch has them. Two are falsy: None and "" are results
    # like any other, and result[i] holds them too.
    pages: dict[str, Any] = {url: Page(url) for url in urls}
    pages[urls[3]], pages[urls[5]] = None, ""
    probe = BarrierProbe(len(urls), timeout=2.0, result=lambda url: pages[url])
    result = await _fetch_all(ex, urls, probe, "fetch_all(8 urls, the last one the same as the first)")
    called = [args[0] if args else None for args in probe.calls]
    if sorted(called, key=str) != sorted(urls):
        repeated = len(called) == len(set(urls)) and set(called) == set(urls)
        fail(
            f"fetch was called {len(called)} time(s), with {called!r}; the list holds 8 urls "
            "(the last is the first again), so fetch is awaited 8 times, once per item. "
            + ("A url listed twice was fetched once: `result[i]` is what `fetch(urls[i])` "
               "returned, so call it for every item, repeated or not." if repeated
               else "Call `fetch(url)` once for every item of the list.")
        )
    if probe.broken:
        fail(
            f"At most {probe.in_flight.max} of the 8 fetches ran at the same time. "
            "Awaiting each `fetch(url)` before calling the next runs them one after another. "
            "Start them all first, then wait for all: `await asyncio.gather(*(fetch(u) for u "
            f"in urls))`, or create tasks and then await them. {docs(TASKS, 'running-tasks-concurrently')}"
        )
    # Order has its own check; here only "every result is there", each the page fetch returned.
    expected = [pages[url] for url in urls]
    dropped = _dropped(result, expected)
    if dropped:
        returned = "; ".join(f"fetch({urls[i]!r}) returned {expected[i]!r}" for i in dropped)
        fail(
            f"fetch_all returned {len(result)} results for 8 urls: {returned}, and "
            f"{'that result is' if len(dropped) == 1 else 'those results are'} missing from the "
            "list. `result[i]` is what `fetch(urls[i])` returned, whatever it is: None, 0 and '' "
            "are results too. Return every result, unfiltered."
        )
    if not _same_items(result, expected):
        exact(result, expected, "fetch_all(urls, fetch) returned")


@pytest.mark.virtual_time
@pytest.mark.weight(2)
@pytest.mark.hint(2)
async def test_results_in_input_order(ex):
    """returns results in input order, not completion order"""
    delays = {"slow": 3.0 + ODD, "medium": 2.0 + ODD, "fast": 1.0 + ODD, "instant": 0.0}
    pages = {url: Page(url) for url in delays}
    finished: list[str] = []

    async def fetch(url: str) -> Page:
        await asyncio.sleep(delays[url])
        finished.append(url)
        return pages[url]

    urls = list(delays)
    result = await _fetch_all(ex, urls, fetch, "fetch_all(['slow', 'medium', 'fast', 'instant'])")
    expected = [pages[url] for url in urls]
    if isinstance(result, list) and result == [pages[u] for u in finished] and result != expected:
        fail(
            f"fetch_all returned {result!r}: the order in which the fetches finished, not the "
            "order of the urls. `asyncio.as_completed` (or appending in a done-callback) "
            "yields results as they complete; `gather` returns them in argument order, and "
            "so does awaiting a list of tasks in the order you created them."
        )
    exact(result, expected, "fetch_all(urls, fetch) with the last url finishing first returned")


@pytest.mark.virtual_time
@pytest.mark.weight(3)
@pytest.mark.hint(2)
async def test_same_exception_propagates(ex):
    """a failing fetch's own exception reaches the caller, not an ExceptionGroup"""
    boom = FetchError("b.example is down")

    async def fetch(url: str) -> str:
        if url == "b":
            await asyncio.sleep(1.0 + ODD)
            raise boom
        await asyncio.sleep({"a": 0.5, "c": 2.0}[url] + ODD)
        return url

    got: BaseException | None = None
    try:
        result = await _fetch_all(ex, ["a", "b", "c"], fetch, "fetch_all(['a', 'b', 'c'])")
    except Exception as exc:  # ExceptionGroup is an Exception too
        got = exc
    # Fetches that were not cancelled finish now, on the virtual clock, so nothing is left
    # running when the check ends (cancelling them is the learner's choice).
    await asyncio.sleep(5.0)
    if got is None:
        if isinstance(result, list) and any(item is boom for item in result):
            fail(
                f"fetch_all returned {result!r}: the exception came back inside the list. "
                "`gather(..., return_exceptions=True)` does that; the caller expects it "
                "raised. Drop return_exceptions."
            )
        myth = (
            "asyncio does propagate exceptions: awaiting `gather` re-raises the first one a "
            "fetch raised, to whoever awaits fetch_all. Catching it and returning None (or "
            "dropping the url) hides the failure: the caller can no longer tell a page that "
            "failed from one that came back. Let the FetchError out."
        )
        if isinstance(result, list) and len(result) == 3 and result[1] is None:
            fail(
                f"fetch 'b' raised FetchError('b.example is down'), but fetch_all returned "
                f"{result!r}: the error was caught and replaced by None. {myth}"
            )
        if isinstance(result, list) and result == ["a", "c"]:
            fail(
                f"fetch 'b' raised FetchError('b.example is down'), but fetch_all returned "
                f"{result!r}: the failed url was left out. {myth}"
            )
        fail(
            f"fetch 'b' raised FetchError('b.example is down'), but fetch_all returned "
            f"{result!r} instead of raising. {myth}"
        )
    if got is boom:
        return
    if isinstance(got, BaseExceptionGroup):
        inside = "with the FetchError inside" if _contains(got, boom) else "without the FetchError"
        fail(
            f"fetch_all raised {type(got).__name__} {inside}: a TaskGroup wraps its tasks' "
            "errors in an ExceptionGroup. This contract wants the fetch's own exception: "
            "either use `asyncio.gather`, or unwrap the group (`except* Exception as eg: "
            f"raise eg.exceptions[0]`). {docs(TASKS, 'task-groups')}"
        )
    if isinstance(got, FetchError):
        fail(
            "fetch_all raised a FetchError, but not the one fetch raised (a new object, "
            f"{got!r}). Let the original propagate (or `raise` it again unchanged)."
        )
    fail(
        f"fetch 'b' raised FetchError('b.example is down'), but fetch_all raised {got!r}."
        f"{_foreign(got)} asyncio does propagate exceptions: awaiting `gather` (or the task) "
        "re-raises the fetch's exception as it is."
    )


@pytest.mark.weight(1)
@pytest.mark.hint(2)
async def test_empty_list(ex):
    """an empty list of urls gives []"""
    calls: list[str] = []

    async def fetch(url: str) -> str:
        calls.append(url)
        return url

    try:
        result = await _fetch_all(ex, [], fetch, "fetch_all([], fetch)")
    except Exception as exc:
        fail(
            f"fetch_all([], fetch) raised {type(exc).__name__}: {str(exc).rstrip('.')}. Nothing to fetch is not "
            "an error: `asyncio.wait` refuses an empty set, `gather()` with no arguments "
            "gives []. Return [] for an empty list."
        )
    exact(result, [], "fetch_all([], fetch) returned")
    exact(calls, [], "fetch was called for an empty list with")


@pytest.mark.hidden
@pytest.mark.virtual_time
@pytest.mark.weight(1)
@pytest.mark.hint(2)
async def test_several_failures_none_lost(ex):
    """when several fetches fail, one error propagates and none is left unretrieved"""
    seconds = {"a": 3.0, "ok1": 0.2, "b": 1.0, "c": 2.0, "ok2": 0.1, "d": 0.5}
    delays = {url: delay + ODD for url, delay in seconds.items()}
    errors = {url: FetchError(f"{url} failed") for url in ("a", "b", "c", "d")}

    async def fetch(url: str) -> str:
        await asyncio.sleep(delays[url])
        if url in errors:
            raise errors[url]
        return url

    raised: Exception | None = None
    try:
        result = await _fetch_all(ex, list(delays), fetch, "fetch_all(6 urls, 4 failing)")
    except Exception as exc:
        raised = exc
    if raised is None:
        fail(
            f"Four fetches raised, but fetch_all returned {result!r} instead of raising. "
            "asyncio does propagate exceptions: `gather` re-raises the first one to whoever "
            "awaits it; catching the errors hides every failure from the caller."
        )
    if not any(raised is e or _contains(raised, e) for e in errors.values()):
        if any(type(raised) is type(e) and str(raised) == str(e) for e in errors.values()):
            fail(
                f"fetch_all raised {raised!r}, a new object, not the exception the fetch raised. "
                "Let the original propagate (or `raise` it again unchanged)."
            )
        fail(
            f"fetch_all raised {raised!r}, which none of the fetches raised (they raised "
            f"{', '.join(map(repr, errors.values()))}).{_foreign(raised)}"
        )
    await asyncio.sleep(5.0)  # whatever still runs finishes on the virtual clock
    for error in errors.values():
        # The tracebacks reach the learner's frames, which may hold the failed tasks:
        # drop them so the tasks can be collected (and report) inside this check.
        error.__traceback__ = None
        error.__context__ = None
    lost = _unretrieved_task_errors()
    if lost:
        fail(
            f"{len(lost)} fetch error(s) were never retrieved ({lost[0]}). fetch_all raised "
            "the first error it awaited and left the other failed tasks behind: nobody looked "
            'at their exceptions, so asyncio could only log "Task exception was never '
            'retrieved". `gather` retrieves the errors of the children that fail after the '
            "first one; a TaskGroup collects them all. If you await tasks one by one, make "
            f"sure every failed task's exception is retrieved. {docs(TASKS, 'asyncio.gather')}"
        )


def _dropped(result: Any, expected: list[Any]) -> list[int]:
    """The indexes of the falsy results ``result`` left out of ``expected``, when that is
    all that differs (the rest there, in order); else []."""
    if not isinstance(result, list) or len(result) >= len(expected):
        return []
    dropped: list[int] = []
    rest = iter(enumerate(expected))
    for got in result:
        for i, want in rest:
            if _same(got, want):
                break
            if want:
                return []
            dropped.append(i)
        else:
            return []
    dropped += [i for i, want in rest if not want]
    return dropped if len(result) + len(dropped) == len(expected) else []


def _same_items(result: Any, expected: list[Any]) -> bool:
    """``result`` holds ``expected``'s items, in any order."""
    if not isinstance(result, list) or len(result) != len(expected):
        return False
    left = list(result)
    for want in expected:
        at = next((i for i, got in enumerate(left) if _same(got, want)), None)
        if at is None:
            return False
        del left[at]
    return True


def _same(got: Any, want: Any) -> bool:
    """A page by identity (it has no ``__eq__``), anything else by type and value."""
    return got is want or (not isinstance(want, Page) and type(got) is type(want) and got == want)


def _foreign(exc: BaseException) -> str:
    """What an exception none of the fakes raised says, for the kinds that say something."""
    # Across the process boundary an asyncio exception arrives as a class of its name.
    if type(exc).__name__ == "InvalidStateError" and "is not set" in str(exc):
        return (
            " A task's `result()` (or `exception()`) raises it while the task is not done "
            "yet: read a result only once its task has finished (await the tasks, or "
            "`await asyncio.gather(...)`)."
        )
    if isinstance(exc, TimeoutError):
        return (
            " The fakes raise no TimeoutError: it came from fetch_all, as from a time limit of "
            "its own (`asyncio.wait_for`, `asyncio.timeout`) that ended before the fetches "
            "did. The contract sets no time limit."
        )
    return ""


def _contains(group: BaseException, exc: BaseException) -> bool:
    if group is exc:
        return True
    if isinstance(group, BaseExceptionGroup):
        return any(_contains(inner, exc) for inner in group.exceptions)
    return False


def _unretrieved_task_errors() -> list[str]:
    """Take the learner's loop's "never retrieved" reports (they are this check's
    verdict, so the plugin need not report them a second time)."""
    lost = take_loop_problems("never retrieved")
    return [f"{type(p.get('exception')).__name__}: {p.get('exception')}" for p in lost]
