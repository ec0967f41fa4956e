"""The pytest plugin that runs inside the sandboxed child and reports to the grader.

It loads the learner's module lazily (the ``ex`` fixture), so the collected check ids
reach the parent before any learner code runs; it reports one verdict per check over an
inherited pipe (never stdout), each line numbered and authenticated with a key the
parent sent on stdin; and it turns what goes wrong in async code into teaching messages:
a stuck check names where its tasks were waiting, and "coroutine ... was never awaited",
"Task exception was never retrieved" and unclosed transports fail the check with an
explanation instead of passing silently.

Layout: constants and texts, then hooks in the order pytest calls them, then fixtures,
then private helpers. Run by hand for development::

    pytest -p grader.plugin --awaitlings-target solutions tests/checks/test_ex01_hello_run.py
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hashlib
import importlib.util
import inspect
import os
import sys
import threading
import time
import traceback
import types
import warnings
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from grader import explain, monitor, probes, watchdog
from grader.channel import (
    Collected,
    CollectedCheck,
    Done,
    Error,
    Hello,
    Imported,
    Importing,
    Result,
    Start,
    Writer,
)
from grader.loops import GRADER_THREAD_PREFIX, LOOPS, STALLED, GraderLoop, GraderLoopPolicy, VirtualTimeLoop
from grader.split import checker
from grader.split.checker import LinkedLoop
from grader.watchdog import BACKSTOP_S, CheckState

DEFAULT_LIMIT_S = 10.0
OUTPUT_CAP = 4000

@dataclass(frozen=True, eq=False)  # hashed by identity: pluggy keeps plugins in a set
class Sandboxed:
    """What ``grader.sandbox.child`` hands this plugin (``pytest.main(args, plugins=[...])``):
    the key that authenticates results (read from stdin before pytest starts) and the
    isolation it achieved (reported to the parent in the first message), and the SHA-256
    of the learner's file as the parent scanned it (only those bytes are ever run)."""

    key: bytes
    isolation: dict[str, Any]
    learner_sha256: str | None = None

MARKERS = (
    "weight(n): this check's share of the exercise's points (default 1)",
    "hidden: left out of student releases; shown as a hidden check",
    "virtual_time: run on the virtual-time loop (idle time is skipped, loop.time() jumps)",
    "split: the learner's code runs in a worker process; the check holds proxies (grader.split)",
    "limit(seconds): this check's time limit instead of the exercise's",
    "hint(n): when this check fails, point the learner to the manifest's hint n (1-based)",
    "timing: this check's verdict depends on the real clock (never served from the verdict cache)",
    "loop_held_elsewhere: the loop monitor does not fail this check for a spin or a blocking "
    "call that ends (another check judges them; its own work makes their length a race)",
    "worker_setup(probe, *args): in a split check, run this worker-side probe "
    "(grader.probes.here) before the learner's module is imported there",
    "closing: this check judges closing; once a checks file has one, a connection left open "
    "(ResourceWarning: unclosed) fails only its `closing` checks, not every check",
)


# --- hooks, in the order pytest calls them ---------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    """Options the sandbox passes; all optional so checks can be run by hand."""
    group = parser.getgroup("awaitlings")
    group.addoption("--awaitlings-target", default=None, help="directory holding the learner's file")
    group.addoption("--awaitlings-fd", type=int, default=None, help="pipe for results (sandbox only)")
    group.addoption(
        "--awaitlings-limit", type=float, default=DEFAULT_LIMIT_S, help="per-check time limit (s)"
    )


def pytest_configure(config: pytest.Config) -> None:
    """Register markers, open the result channel, make learner-made loops grader loops."""
    for marker in MARKERS:
        config.addinivalue_line("markers", marker)
    state = _State(
        target=Path(config.getoption("awaitlings_target") or "exercises").resolve(),
        limit=float(config.getoption("awaitlings_limit")),
    )
    fd = config.getoption("awaitlings_fd")
    if fd is not None:
        sandboxed = next((p for p in config.pluginmanager.get_plugins() if isinstance(p, Sandboxed)), None)
        key, isolation = (sandboxed.key, sandboxed.isolation) if sandboxed else (b"", {})
        state.learner_sha256 = sandboxed.learner_sha256 if sandboxed else None
        state.channel = Writer(fd, key)
        state.channel.send(Hello(os.getpid(), sys.version.split()[0], isolation))
    config.stash[_STATE] = state
    asyncio.set_event_loop_policy(state.policy)
    monitor.install(lambda: probes.TARGET_FILE)
    STALLED.append(lambda loop: watchdog.on_stalled(state.check, loop, probes.TARGET_FILE))


def pytest_asyncio_loop_factories(config: pytest.Config, item: pytest.Item) -> dict[str, Any]:
    """Async checks run on a grader loop; ``virtual_time`` ones on the fast-forwarding one."""
    if item.get_closest_marker("split") is not None:
        return {"linked": LinkedLoop}
    virtual = item.get_closest_marker("virtual_time") is not None
    return {"virtual" if virtual else "grader": VirtualTimeLoop if virtual else GraderLoop}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Give every check its pytest-timeout backstop, a little after its own limit."""
    state = config.stash[_STATE]
    for item in items:
        item.add_marker(pytest.mark.timeout(_limit(item, state) + BACKSTOP_S))
        if state.channel is not None:
            # Verdicts travel on the channel, with their own messages: pytest's report of a
            # failure (its traceback, formatted with the source of every frame: 20-30 ms a
            # failing check) is never read, so it is not formatted.
            item.repr_failure = _unread_failure  # type: ignore[method-assign]
            item._repr_failure_py = _unread_failure  # type: ignore[method-assign,assignment]


def _unread_failure(excinfo: pytest.ExceptionInfo[BaseException], *args: Any, **kwargs: Any) -> str:
    return type(excinfo.value).__name__


def pytest_collection_finish(session: pytest.Session) -> None:
    """Send the collected checks before any learner code has been imported."""
    state = session.config.stash[_STATE]
    checks = tuple(
        CollectedCheck(
            id=item.nodeid,
            name=_check_name(item),
            weight=_weight(item),
            hidden=item.get_closest_marker("hidden") is not None,
            limit=_limit(item, state),
            hint=_hint(item),
            timing=item.get_closest_marker("timing") is not None,
        )
        for item in session.items
    )
    if state.channel:
        state.channel.send(Collected(checks))
    if any(item.get_closest_marker("split") for item in session.items):
        checker.prestart()  # the workers' zygote starts while the first check sets up


def pytest_collectreport(report: pytest.CollectReport) -> None:
    """A checks file that cannot be collected is the kit's fault: say so to the parent."""
    if report.failed:
        state = _current_state
        if state and state.channel:
            state.channel.send(Error(_crop(str(report.longrepr), 2000)))


def pytest_runtest_logstart(nodeid: str, location: tuple[str, int | None, str]) -> None:
    state = _current_state
    if state and state.channel:
        state.channel.send(Start(nodeid))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Generator[None, object, object]:
    """Per check: fresh loop registry, the right loop class, a watchdog on the clock."""
    state = item.config.stash[_STATE]
    send = state.channel.send if state.channel else None
    state.check = CheckState(nodeid=item.nodeid, started=time.monotonic(), send=send)
    state.policy.loop_class = (
        LinkedLoop
        if item.get_closest_marker("split")
        else VirtualTimeLoop
        if item.get_closest_marker("virtual_time")
        else GraderLoop
    )
    LOOPS.clear()
    # What the previous check left for the garbage collector warns now, not inside this one
    # ("coroutine ... was never awaited" from another check's leftovers is not this check's).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gc.collect()
    obj = getattr(item, "obj", None)
    test_code = getattr(inspect.unwrap(obj), "__code__", None) if callable(obj) else None
    timer = threading.Timer(_limit(item, state), watchdog.expire, args=(state.check, test_code, _limit(item, state)))
    timer.name = GRADER_THREAD_PREFIX + "watchdog"
    timer.daemon = True
    timer.start()
    check = state.check
    held = monitor.LoopMonitor(
        lambda: probes.TARGET_FILE,
        state.stdin,
        lambda hold: watchdog.on_hold(check, hold, test_code),
        judge_holds=item.get_closest_marker("loop_held_elsewhere") is None,
    )
    held.start()
    try:
        with warnings.catch_warnings():
            # pytest hands warnings to ``pytest_warning_recorded`` only after the whole
            # protocol, when the verdict has been sent: watch them as they are shown.
            warnings.showwarning = _tee_warnings(state.check, warnings.showwarning)
            return (yield)
    finally:
        held.stop()
        timer.cancel()
        LOOPS.clear()


@pytest.hookimpl(wrapper=True, trylast=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, None, None]:
    """The learner's module is imported here (the ``ex`` fixture): give it the check's stdin."""
    with _terminal_stdin(item.config.stash[_STATE]):
        return (yield)


@pytest.hookimpl(wrapper=True, trylast=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    """Inside pytest's capturing (trylast): ``sys.stdin`` reads like an idle terminal, not
    pytest's "reading from stdin while output is captured" error."""
    with _terminal_stdin(item.config.stash[_STATE]):
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Turn each phase's outcome into a verdict with a teaching message."""
    report = yield
    state = item.config.stash[_STATE]
    check = state.check
    if check is None:
        return report
    if call.when == "call":
        check.call_done = True
        for loop in LOOPS:
            loop.closing = True
    if call.when == "teardown":
        _collect_hygiene(check)
        if not item.get_closest_marker("closing") and _file_judges_closing(item):
            # A leak costs the check that is about it, not every check of the exercise.
            check.hygiene = [h for h in check.hygiene if explain.classify(h) != "unclosed"]
    if check.hold is not None:
        # The kernel's evidence decides: whatever the learner's code did with the
        # interruption (raised it, swallowed it), the check fails with what held the loop.
        if check.status == "passed" or not check.held_reported:
            check.status, check.message, check.held_reported = "failed", _held_message(check), True
        if report.passed and call.when == "call":
            report.outcome = "failed"
        report.longrepr = check.message
        check.output = (getattr(report, "capstdout", "") or "") + (getattr(report, "capstderr", "") or "")
        return report
    swallowed = call.when == "teardown" and any(explain.classify(h) == "cancelled_swallowed" for h in check.hygiene)
    if report.failed and swallowed and check.status == "passed":
        check.status = "failed"
        check.message = explain.hygiene_failure(check.hygiene)
        report.longrepr = check.message
    elif report.failed or (call.when in ("setup", "call") and report.skipped):
        # A skip is never a pass: a check that did not run to its end has no verdict to give.
        status, message = _describe_failure(call, check, _limit(item, state))
        if check.status == "passed":
            check.status, check.message = status, message
        if call.excinfo is not None:
            # Let go of what the failure's frames hold (a coroutine never awaited, a
            # socket): it is collected in this check's teardown, not in the next check.
            traceback.clear_frames(call.excinfo.tb)
    elif call.when == "teardown" and check.status == "passed" and check.hygiene:
        check.status = "failed"
        check.message = explain.hygiene_failure(check.hygiene)
        report.outcome = "failed"
        report.longrepr = check.message
    # Each phase's report carries the output captured so far: keep the latest.
    check.output = (getattr(report, "capstdout", "") or "") + (getattr(report, "capstderr", "") or "")
    return report


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """After teardown, send the check's verdict to the parent."""
    state = _current_state
    if state is None or report.when != "teardown" or state.check is None:
        return
    check = state.check
    if check.status != "passed" and check.hygiene and check.message:
        note = explain.hygiene_note(check.hygiene, already=check.message)
        if note:
            check.message += "\n" + note
    if state.channel:
        state.channel.send(
            Result(
                id=check.nodeid,
                status=check.status,
                message=check.message,
                output=_crop(check.output, OUTPUT_CAP),
                duration=round(time.monotonic() - check.started, 4),
                import_error=check.import_error,
            )
        )
    check.finished = True
    state.check = None


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    state = _current_state
    if state and state.channel:
        state.channel.send(Done())


# --- fixtures ---------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _documented_writelines(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every check runs with ``transport.writelines`` as documented (a CPython bug is not
    the learner's mistake): see ``probes.documented_writelines``."""
    probes.documented_writelines(monkeypatch.setattr)


@pytest.fixture
def ex_path(request: pytest.FixtureRequest) -> Path:
    """The learner's file under test (in the sandbox's temporary target directory)."""
    state = request.config.stash[_STATE]
    return state.target / (_module_name(request) + ".py")


@pytest.fixture
def ex(request: pytest.FixtureRequest, ex_path: Path) -> types.ModuleType:
    """The learner's module, imported fresh for this check (module state never leaks)."""
    state = request.config.stash[_STATE]
    name = _module_name(request)
    if name in state.import_failures:
        if state.check:
            state.check.import_error = True
        probes.fail(state.import_failures[name])
    if request.node.get_closest_marker("split") is not None:
        return _import_in_worker(request, state, name, ex_path)  # type: ignore[no-any-return]
    try:
        return _import_fresh(name, ex_path)
    except BaseException as exc:
        hold = state.check.hold if state.check else None
        if isinstance(exc, monitor.LoopHeld) and hold is not None:
            message = f"Importing {ex_path.name} did not finish: {hold.message()}"
        else:
            message = explain.import_failure(exc, ex_path)
        state.import_failures[name] = message
        if state.check:
            state.check.import_error = True
        probes.fail(message)


@pytest.fixture
def no_blocking(ex: types.ModuleType, request: pytest.FixtureRequest) -> Iterator[list[probes.BlockingCall]]:
    """Detect blocking calls the learner's module makes on the loop; fail the check if any."""
    link = checker.current()
    if link is not None:
        # The worker watches its own calls: its account can only fail the check. The
        # kernel's count of the sleeps on the thread that runs the loop (an async check's
        # loop runs there throughout) is not the worker's to hide.
        link.ask_value("blocking", on=True)
        found: list[probes.BlockingCall] = []
        with probes.kernel_sleeps() as slept:
            yield found
        if not link.closed:
            reported = link.ask_value("blocking", on=False)
            found += [
                probes.BlockingCall(str(pair[0])[:200], str(pair[1])[:400])
                for pair in (reported if isinstance(reported, list) else [])[:20]
                if isinstance(pair, list) and len(pair) == 2
            ]
        if inspect.iscoroutinefunction(request.function):
            if slept.sleeps and not any("sleep" in call.func for call in found):
                found.append(probes.BlockingCall("time.sleep", explain.kernel_sleeps(slept.sleeps)))
            elif slept.stood_still:
                probes.fail(explain.loop_elsewhere())
    else:
        with probes.detect_blocking(ex) as found:
            yield found
    if found:
        probes.fail(explain.blocking_calls(found))


# --- private helpers --------------------------------------------------------------------


@dataclass
class _State:
    target: Path
    limit: float
    #: The learner's file must hold exactly these bytes whenever it is imported (sandbox only).
    learner_sha256: str | None = None
    channel: Writer | None = None
    check: CheckState | None = None
    policy: GraderLoopPolicy = field(default_factory=GraderLoopPolicy)
    import_failures: dict[str, str] = field(default_factory=dict)
    #: What the learner's code reads as standard input: a terminal where nobody types.
    stdin: monitor.IdleTerminal = field(default_factory=monitor.IdleTerminal)

    def __post_init__(self) -> None:
        global _current_state
        _current_state = self


_STATE = pytest.StashKey[_State]()
_current_state: _State | None = None


@contextlib.contextmanager
def _terminal_stdin(state: _State) -> Iterator[None]:
    saved = sys.stdin
    sys.stdin = state.stdin
    try:
        yield
    finally:
        sys.stdin = saved


def _held_message(check: CheckState) -> str:
    assert check.hold is not None
    if check.import_error and check.message:
        return check.message  # the import's own account (the `ex` fixture wrote it)
    return check.hold.message()


def _module_name(request: pytest.FixtureRequest) -> str:
    stem = Path(str(request.node.path)).stem
    return stem.removeprefix("test_")


def _import_fresh(name: str, path: Path) -> types.ModuleType:
    # Read once, checked, and run from these very bytes: what was scanned is what runs,
    # even if something rewrote the file after an earlier import.
    source = _checked_source(path)
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    target_dir = str(path.parent)
    if target_dir not in sys.path:
        sys.path.append(target_dir)  # appended, so it can never shadow the standard library
    sys.modules[name] = module  # pickling by reference (process pools) finds it here
    probes.TARGET_FILE = str(path)
    channel = _current_state.channel if _current_state else None
    if channel:
        channel.send(Importing())
    code = compile(source, str(path), "exec", dont_inherit=True)
    exec(code, module.__dict__)  # as the loader's exec_module would, from the checked bytes
    if channel:
        channel.send(Imported())
    return module


def _import_in_worker(request: pytest.FixtureRequest, state: _State, name: str, path: Path) -> Any:
    """A split check's ``ex``: the learner's module imported in a fresh worker process,
    from the bytes read (and checked) here; the worker is ended with the check."""
    source = _checked_source(path)
    probes.TARGET_FILE = str(path)
    check = state.check
    started = check.started if check else time.monotonic()
    if state.channel:
        state.channel.send(Importing())
    link = checker.spawn(started + _limit(request.node, state))
    # The worker's monitor found its loop held: the check fails with that account.
    link.on_held = lambda hold: watchdog.on_hold(state.check, hold, None)

    def end() -> None:
        broken = link.broken
        hygiene = link.end()
        if state.check is not None:
            state.check.hygiene += hygiene
        if broken is not None:
            # The worker broke the conversation (it died, stopped reading, flooded...): its
            # sockets closed with it, which a client of the check may have taken for an
            # end of file. No check passes on that.
            raise checker.WorkerGone(broken)

    request.addfinalizer(end)
    try:
        judge = request.node.get_closest_marker("loop_held_elsewhere") is None
        asynchronous = inspect.iscoroutinefunction(getattr(request.node, "obj", None))
        for marker in request.node.iter_markers("worker_setup"):
            link.here(str(marker.args[0]), *marker.args[1:])
        module = link.import_module(name, str(path), source, judge_holds=judge, session=asynchronous)
    except checker.WorkerGone as exc:
        module = f"Importing {path.name} did not finish: {exc}."
    if isinstance(module, str):
        state.import_failures[name] = module
        if state.check:
            state.check.import_error = True
        probes.fail(module)
    if state.channel:
        state.channel.send(Imported())
    return module


def _checked_source(path: Path) -> bytes:
    """The learner's file, as the parent scanned it (else the check fails)."""
    if not path.is_file():
        probes.fail(f"{path.name} is missing: create it (or `grade reset` to restore the stub).")
    source = path.read_bytes()
    expected = _current_state.learner_sha256 if _current_state else None
    if expected is not None and hashlib.sha256(source).hexdigest() != expected:
        probes.fail(
            f"{path.name} changed on disk while it was being graded (your code rewrote it): "
            "only the file you submitted is graded. Scored zero for this check."
        )
    return source


def _file_judges_closing(item: pytest.Item) -> bool:
    """Some check in ``item``'s file carries the ``closing`` mark."""
    session_items = getattr(item.session, "items", [])
    return any(other.path == item.path and other.get_closest_marker("closing") for other in session_items)


def _check_name(item: pytest.Item) -> str:
    doc = inspect.getdoc(getattr(item, "obj", None)) or ""
    first = doc.strip().splitlines()[0].strip() if doc.strip() else ""
    return first.rstrip(".") or item.name


def _weight(item: pytest.Item) -> float:
    marker = item.get_closest_marker("weight")
    return float(marker.args[0]) if marker and marker.args else 1.0


def _hint(item: pytest.Item) -> int | None:
    marker = item.get_closest_marker("hint")
    if marker and marker.args and type(marker.args[0]) is int and marker.args[0] >= 1:
        return int(marker.args[0])
    return None


def _limit(item: pytest.Item, state: _State) -> float:
    marker = item.get_closest_marker("limit")
    return float(marker.args[0]) if marker and marker.args else state.limit


def _describe_failure(call: pytest.CallInfo[None], check: CheckState, limit: float) -> tuple[str, str]:
    excinfo = call.excinfo
    if check.import_error and excinfo and isinstance(excinfo.value, pytest.fail.Exception):
        return "error", str(excinfo.value.msg)
    if check.expired is not None or (excinfo and watchdog.is_timeout(excinfo.value)):
        return "timeout", watchdog.timeout_message(check, limit, excinfo)
    if excinfo is None:
        return "failed", "the check failed"
    exc = excinfo.value
    if isinstance(exc, pytest.fail.Exception):
        return ("error" if check.import_error else "failed"), str(exc.msg)
    if isinstance(exc, pytest.skip.Exception):
        return "error", f"the check was skipped: {exc.msg}"
    if isinstance(exc, checker.WorkerGone):
        return "failed", f"The process running your code stopped answering the checks: {exc}."
    return "failed", explain.unexpected_exception(exc, excinfo.tb, probes.TARGET_FILE)


def _tee_warnings(check: CheckState, show: Callable[..., None]) -> Callable[..., None]:
    """A ``warnings.showwarning`` that keeps the warnings revealing async mistakes (never
    awaited, unclosed, ...) for ``check``, then passes every warning on to pytest."""

    def tee(message: Warning | str, category: type[Warning], filename: str, lineno: int,
            file: Any = None, line: str | None = None) -> None:  # fmt: skip
        text = str(message)
        if explain.is_hygiene_warning(category, text):
            check.hygiene.append(text)
        show(message, category, filename, lineno, file, line)

    return tee


def _collect_hygiene(check: CheckState) -> None:
    """After the check's loop closed: collect garbage so unawaited coroutines and unclosed
    transports warn now (inside this check), and read what the loops recorded."""
    gc.collect()
    for loop in LOOPS:
        for context in loop.problems:
            check.hygiene.append(explain.loop_problem(context))
        loop.problems.clear()


def _crop(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[: limit // 2] + f"\n... [{len(text) - limit} characters cut] ...\n" + text[-limit // 2 :]
