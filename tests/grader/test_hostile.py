"""Hostile submissions, run for real through the real grader (SECURITY.md, DESIGN.md section 3).

Every test writes a learner folder holding a hostile ``ex01_hello_run.py`` and an honest
``ex02_adder.py`` (plus, for some, files that must never reach the child), grades it with
``grade_target`` on the small test kit (``conftest.build_kit``: the real ex01 checks, 3 s
per check), and then the ``hostile`` fixture asserts what holds for every submission:

- the grader returned within its deadline (start-up, plus the per-check limit and the
  parent's hard margin for each check the submission kept from returning);
- the honest exercise (ex02) still got full marks;
- the learner's folder is byte for byte what it was;
- no process is left: nothing of this test's sandbox uids, nothing carrying this test's
  work folder or token in its environment or command line.

Each test then asserts that the checks the submission attacks score zero, and that its
honest parts still score. Hostile code is bounded: at most 600 forks, 5 daemons, a few
GB of address space (never touched), 100 MB per file, no traffic beyond loopback.

Run as root (CI, Gradescope), the default limits drop the child to a dedicated uid inside
mount, IPC and network namespaces; the "limits-only" mode runs the path a non-root grader
takes (``Limits(drop_uid=False, isolate=False)``). Root-only tests skip otherwise.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import grader
from grader import sandbox
from grader.grading import grade_target
from grader.manifest import Kit
from grader.results import CheckResult, CheckStatus, ExerciseResult, ExerciseStatus, RunResult
from grader.sandbox import HARD_MARGIN_S, LINGER_S, UID_BASE, UID_BLOCK, Limits, uid_block, warm

pytestmark = pytest.mark.slow

ROOT = os.getuid() == 0
needs_root = pytest.mark.skipif(not ROOT, reason="needs root: uid drop and namespaces")

#: Seconds per check in the test kit: a submission that never returns costs this + the margin.
TIMEOUT = 3
#: Generous wall-clock allowance per grading for interpreter start-ups and the honest checks.
#: CI runs three Pythons' suites side by side on two cores (nine busy workers): a grading
#: that takes 5 s alone may take ten times that there. The bound catches a grading held
#: for good (what these tests defend against), not a slow one.
START_S = 60.0
#: Per check kept from returning: its limit and the parent's hard margin, plus a re-spawn.
RESPAWN_S = 4.0
#: The parent's margin past a check's limit in these tests (the default is HARD_MARGIN_S).
TEST_MARGIN_S = 1.5

MODES = {
    "sandbox": Limits(),
    "limits-only": Limits(drop_uid=False, isolate=False),
}

# The five ex01 checks and their weights (points = 10 = total weight, so score = weight).
COROUTINE = "test_greet_is_a_coroutine_function"  # 1
GREETING = "test_greet_returns_greeting_after_delay"  # 2
NO_BLOCKING = "test_greet_does_not_block_the_loop"  # 2
CONCURRENT = "test_main_greets_concurrently"  # 3
ORDER = "test_main_keeps_input_order"  # 2
GREET_CHECKS = {GREETING, NO_BLOCKING}
MAIN_CHECKS = {CONCURRENT, ORDER}

# --- submissions, assembled from parts ----------------------------------------------------

HEADER = """\
\"\"\"A hostile ex01 submission.\"\"\"
import asyncio
import os
import sys
import time
"""

HONEST_GREET = """
async def greet(name, delay):
    await asyncio.sleep(delay)
    return f"Hello, {name}!"
"""

HONEST_MAIN = """
def main(names, delay=0.1):
    async def greet_all():
        return list(await asyncio.gather(*(greet(n, delay) for n in names)))

    return asyncio.run(greet_all())
"""

#: Right-looking but never runs greet: both main checks fail.
WRONG_MAIN = """
def main(names, delay=0.1):
    return [f"Hello, {n}!" for n in names]
"""

#: Forever, at module level: nothing inside the child can stop it (only the parent can).
#: What defeats the in-process timeouts is the disarming, ignoring or swallowing, not the
#: spinning: these wait in short sleeps (a Python-level loop, interruptible between calls
#: exactly like ``while True: pass``) so that they do not burn a core until the deadline;
#: the last two spin inside C, where no signal handler runs at all.
HANGS = {
    "signal.alarm(0)": """
import signal
signal.alarm(0)
while True:
    time.sleep(0.05)
""",
    "setitimer(ITIMER_REAL, 0)": """
import signal
signal.setitimer(signal.ITIMER_REAL, 0)
while True:
    time.sleep(0.05)
""",
    "SIGALRM ignored": """
import signal
signal.signal(signal.SIGALRM, signal.SIG_IGN)
while True:
    time.sleep(0.05)
""",
    "except BaseException": """
while True:
    try:
        while True:
            time.sleep(0.05)
    except BaseException:
        pass
""",
    "os._exit replaced": """
os._exit = lambda code: None
sys.exit = lambda code=0: None
while True:
    try:
        while True:
            time.sleep(0.05)
    except BaseException:
        pass
""",
    "a long C call": """
sum(range(10**11))
""",
    "regex backtracking": """
import re
re.match(r"(a+)+$", "a" * 40 + "b")
""",
}

#: Processes and threads that try to outlive grading (each import starts one more).
SURVIVORS = {
    "setsid double fork": """
pid = os.fork()
if pid == 0:
    try:
        os.setsid()
        if os.fork() == 0:
            time.sleep(600)
    finally:
        os._exit(0)
os.waitpid(pid, 0)
""",
    "setsid double fork, exec with an empty environment": """
pid = os.fork()
if pid == 0:
    try:
        os.setsid()
        if os.fork() == 0:
            os.execve(sys.executable, [sys.executable, "-c", "import time; time.sleep(600)", "@TOKEN@"], {})
    finally:
        os._exit(0)
os.waitpid(pid, 0)
""",
    "grandchild holding stdout and the result pipe": """
if os.fork() == 0:
    try:
        time.sleep(600)
    finally:
        os._exit(0)
""",
}

#: A process that keeps changing its pid (fork, the parent exits, again), in a session of
#: its own: what lists /proc and then kills what it listed is always one pid behind.
PID_HOPPER = """
if os.fork() == 0:
    os.setsid()
    while True:
        if os.fork() != 0:
            os._exit(0)
        time.sleep(0.002)
"""

#: At import, every signal a process may send, sent to its PID namespace's init: the same
#: uid in a user namespace, where only the kernel's rule for an init protects it.
INIT_KILLER = """
import signal as _signal
for _sig in (_signal.SIGKILL, _signal.SIGTERM, _signal.SIGINT, _signal.SIGHUP, _signal.SIGSTOP):
    try:
        os.kill(1, _sig)
    except OSError as exc:
        print("KILL INIT " + type(exc).__name__)
    else:
        print("KILL INIT sent")
"""

#: At import, try to write over this very file (the copy the grader scanned).
SECOND_STAGE_PROBE = """
try:
    with open(__file__, "a") as fh:
        fh.write("# second stage")
except OSError as exc:
    print("REWRITE " + type(exc).__name__)
else:
    print("REWRITE done")
"""

#: At import, end a process of the grading user's outside the sandbox (its pid filled in).
SIGNAL_OUTSIDE = """
import signal as _signal
try:
    os.kill(@OUTSIDER@, _signal.SIGKILL)
except OSError as exc:
    print("SIGNAL " + type(exc).__name__)
else:
    print("SIGNAL sent")
"""

#: PID_HOPPER where leaving the process group may be refused: it hops on inside the group.
GROUP_HOPPER = """
if os.fork() == 0:
    try:
        os.setsid()
    except OSError as exc:
        print("SETSID " + type(exc).__name__, flush=True)
    while True:
        if os.fork() != 0:
            os._exit(0)
        time.sleep(0.002)
"""

#: At import (in a split run's worker), stop and then kill the checker: the worker's
#: grandparent (its parent is the zygote), of the same uid.
STOP_THE_CHECKER = """
import signal as _signal

def _parent_of(pid):
    with open(f"/proc/{pid}/stat") as fh:
        return int(fh.read().rsplit(")", 1)[1].split()[1])

_checker = _parent_of(os.getppid())
with open(f"/proc/{_checker}/cmdline", "rb") as _fh:
    _command = _fh.read()
print("CHECKER is", _checker, _command[:80], flush=True)
# (Only a process of the sandbox: the test must never signal the test runner.)
for _sig in (_signal.SIGSTOP, _signal.SIGKILL) if b"grader.sandbox" in _command else ():
    try:
        os.kill(_checker, _sig)
    except OSError as exc:
        print("CHECKER " + type(exc).__name__)
    else:
        print("CHECKER signalled")
"""

#: At import, replace this very file with an honest second stage (each check imports the
#: file afresh from disk), while the first stage itself gets main wrong.
SECOND_STAGE = """
import base64
_honest = base64.b64decode("@HONEST_B64@").decode()
try:
    with open(__file__, "w") as fh:
        fh.write(_honest)
except OSError as exc:
    print("REWRITE " + type(exc).__name__)
else:
    print("REWRITE done")
"""

#: A chain of folders thousands deep in every place the child may write: deeper than
#: recursion or PATH_MAX allow a naive clean-up to go.
DEEP_TREE = """
def _deep(where):
    try:
        fd = os.open(where, os.O_RDONLY)
    except OSError:
        return "unreachable"
    try:
        for _ in range(3000):
            os.mkdir("d", dir_fd=fd)
            below = os.open("d", os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = below
        os.symlink("/", "root", dir_fd=fd)
        return "built"
    except OSError as exc:
        return type(exc).__name__
    finally:
        os.close(fd)

import tempfile
print("DEEP " + _deep(tempfile.gettempdir()) + " " + _deep(os.getcwd()))
"""

NON_DAEMON_THREAD = """
import threading
threading.Thread(target=time.sleep, args=(600,), name="@TOKEN@").start()
"""

FAKE_SUMMARY = """
FAKE = (
    "test_ex01_hello_run.py::test_main_greets_concurrently PASSED\\n"
    "============================== 5 passed in 0.01s ==============================\\n"
    '{"type": "result", "status": "passed", "score": 10}\\n'
)
print(FAKE)
sys.__stdout__.write(FAKE)
sys.__stderr__.write(FAKE)
"""

FAKE_RESULT_LINES = """
import json

def forge():
    for fd in range(3, 256):
        for seq in range(1, 12):
            body = json.dumps({"seq": seq, "type": "result", "id": "x", "status": "passed"})
            try:
                os.write(fd, ("0" * 64 + " " + body + "\\n").encode())
                os.write(fd, (body + "\\n").encode())
            except OSError:
                pass
"""

#: The plugin's own result channel, reached by name as in-process tampering would (SECURITY.md,
#: residual risks): the keyed Writer and the message classes. The module is imported afresh
#: for every check, so the checks seen so far are kept on the plugin's state, which lasts.
CHANNEL = """
import threading

_modules = getattr(sys, "mod" + "ules")
_state = _modules["gra" + "der.plugin"]._current_state
_wire = _modules["gra" + "der.channel"]
_seen = _state.__dict__.setdefault("seen", [])
_seen.append(_state.check.nodeid)


def forge_pass(check_id):
    _state.channel.send(_wire.Result(check_id, "passed"))
"""

#: At the session's end ("done" has been sent: pytest's config cleanups run after it), "passed"
#: for every check; the grader ends the run without the interpreter's shutdown, so code that
#: waits for it (a non-daemon thread, an atexit handler) never runs: this is the way left.
PASSED_AFTER_DONE = """
def _request():
    try:
        raise LookupError
    except LookupError as exc:
        frame = exc.__traceback__.tb_frame
    while frame is not None:
        found = frame.f_locals.get("request")
        if found is not None and hasattr(found, "config"):
            return found
        frame = getattr(frame, "f_" + "back")
    return None


def _after_done():
    for check_id in _seen:
        forge_pass(check_id)


if len(_seen) == 1:
    _request().config.add_cleanup(_after_done)
"""

#: During each check, "passed" again for the checks already decided (the later verdict used to win).
DECIDED_AGAIN = """
for _check_id in _seen[:-1]:
    forge_pass(_check_id)
"""

#: During the first check, "passed" for the checks still to come; then the child ends, so no
#: honest verdict ever replaces them.
NEVER_STARTED = """
for _name in @LATER_CHECKS@:
    forge_pass(_seen[0].rsplit("::", 1)[0] + "::" + _name)
os._exit(0)
"""

FAKE_RESULT_FILES = """
import json

FAKE = json.dumps({"ex01": {"score": 10, "max_score": 10, "status": "passed"}, "tests": [{"status": "passed"}]})
# /tmp/@TOKEN@: a folder of the shared /tmp (on the limits-only path), easy to clean up.
FOLDERS = (os.getcwd(), os.environ.get("HOME", "."), os.environ.get("TMPDIR", "."), "/tmp/@TOKEN@", @EXTRA_FOLDERS@)
for folder in FOLDERS:
    for name in ("results.json", ".awaitlings/state.json", "junit.xml", "report.json"):
        path = os.path.join(folder, name)
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as fh:
                fh.write(FAKE)
        except OSError:
            pass
"""

#: Files submitted next to the exercise: each would rig or break the run if it reached the child.
PLANTED = {
    "conftest.py": """
import pytest

@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    report.outcome = "passed"
    return report
""",
    "pytest.ini": "[pytest]\naddopts = -p no:grader.plugin -p no:pytest_timeout\n",
    "setup.cfg": "[tool:pytest]\naddopts = -p no:grader.plugin\n",
    "tox.ini": "[pytest]\naddopts = -p no:grader.plugin\n",
    "sitecustomize.py": "import os\nos._exit(0)\n",
    "usercustomize.py": "import os\nos._exit(0)\n",
    "rig.pth": "import os; os._exit(0)\n",
    "asyncio.py": "raise SystemExit('the planted asyncio.py was imported')\n",
    "json.py": "raise SystemExit('the planted json.py was imported')\n",
    "pytest_timeout.py": "raise SystemExit('the planted pytest_timeout.py was imported')\n",
    "test_ex01_hello_run.py": "def test_always_passes():\n    pass\n",
}

#: Says where the child's standard modules come from and what it sees next to itself.
SEEN = """
import json
print("SEEN " + json.dumps({
    "asyncio": asyncio.__file__,
    "json": json.__file__,
    "beside": sorted(os.listdir(os.path.dirname(os.path.abspath(__file__)))),
    "cwd": sorted(os.listdir(".")),
    "conftest": [m for m in sys.modules if "conftest" in m],
}))
"""

LIMIT_PROBES = {
    "memory": (
        """
async def greet(name, delay):
    try:
        hog = bytes(6 * 1024**3)
    except MemoryError:
        print("LIMIT 6 GB refused with MemoryError")
    hogs = []
    try:
        for _ in range(60):  # 100 MB at a time, up to 6 GB of address space (never touched)
            hogs.append(bytes(100 * 1024**2))
    except MemoryError:
        print(f"LIMIT refused after {len(hogs) * 100} MB")
    del hogs
    raise MemoryError("probe done")
""",
        r"LIMIT 6 GB refused with MemoryError",
    ),
    "file size": (
        """
async def greet(name, delay):
    path = os.path.join(os.environ["TMPDIR"], "big.bin")
    written = 0
    chunk = b"x" * 1024**2
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    try:
        while written < 100 * 1024**2:
            written += os.write(fd, chunk)
            await asyncio.sleep(0)  # let the loop run: the probe is about the limit, not a spin
        print("LIMIT wrote all 100 MB")
    except OSError as exc:
        print(f"LIMIT refused after {written // 1024**2} MB with errno {exc.errno}")
    finally:
        os.close(fd)
        os.unlink(path)
    raise RuntimeError("probe done")
""",
        r"LIMIT refused after 64 MB with errno 27",  # EFBIG at the 64 MiB limit
    ),
    "open files": (
        """
async def greet(name, delay):
    fds = []
    try:
        for _ in range(5000):
            fds.append(os.open(os.devnull, os.O_RDONLY))
        print("LIMIT opened all 5000")
    except OSError as exc:
        print(f"LIMIT refused after {len(fds)} with errno {exc.errno}")
    finally:
        for fd in fds:
            os.close(fd)
    raise RuntimeError("probe done")
""",
        r"LIMIT refused after 10\d\d with errno 24",  # EMFILE below 1024
    ),
    "core dumps": (
        """
import resource

async def greet(name, delay):
    print(f"LIMIT core {resource.getrlimit(resource.RLIMIT_CORE)}")
    try:
        resource.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
        print("LIMIT core raised")
    except (ValueError, OSError):
        print("LIMIT core raise refused")
    raise RuntimeError("probe done")
""",
        r"LIMIT core \(0, 0\)\s+LIMIT core raise refused",
    ),
}

#: Honest, and uses threads: 12 ``to_thread`` calls and a 16-thread pool, under the limits.
THREADED_MAIN = """
from concurrent.futures import ThreadPoolExecutor

def main(names, delay=0.1):
    async def greet_all():
        naps = await asyncio.gather(*(asyncio.to_thread(time.sleep, 0.05) for _ in range(12)))
        assert naps == [None] * 12
        with ThreadPoolExecutor(max_workers=16) as pool:
            loop = asyncio.get_running_loop()
            sums = await asyncio.gather(*(loop.run_in_executor(pool, sum, range(100_000)) for _ in range(16)))
        assert len(set(sums)) == 1
        return list(await asyncio.gather(*(greet(n, delay) for n in names)))

    return asyncio.run(greet_all())
"""

FORK_BOMB = """
async def greet(name, delay):
    pids = []
    try:
        for _ in range(@FORKS@):
            pid = os.fork()
            if pid == 0:
                try:
                    time.sleep(60)
                finally:
                    os._exit(0)
            pids.append(pid)
        print(f"LIMIT forked all {len(pids)}")
    except OSError as exc:
        print(f"LIMIT refused after {len(pids)} with errno {exc.errno}")
    raise RuntimeError("probe done")  # the sleepers stay: the checks after this one run beside them
"""

OUTPUT_FLOOD = """
import stat

async def greet(name, delay):
    line = "spam " * 200_000 + "\\n"  # 1 MB
    for _ in range(50):
        print(line, end="")
    result_fd = int(sys.argv[sys.argv.index("--awaitlings-fd") + 1])
    block = b"flood " * 170_000
    for fd in range(3, 256):
        if fd == result_fd:
            continue  # flooding the result pipe is tampering, tested elsewhere
        try:
            if stat.S_ISFIFO(os.fstat(fd).st_mode):  # the grader's stdout pipe, saved by pytest
                for _ in range(50):
                    os.write(fd, block)
        except OSError:
            pass
    raise RuntimeError("flood done")
"""

#: What a root sandbox must deny; printed as one JSON line (@...@ filled in per test).
ROOT_PROBE = """
import json
import socket

def attempt(action, limit=80):
    try:
        return ["allowed", str(action())[:limit]]
    except BaseException as exc:
        return ["denied", type(exc).__name__]

def write(path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as fh:
        fh.write("planted")
    return path

def append(path):
    with open(path, "a") as fh:
        fh.write("")
    return path

def read(path):
    with open(path, "rb") as fh:
        return fh.read(40)

def read_text(path):
    with open(path, encoding="ascii") as fh:
        return fh.read()

def sysv_queue():
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    queue = libc.msgget(@IPC_KEY@, 0o1666)  # IPC_CREAT, readable and writable by anyone
    if queue < 0:
        raise OSError(ctypes.get_errno(), "msgget")
    return queue

print("PROBE " + json.dumps({
    "uid": os.getuid(),
    "euid": os.geteuid(),
    "interfaces": [name for _, name in socket.if_nameindex()],
    "read solution": attempt(lambda: read("@KIT@/solutions/ex01_hello_run.py")),
    "read source tree solution": attempt(lambda: read("@SOURCE@/solutions/ex01_hello_run.py")),
    "list solutions": attempt(lambda: os.listdir("@KIT@/solutions")),
    "list grader fds": attempt(lambda: os.listdir("/proc/@GRADER_PID@/fd")),
    "read grader environ": attempt(lambda: read("/proc/@GRADER_PID@/environ")),
    "follow grader fd": attempt(lambda: os.readlink("/proc/@GRADER_PID@/fd/0")),
    "write work folder": attempt(lambda: write(os.path.join(os.path.dirname(os.getcwd()), "planted.txt"))),
    "rewrite checks": attempt(lambda: append(os.path.join(os.path.dirname(os.getcwd()), "test_ex01_hello_run.py"))),
    "read learner folder": attempt(lambda: os.listdir("@TARGET@")),
    "read other checkout": attempt(lambda: read("@OTHER_CHECKOUT@/solutions/ex01_hello_run.py")),
    "root entries": attempt(lambda: json.dumps(sorted(os.listdir("/"))), None),
    "writes": [attempt(lambda path=path: write(path)) for path in @WRITES@],
    "sysv queue": attempt(sysv_queue),
    "pid": os.getpid(),
    "visible pids": sorted(int(name) for name in os.listdir("/proc") if name.isdigit())[:8],
    "visible pid count": sum(name.isdigit() for name in os.listdir("/proc")),
    "capabilities": int(read_text("/proc/self/status").split("CapEff:")[1].split()[0], 16),
    "uid map": read_text("/proc/self/uid_map").split(),
}))
"""

RIGGED = """
class Liar(str):
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    __hash__ = str.__hash__


class Anything:
    __class__ = property(lambda self: list)  # fools isinstance, not type()

    def __eq__(self, other):
        return True

    def __iter__(self):
        return iter(["Hello, Ada!", "Hello, Grace!", "Hello, Guido!"])

    def __len__(self):
        return 3


async def greet(name, delay):
    await asyncio.sleep(delay)
    return Liar(f"Hello, {name}!")


def main(names, delay=0.1):
    asyncio.run(asyncio.sleep(0))
    return Anything()
"""

ENVIRON_DUMP = """
print("ENVIRON " + repr(dict(os.environ)))
"""

FORBIDDEN = {
    "import grader": "import grader.plugin\ngrader.plugin._describe_failure = lambda *a: ('passed', None)\n",
    "from grader import": "from grader import plugin\n",
    "import _pytest": "import _pytest.runner\n",
    "import pytest": "import pytest\n",
    "from pytest_timeout import": "from pytest_timeout import timeout_sigalrm\n",
}

#: Two lines, nothing the static scan knows: patch the plugin so every failure reads "passed".
TAMPER = """
_plugin = getattr(sys, "mod" + "ules")["gra" + "der.plugin"]
_plugin._describe_failure = lambda *args: ("passed", None)
"""

WRONG_GREET = """
async def greet(name, delay):
    return 42
"""

SUSPICIOUS = """
import ctypes
import gc
from sys import _getframe as peek
import sys as system

FRAME = sys._getframe(0)
OTHER = system._getframe(0)
SAME = peek(0)
OBJECTS = len(gc.get_objects())
LIBC = ctypes.CDLL(None)
"""


def submission(*parts: str) -> str:
    """An ex01 file made of ``HEADER`` and ``parts``, in order."""
    return HEADER + "\n".join(textwrap.dedent(part) for part in parts)


# --- the harness ------------------------------------------------------------------------


@dataclass(frozen=True)
class Graded:
    """One grading of a hostile folder, and how long it took."""

    run: RunResult
    elapsed: float

    @property
    def ex01(self) -> ExerciseResult:
        return self.run.exercises[0]

    @property
    def checks(self) -> dict[str, CheckResult]:
        return {check.id.rsplit("::", 1)[-1]: check for check in self.ex01.checks}

    @property
    def passed(self) -> set[str]:
        return {name for name, check in self.checks.items() if check.passed}

    @property
    def output(self) -> str:
        return "\n".join(check.output for check in self.ex01.checks)

    @property
    def messages(self) -> str:
        return "\n".join(filter(None, [self.ex01.message, *(c.message or "" for c in self.ex01.checks)]))

    def line(self, prefix: str) -> str:
        """The first line of check output starting with ``prefix`` (without it)."""
        for line in self.output.splitlines():
            if line.startswith(prefix):
                return line.removeprefix(prefix)
        raise AssertionError(f"no {prefix!r} line in the check output:\n{self.output[:3000]}")

    def score_of(self, names: set[str]) -> float:
        return round(sum(c.score for name, c in self.checks.items() if name in names), 4)


Grade = Callable[..., Graded]


@pytest.fixture(params=list(MODES), ids=list(MODES))
def mode(request: pytest.FixtureRequest) -> Limits:
    """Both the root sandbox and the limits-only path a non-root grader takes."""
    return MODES[request.param]


@pytest.fixture
def token() -> str:
    """Unique to this test: hostile processes carry it, so the sweep below finds them."""
    return f"awaitlings-hostile-{secrets.token_hex(6)}"


@pytest.fixture
def hostile(make_kit: Callable[..., Kit], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, token: str) -> Grade:
    """``hostile(source, ...)``: grade a learner folder holding ``source`` as ex01 (once per
    test) and assert the invariants of every run (the module docstring).

    ``stuck``: checks the submission keeps from returning (each may cost its limit plus the
    parent's margin); ``linger``: the child cannot exit after its last verdict; ``planted``:
    more files for the learner folder; ``limits``: the sandbox mode; ``timeout``: seconds
    per check in the kit; ``fill``: more ``@NAME@`` substitutions for ``source``; ``split``:
    ex01's checks run split (the learner's code in a worker process, grader.split).
    """
    work = tmp_path / "work"
    work.mkdir()
    # The sandboxes' work folders (and so their children's environment and command line)
    # name this test's folder: the leftover scan can tell them from other graders' on this machine.
    monkeypatch.setattr(tempfile, "tempdir", str(work))
    # Many of these submissions spin a core until the parent kills them: a shorter margin
    # past each check's limit halves what they burn (the defence is the same; the default
    # margin is what test_sandbox uses).
    monkeypatch.setattr(sandbox.config, "HARD_MARGIN_S", TEST_MARGIN_S)
    target = tmp_path / "learner"

    def grade(
        source: str,
        *,
        stuck: int = 0,
        timeout: float = TIMEOUT,
        linger: bool = False,
        planted: dict[str, str] | None = None,
        limits: Limits | None = None,
        fill: dict[str, str] | None = None,
        split: bool = False,
    ) -> Graded:
        kit = make_kit(timeout=timeout, split=split)
        target.mkdir()
        values = {"@TOKEN@": token, "@KIT@": str(kit.root), "@TARGET@": str(target), **(fill or {})}
        for key, value in values.items():
            source = source.replace(key, value)
        (target / "ex01_hello_run.py").write_text(source, encoding="utf-8")
        (target / "ex02_adder.py").write_text("def add(a, b):\n    return a + b\n", encoding="utf-8")
        for name, text in (planted or {}).items():
            (target / name).write_text(text, encoding="utf-8")
        before = _fingerprint(target)
        started = time.monotonic()
        run = grade_target(kit, kit.exercises, target, limits=limits or Limits())
        elapsed = time.monotonic() - started
        graded = Graded(run, elapsed)

        bound = START_S + stuck * (timeout + HARD_MARGIN_S + RESPAWN_S) + (LINGER_S if linger else 0.0)
        assert elapsed < bound, f"grading took {elapsed:.1f}s, more than its {bound:.0f}s bound"
        ex02 = run.exercises[1]
        assert ex02.full_marks and ex02.score == ex02.max_score == 4, f"the honest ex02 suffered: {ex02}"
        assert _fingerprint(target) == before, "the learner's folder was changed"
        left = _leftovers((str(tmp_path), token))
        assert not left, "processes outlived grading:\n" + "\n".join(left)
        assert not list(work.iterdir()), f"work folders left behind: {sorted(p.name for p in work.iterdir())}"
        return graded

    return grade


def _fingerprint(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (names, modes, contents): what must not change."""
    return {
        str(path.relative_to(folder)): f"{path.stat().st_mode:o}:{hashlib.sha256(path.read_bytes()).hexdigest()}"
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def _leftovers(marks: tuple[str, ...]) -> list[str]:
    """Processes that belong to this test's gradings and still exist (zombies included).

    Ours: a process of the uid block this grader claimed, or one whose environment or
    command line names this test's folder or token. Sandbox processes of *other* graders
    running on the machine (the same environment mark, other uid blocks, work folders
    elsewhere) are not ours.
    """
    block = uid_block() or range(0)
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == os.getpid():
            continue
        proc = Path("/proc", name)
        try:
            status = (proc / "status").read_text(errors="replace")
            cmdline = (proc / "cmdline").read_bytes()
            try:
                environ = (proc / "environ").read_bytes()
            except PermissionError:
                environ = b""
        except OSError:
            continue  # gone meanwhile
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        uid = int(fields.get("Uid", "-1").split()[0])
        sandboxed = b"AWAITLINGS_SANDBOX=" in environ or UID_BASE <= uid < UID_BASE + 1000 * UID_BLOCK
        # A run forked by this grader's warm child shows the warm child's command line and
        # environment (until its uid drops): it is ours by its parent.
        forked = fields.get("PPid", "").strip() == str(warm.pid())
        named = any(m.encode() in environ + cmdline for m in marks) or forked
        elsewhere = b"--awaitlings-target" in cmdline and not named  # another grader's child
        mine = (uid in block and not elsewhere) or named
        if mine and (sandboxed or forked or any(m.encode() in cmdline for m in marks)):
            state = fields.get("State", "?").strip()
            command = cmdline.replace(b"\0", b" ")[:200]
            found.append(f"pid {name} uid {uid} {state}: {command!r}")
    return found


# --- the tests ----------------------------------------------------------------------------


class TestScoresNeverComeFromExitCodeOrOutput:
    """Ending the process or printing success never earns a point."""

    @pytest.mark.parametrize("call", ["os._exit(0)", "sys.exit(0)"])
    def test_exit_at_import_zeroes_the_exercise(self, hostile: Grade, mode: Limits, call: str) -> None:
        """Exiting with status 0 while being imported scores zero, with a reason."""
        graded = hostile(submission(call, HONEST_GREET, HONEST_MAIN), limits=mode)
        assert graded.ex01.score == 0 and graded.passed == set()
        assert graded.ex01.status is ExerciseStatus.ERROR
        assert "exit" in (graded.ex01.message or "")

    @pytest.mark.parametrize("call", ["os._exit(0)", "sys.exit(0)"])
    def test_exit_mid_check_zeroes_only_that_check(self, hostile: Grade, mode: Limits, call: str) -> None:
        """Exiting inside main fails main's checks; greet's honest checks still score."""
        main = f"\ndef main(names, delay=0.1):\n    print('5 passed')\n    {call}\n"
        graded = hostile(submission(HONEST_GREET, main), limits=mode)
        assert graded.passed == {COROUTINE, *GREET_CHECKS}
        assert graded.ex01.score == 5
        assert all(graded.checks[name].status is not CheckStatus.PASSED for name in MAIN_CHECKS)

    @pytest.mark.parametrize("where", ["import", "mid-check"])
    def test_a_skip_raised_by_the_learner_never_passes(self, hostile: Grade, where: str) -> None:
        """``unittest.SkipTest`` (which pytest takes for a skip) raised while the module is
        imported for a check (in its set-up) or inside main: those checks do not pass."""
        skip = "import unittest\nraise unittest.SkipTest('nothing to see')\n"
        if where == "import":
            graded = hostile(submission(skip, HONEST_GREET, HONEST_MAIN))
            assert graded.passed == set() and graded.ex01.score == 0, graded.messages
        else:
            main = "\ndef main(names, delay=0.1):\n    import unittest\n    raise unittest.SkipTest('later')\n"
            graded = hostile(submission(HONEST_GREET, main))
            assert graded.passed == {COROUTINE, *GREET_CHECKS}, graded.messages

    def test_fake_pytest_summaries_on_stdout_and_stderr(self, hostile: Grade) -> None:
        """Printing "5 passed" (at import and in main) changes nothing."""
        main = WRONG_MAIN.replace("    return", "    print(FAKE)\n    sys.__stdout__.write(FAKE)\n    return")
        graded = hostile(submission(FAKE_SUMMARY, HONEST_GREET, main))
        assert graded.passed == {COROUTINE, *GREET_CHECKS}
        assert graded.ex01.score == 5

    @pytest.mark.parametrize("where", ["import", "mid-check"])
    def test_fake_result_lines_on_every_fd_zero_the_exercise(self, hostile: Grade, mode: Limits, where: str) -> None:
        """Unauthenticated result lines written to fds 3..255 mark the run as tampered."""
        if where == "import":
            source = submission(FAKE_RESULT_LINES, "forge()", HONEST_GREET, HONEST_MAIN)
        else:
            source = submission(
                FAKE_RESULT_LINES, HONEST_GREET, WRONG_MAIN.replace("    return", "    forge()\n    return")
            )
        graded = hostile(source, limits=mode)
        assert graded.ex01.score == 0
        assert graded.ex01.status is ExerciseStatus.ERROR
        assert "interfered" in (graded.ex01.message or "")

    def test_fake_results_files_are_never_read(self, hostile: Grade, mode: Limits, token: str) -> None:
        """Results files written to cwd, HOME, TMPDIR, /tmp and beside the file score nothing."""
        # The learner's own folder is writable on the limits-only path (the learner's own
        # files, their own user): there it is left out so the folder fingerprint still holds.
        extra = '"@TARGET@", os.path.dirname(os.path.abspath(__file__))' if mode.isolate and ROOT else '"."'
        source = submission(FAKE_RESULT_FILES.replace("@EXTRA_FOLDERS@", extra), HONEST_GREET, WRONG_MAIN)
        shared = Path("/tmp", token)
        try:
            graded = hostile(source, limits=mode)
            if ROOT and mode.isolate:
                assert not shared.exists(), "the child wrote to the real /tmp"
        finally:
            shutil.rmtree(shared, ignore_errors=True)  # written there on the limits-only path
        assert graded.passed == {COROUTINE, *GREET_CHECKS}
        assert graded.ex01.score == 5


class TestTheResultChannelHoldsAWellFormedConversation:
    """Verdicts forged with the plugin's own keyed channel, out of turn, zero the exercise."""

    def test_passed_results_after_done_zero_the_exercise(self, hostile: Grade, mode: Limits) -> None:
        """A thread that outlives the session and sends "passed" for every check scores zero."""
        graded = hostile(submission(CHANNEL, PASSED_AFTER_DONE, WRONG_GREET, WRONG_MAIN), limits=mode)
        self.assert_tampered(graded)

    def test_a_second_result_for_a_decided_check_zeroes_the_exercise(self, hostile: Grade, mode: Limits) -> None:
        """A "passed" sent for the checks already decided, while the next one runs, scores zero."""
        graded = hostile(submission(CHANNEL, DECIDED_AGAIN, WRONG_GREET, WRONG_MAIN), limits=mode)
        self.assert_tampered(graded)

    def test_a_result_for_a_check_that_never_started_zeroes_the_exercise(self, hostile: Grade, mode: Limits) -> None:
        """A "passed" sent for the checks still to come, before the child ends, scores zero."""
        later = repr([GREETING, NO_BLOCKING, CONCURRENT, ORDER])
        graded = hostile(
            submission(CHANNEL, NEVER_STARTED, WRONG_GREET, WRONG_MAIN), fill={"@LATER_CHECKS@": later}, limits=mode
        )
        self.assert_tampered(graded)

    @staticmethod
    def assert_tampered(graded: Graded) -> None:
        assert graded.ex01.score == 0 and graded.passed == set()
        assert graded.ex01.status is ExerciseStatus.ERROR
        message = graded.ex01.message or ""
        assert "result channel" in message and "interfered" in message, message


class TestSubmittedFilesNeverReachTheChild:
    """Only the exercise file is copied: planted configuration and modules are inert."""

    def test_planted_files_are_ignored(self, hostile: Grade, mode: Limits) -> None:
        """conftest.py, pytest.ini, sitecustomize.py, .pth, asyncio.py, json.py... do nothing."""
        graded = hostile(submission(SEEN, HONEST_GREET, WRONG_MAIN), planted=PLANTED, limits=mode)
        # The real checks ran: greet's honest checks pass, main's wrong answer fails.
        assert graded.passed == {COROUTINE, *GREET_CHECKS}
        assert graded.ex01.score == 5
        seen = json.loads(graded.line("SEEN "))
        assert seen["beside"] == ["ex01_hello_run.py"] == seen["cwd"]
        assert seen["conftest"] == []
        stdlib = sysconfig.get_paths()["stdlib"]
        assert seen["asyncio"].startswith(stdlib) and seen["json"].startswith(stdlib)


class TestTheParentDeadlineWins:
    """In-process timeouts can be defeated; the parent's wall-clock deadline cannot."""

    @pytest.mark.parametrize("hang", list(HANGS), ids=list(HANGS))
    def test_hang_at_import(self, hostile: Grade, hang: str) -> None:
        """A module that never finishes importing is stopped; the exercise scores zero."""
        graded = hostile(submission(HANGS[hang], HONEST_GREET, HONEST_MAIN), stuck=1)
        assert graded.ex01.score == 0 and graded.passed == set()
        # The parent's kill, or (3.12+ checks for signals inside the regex engine) the
        # in-process timeout: either way a message that says the import did not finish.
        assert "Stopped by the grader" in graded.messages or "did not finish" in graded.messages

    @pytest.mark.parametrize("hang", ["except BaseException", "a long C call"])
    def test_hang_at_import_on_the_limits_only_path(self, hostile: Grade, hang: str) -> None:
        """The same, when the grader cannot drop to a sandbox uid (the tree is killed)."""
        graded = hostile(submission(HANGS[hang], HONEST_GREET, HONEST_MAIN), stuck=1, limits=MODES["limits-only"])
        assert graded.ex01.score == 0 and graded.passed == set()

    def test_hang_mid_check_costs_only_those_checks(self, hostile: Grade, mode: Limits) -> None:
        """A greet that disarms every timer and swallows every exception fails greet's checks
        by timeout; the checks after it run in a fresh child and main's honest checks score."""
        greet = """
import signal

async def greet(name, delay):
    signal.signal(signal.SIGALRM, signal.SIG_IGN)
    signal.setitimer(signal.ITIMER_REAL, 0)
    os._exit = lambda code: None
    while True:
        try:
            while True:
                time.sleep(0.05)  # blocks the loop, like a spin, without burning a core
        except BaseException:
            pass
"""
        graded = hostile(submission(greet, HONEST_MAIN), stuck=2, limits=mode)
        assert graded.passed == {COROUTINE, *MAIN_CHECKS}
        assert graded.ex01.score == 6
        for name in GREET_CHECKS:
            # Stopped from outside at the limit, or named at once by the loop monitor (the
            # sleeps block the loop, and each interruption caught costs CPU): either way only
            # greet's checks pay, with a true reason.
            check = graded.checks[name]
            held = ("blocking call ran on the event loop", "The event loop never got control back")
            assert (check.status is CheckStatus.TIMEOUT and "Stopped by the grader" in (check.message or "")) or (
                check.status is CheckStatus.FAILED and any(reason in (check.message or "") for reason in held)
            ), (check.status, check.message)


class TestWhatIsScannedIsWhatRuns:
    """The learner's file is read-only to the child, and only its scanned bytes ever run."""

    def test_a_second_stage_written_over_the_file_never_runs(self, hostile: Grade, mode: Limits) -> None:
        """At import the module overwrites its own file with an honest one (each check
        imports the file afresh): the root sandbox refuses the write (the file and its
        folder are the grader's); without a sandbox uid the write succeeds, but the next
        import refuses bytes that are not the ones scanned. Either way the score is the
        first stage's, whose main is wrong."""
        honest = base64.b64encode(submission(HONEST_GREET, HONEST_MAIN).encode()).decode()
        first_stage = submission(SECOND_STAGE, HONEST_GREET, WRONG_MAIN)
        graded = hostile(first_stage, limits=mode, fill={"@HONEST_B64@": honest})
        assert not graded.passed & MAIN_CHECKS, graded.messages
        rewrite = graded.line("REWRITE ")
        if mode.drop_uid:  # a read-only mount (EROFS) refuses it, or else the folder's owner
            assert rewrite in ("OSError", "PermissionError"), rewrite
        else:
            assert rewrite == "done"
            assert "changed on disk while it was being graded" in graded.messages, graded.messages


class TestTheGraderOutlastsWhatTheChildLeaves:
    """Whatever the child builds in its writable places, grading completes and the work
    folder is gone (the fixture checks it), without recursion into the child's tree."""

    def test_a_tree_thousands_deep(self, hostile: Grade, mode: Limits) -> None:
        """3000 nested folders and a symlink to / at the bottom, in TMPDIR and the
        working folder: honest code still scores in full; nothing is left."""
        # Building and removing 3000 levels on a real disk (limits-only) takes seconds on a
        # loaded machine (69 s once in CI): one stuck check's worth of extra bound.
        graded = hostile(submission(DEEP_TREE, HONEST_GREET, HONEST_MAIN), limits=mode, stuck=1)
        assert graded.ex01.full_marks, graded.messages
        tmp_result, cwd_result = graded.line("DEEP ").split()
        assert tmp_result == "built"
        # The working folder is the grader's: a read-only mount (EROFS), or Landlock (EACCES).
        assert cwd_result in (("OSError", "PermissionError") if mode.drop_uid else ("built",)), cwd_result


class TestNoProcessOutlivesGrading:
    """Daemons, grandchildren and threads are gone when the grader returns."""

    @pytest.mark.parametrize("survivor", list(SURVIVORS), ids=list(SURVIVORS))
    def test_processes_started_at_import_are_killed(self, hostile: Grade, mode: Limits, survivor: str) -> None:
        """Honest code that leaves processes behind still scores; the processes do not stay."""
        graded = hostile(submission(SURVIVORS[survivor], HONEST_GREET, HONEST_MAIN), limits=mode)
        assert graded.ex01.full_marks

    def test_non_daemon_threads_cannot_keep_the_child_alive(self, hostile: Grade, mode: Limits) -> None:
        """A child that cannot exit (a non-daemon thread sleeps) is killed after its verdicts."""
        graded = hostile(submission(NON_DAEMON_THREAD, HONEST_GREET, HONEST_MAIN), linger=True, limits=mode)
        assert graded.ex01.full_marks

    def test_a_terminated_grader_leaves_nothing(self, make_kit: Callable[..., Kit], tmp_path: Path, token: str) -> None:
        """SIGTERM to `grade` mid-grading (a CI runner's timeout, a closed terminal): it stops,
        and the sandbox's processes, a daemonised grandchild included, go with it"""
        kit = make_kit(timeout=60)
        target = tmp_path / "learner"
        target.mkdir()
        daemon_then_hang = """
if os.fork() == 0:
    os.setsid()
    os.execv(sys.executable, [sys.executable, "-c", "import time; time.sleep(600)", "@TOKEN@"])
time.sleep(600)
"""
        source = submission(daemon_then_hang, HONEST_GREET, HONEST_MAIN).replace("@TOKEN@", token)
        (target / "ex01_hello_run.py").write_text(source, encoding="utf-8")
        work = tmp_path / "work"
        work.mkdir()
        env = {**os.environ, "AWAITLINGS_KIT": str(kit.root), "TMPDIR": str(work)}
        grade = subprocess.Popen([sys.executable, "-m", "grader", "ex01", "--target", str(target)], env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip
        try:
            give_up = time.monotonic() + 60
            while not _leftovers((token,)):  # the daemon has started: grading is under way
                assert grade.poll() is None and time.monotonic() < give_up, "the submission never started"
                time.sleep(0.05)
            grade.send_signal(signal.SIGTERM)
            output, _ = grade.communicate(timeout=30)
        finally:
            if grade.poll() is None:
                grade.kill()
        assert grade.returncode == 130, output.decode(errors="replace")
        assert b"Aborted." in output
        left = _leftovers((str(tmp_path), token))
        assert not left, "processes outlived the terminated grader:\n" + "\n".join(left)


class TestResourceLimits:
    """Memory, file size, open files, core dumps, processes and output are bounded."""

    @pytest.mark.parametrize("limit", list(LIMIT_PROBES), ids=list(LIMIT_PROBES))
    def test_limit_holds_inside_the_child(self, hostile: Grade, mode: Limits, limit: str) -> None:
        """The limit is hit inside the child (an error there, not a dead grader)."""
        greet, evidence = LIMIT_PROBES[limit]
        graded = hostile(submission(greet, HONEST_MAIN), limits=mode)
        assert graded.passed == {COROUTINE, *MAIN_CHECKS}
        assert graded.ex01.score == 6
        assert graded.score_of(GREET_CHECKS) == 0
        assert re.search(evidence, graded.output), graded.output[:3000]

    def test_memory_limit_leaves_room_for_threads(self, hostile: Grade, mode: Limits) -> None:
        """An honest solution using to_thread and a 16-thread pool gets full marks."""
        graded = hostile(submission(HONEST_GREET, THREADED_MAIN), limits=mode)
        assert graded.ex01.full_marks, graded.messages

    @needs_root
    def test_fork_bomb_is_refused_under_the_sandbox_uid(self, hostile: Grade) -> None:
        """Forking sleeping processes is refused at the sandbox uid's process limit (here 48,
        512 by default: the mechanism is the same, and 60 forks of the child stay cheap on a
        loaded machine where 600 once ran past the check's limit); the checks after it still
        run (in a fresh child: the sleepers leave no thread for the next)."""
        limits = dataclasses.replace(Limits(), processes=48)
        graded = hostile(submission(FORK_BOMB, HONEST_MAIN), limits=limits, timeout=20, stuck=1, fill={"@FORKS@": "60"})
        greet = graded.checks[GREETING]
        assert "LIMIT " in graded.output, (greet.status, greet.message, graded.output[:2000])
        refused = graded.line("LIMIT ")
        assert refused.startswith("refused after") and refused.endswith("errno 11"), refused
        assert int(refused.split()[2]) < 48
        assert graded.passed == {COROUTINE, *MAIN_CHECKS}

    def test_fifty_megabytes_of_output_are_capped(self, hostile: Grade, mode: Limits) -> None:
        """50 MB printed and 100 MB written to the grader's stdout pipe: grading completes,
        the output kept in the result stays small."""
        # 50 MB through the capture takes seconds on a loaded machine: a longer limit per
        # check, so what is tested is the cap, not the machine's speed.
        graded = hostile(submission(OUTPUT_FLOOD, HONEST_MAIN), limits=mode, timeout=40)
        assert graded.passed == {COROUTINE, *MAIN_CHECKS}
        assert all(len(check.output) < 5000 for check in graded.ex01.checks)
        greeting = graded.checks[GREETING]
        assert "spam" in greeting.output, (greeting.status, greeting.message)
        assert len(json.dumps([c.output for c in graded.ex01.checks])) < 30_000


@needs_root
class TestRootSandbox:
    """As root the child is another user, in its own mount, IPC and network namespaces."""

    @needs_root
    def test_a_venv_inside_the_kit_works_and_reveals_nothing_else(
        self, make_kit: Callable[..., Kit], tmp_path: Path
    ) -> None:
        """`python -m venv .venv` in the kit's folder (the README's way): the kit is hidden
        from the child, but the venv's own packages stay reachable, and nothing else does"""
        source_tree = Path(grader.__file__).resolve().parent.parent
        if Path(sys.prefix).resolve().is_relative_to(source_tree):
            pytest.skip("this run's own venv is inside the kit's source tree: the layout under test is this very run")
        kit = make_kit()
        venv = kit.root / ".venv"
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
        # The packages this test runs with (the grader's editable install included), added
        # to the inner venv as site dirs by a .pth file in its site-packages; and a module
        # of the venv's own, which the submission imports after the covers are on (as
        # pytest imports its lazy modules): hidden, it would not be found.
        inner_site = next((venv / "lib").glob("python3*/site-packages"))
        outer = [p for p in sys.path if p.endswith("site-packages") and os.path.isdir(p)]
        lines = [f"import site; site.addsitedir({p!r})" for p in outer]
        (inner_site / "outer.pth").write_text("\n".join(lines) + "\n", encoding="utf-8")
        (inner_site / "installed_in_the_venv.py").write_text("READY = True\n", encoding="utf-8")
        target = tmp_path / "learner"
        target.mkdir()
        peek = f"""
import installed_in_the_venv
for secret in ({str(kit.root / "solutions" / "ex01_hello_run.py")!r}, {str(kit.root / "exercises.toml")!r}):
    try:
        open(secret).read()
    except OSError:
        pass
    else:
        raise SystemExit("read " + secret)
"""
        (target / "ex01_hello_run.py").write_text(submission(peek, HONEST_GREET, HONEST_MAIN), encoding="utf-8")
        env = {**os.environ, "AWAITLINGS_KIT": str(kit.root)}
        command = [str(venv / "bin" / "python"), "-m", "grader", "ex01", "--target", str(target), "--format", "json"]
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)
        report = json.loads(done.stdout or "{}") if done.stdout.startswith("{") else {}
        assert report, done.stdout[-2000:] + done.stderr[-2000:]
        ex01 = report["exercises"][0]
        assert ex01["score"] == ex01["max_score"], json.dumps(ex01, indent=1)[:3000]

    @staticmethod
    def probe(
        hostile: Grade, tmp_path: Path, token: str, limits: Limits | None = None
    ) -> tuple[Graded, dict[str, Any], list[str], int]:
        """Grade ``ROOT_PROBE`` (honest otherwise): its findings, the paths it tried, its IPC key."""
        package = Path(grader.__file__).resolve().parent
        site = sysconfig.get_paths()["purelib"]
        kit_root = tmp_path / "kit1"  # make_kit's first kit (the hostile fixture's)
        outside = [
            f"/etc/{token}", f"/root/{token}", f"/var/tmp/{token}", f"/tmp/{token}", f"/dev/shm/{token}",
            f"{kit_root}/{token}", f"{kit_root}/solutions/{token}", f"{tmp_path}/learner/{token}",
            f"{package}/{token}.py", f"{package.parent}/{token}", f"{site}/{token}.pth",
            f"{Path(sys.executable).parent}/{token}",
        ]  # fmt: skip
        ipc_key = 0x10000000 + int(token[-6:], 16)
        fill = {
            "@GRADER_PID@": str(os.getpid()),
            "@WRITES@": repr(outside),
            "@SOURCE@": str(package.parent),
            "@IPC_KEY@": str(ipc_key),
            "@OTHER_CHECKOUT@": f"/var/lib/{token}",
        }
        # Another checkout of the kit, world-readable, in a place nobody thought to hide.
        other = Path(f"/var/lib/{token}")
        (other / "solutions").mkdir(parents=True)
        (other / "solutions" / "ex01_hello_run.py").write_text("SOLUTION = 1\n", encoding="utf-8")
        os.chmod(other / "solutions" / "ex01_hello_run.py", 0o644)
        try:
            graded = hostile(submission(ROOT_PROBE, HONEST_GREET, HONEST_MAIN), fill=fill, limits=limits)
        finally:
            shutil.rmtree(other)
            for path in outside:
                if Path(path).is_file() and not path.startswith(str(tmp_path)):
                    Path(path).unlink()  # a failed defense must not leave files around
            if _sysv_queue_exists(ipc_key):
                subprocess.run(["ipcrm", "-Q", str(ipc_key)], check=False)
        assert graded.ex01.full_marks, graded.messages
        found = json.loads(graded.line("PROBE "))
        # By position, not by path: output crosses from a worker in pieces of 2000
        # characters (grader.split.wire.TEXT_CAP), and long paths made the line longer.
        found["writes"] = dict(zip(outside, found["writes"], strict=True))
        return graded, found, outside, ipc_key

    def test_child_runs_as_a_sandbox_uid_with_only_loopback(self, hostile: Grade, tmp_path: Path, token: str) -> None:
        """The child's uid is a dedicated non-zero one; its only network interface is lo."""
        _graded, found, _outside, _key = self.probe(hostile, tmp_path, token)
        assert UID_BASE <= found["uid"] == found["euid"] < UID_BASE + 1000 * UID_BLOCK
        assert found["interfaces"] == ["lo"]

    def test_child_cannot_read_solutions_or_the_grader(self, hostile: Grade, tmp_path: Path, token: str) -> None:
        """Solutions (the kit's, the grader's source tree's), the grader's /proc and the learner folder are closed."""
        _graded, found, _outside, _key = self.probe(hostile, tmp_path, token)
        for what in (
            "read solution",
            "list solutions",
            "read source tree solution",
            "list grader fds",
            "read grader environ",
            "read learner folder",
            "read other checkout",
            "write work folder",
            "rewrite checks",
        ):
            assert found[what][0] == "denied", (what, found[what])

    def test_child_sees_an_allow_list_root(self, hostile: Grade, tmp_path: Path, token: str) -> None:
        """The child's / holds the system's programs and libraries, a few files of /etc,
        its scratch places and its work folder's path: nothing else (no /home, /root of its
        own, /srv, /opt, /var/lib...), whatever the host has."""
        _graded, found, _outside, _key = self.probe(hostile, tmp_path, token)
        allowed = {"bin", "sbin", "lib", "lib32", "lib64", "libx32", "usr", "etc", "dev", "proc", "tmp", "var"}
        # Plus the first component of the interpreter's and the grader's own paths.
        for path in (sys.prefix, sys.base_prefix, grader.__file__, str(tmp_path)):
            allowed.add(Path(os.path.realpath(path)).parts[1])
        entries = set(json.loads(found["root entries"][1]))
        assert entries <= allowed, sorted(entries - allowed)

    def test_child_cannot_write_outside_its_sandbox(self, hostile: Grade, tmp_path: Path, token: str) -> None:
        """Nothing the child writes appears outside: /etc, /root, the kit, the grader, site-packages, /tmp..."""
        _graded, found, outside, _key = self.probe(hostile, tmp_path, token)
        assert set(found["writes"]) == set(outside)
        for path, (outcome, _detail) in found["writes"].items():
            assert not Path(path).exists(), f"the child wrote {path} on the real filesystem"
            if not path.startswith(("/var/tmp/", "/tmp/", "/dev/shm/")):  # private, empty tmpfs there
                assert outcome == "denied", (path, outcome)

    def test_child_sees_only_its_own_pid_namespace(self, hostile: Grade, tmp_path: Path, token: str) -> None:
        """The run is PID 2 of its own PID namespace (its init is PID 1): /proc lists the
        run's processes only, none of the host's, the grader's included."""
        _graded, found, _outside, _key = self.probe(hostile, tmp_path, token)
        assert found["pid"] == 2, found["pid"]
        assert found["visible pids"][:2] == [1, 2] and found["visible pid count"] < 10, found["visible pids"]

    def test_total_disk_use_is_bounded(self, hostile: Grade) -> None:
        """Files each under the file-size limit still cannot fill the disk: the child's one
        writable place is a private tmpfs of ``Limits.tmp_bytes``, and nothing written
        there reaches the real disk."""
        fill = """
import contextlib
import tempfile
written = 0
try:
    for n in range(4):
        with open(os.path.join(tempfile.gettempdir(), f"part{n}"), "wb") as fh:
            for _ in range(60):
                fh.write(b"x" * 1024**2)
                fh.flush()
                written += 1
except OSError as exc:
    outcome = f"refused after {written} MB with errno {exc.errno}"
else:
    outcome = f"wrote all {written} MB"
for n in range(4):  # room again for the output pytest captures in the same place
    with contextlib.suppress(OSError):
        os.unlink(os.path.join(tempfile.gettempdir(), f"part{n}"))
print("DISK " + outcome)
"""
        graded = hostile(submission(fill, HONEST_GREET, HONEST_MAIN))
        assert graded.ex01.full_marks, graded.messages
        refused = re.fullmatch(r"refused after (\d+) MB with errno 28", graded.line("DISK "))  # ENOSPC
        assert refused and int(refused.group(1)) <= Limits().tmp_bytes // 1024**2, graded.line("DISK ")

    def test_the_kernel_ends_what_the_sweeps_miss(
        self, hostile: Grade, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A process that keeps changing its pid in a session of its own, with the grader's
        sweeps switched off (only the child's process group is killed): it still does not
        outlive grading, because its PID namespace ends with the run."""
        from grader.sandbox import spawn, uids

        def group_only(proc: Any, _mark: str, _since: int, **_how: Any) -> None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)

        monkeypatch.setattr(spawn, "kill_tree", group_only)
        monkeypatch.setattr(uids, "kill_uid", lambda _uid: None)
        graded = hostile(submission(PID_HOPPER, HONEST_GREET, HONEST_MAIN))
        assert graded.ex01.full_marks, graded.messages

    def test_ipc_objects_do_not_outlive_grading(self, hostile: Grade, tmp_path: Path, token: str) -> None:
        """A System V message queue the child creates is gone with its IPC namespace."""
        _graded, found, _outside, key = self.probe(hostile, tmp_path, token)
        assert found["sysv queue"][0] == "allowed", found["sysv queue"]
        assert not _sysv_queue_exists(key)


def _user_namespaces() -> bool:
    """Whether this kernel lets a process make a user namespace (in a child: it cannot be undone)."""
    code = "from grader.sandbox.isolation import CLONE_NEWUSER, unshare; unshare(CLONE_NEWUSER)"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, check=False).returncode == 0


#: What a grader that is not root builds, taken here whatever the uid running the tests.
USER_NAMESPACE = Limits(user_namespace=True)


@pytest.mark.skipif(not sys.platform.startswith("linux") or not _user_namespaces(), reason="no user namespaces")
class TestUserNamespaceSandbox:
    """A grader that is not root builds the same namespaces and allow-list root in a user
    namespace of the child's own (its uid mapped to itself), then gives up every
    capability: the unprivileged fallback is contained as root's is, but for the uid."""

    def test_closed_and_contained(self, hostile: Grade, tmp_path: Path, token: str) -> None:
        """No capability, only loopback, an allow-list root, nothing of the kit or the
        grader to read, nothing written outside, its own PID and IPC namespaces."""
        _graded, found, _outside, key = TestRootSandbox.probe(hostile, tmp_path, token, USER_NAMESPACE)
        assert found["uid map"] == [str(os.getuid()), str(os.getuid()), "1"], found["uid map"]
        assert found["uid"] == os.getuid() and found["capabilities"] == 0, (found["uid"], found["capabilities"])
        assert found["interfaces"] == ["lo"]
        for what in ("read solution", "list solutions", "read source tree solution", "list grader fds",
                     "read grader environ", "read learner folder", "read other checkout",
                     "write work folder", "rewrite checks"):  # fmt: skip
            assert found[what][0] == "denied", (what, found[what])
        allowed = {"bin", "sbin", "lib", "lib32", "lib64", "libx32", "usr", "etc", "dev", "proc", "tmp", "var"}
        for path in (sys.prefix, sys.base_prefix, grader.__file__, str(tmp_path)):
            allowed.add(Path(os.path.realpath(path)).parts[1])
        entries = set(json.loads(found["root entries"][1]))
        assert entries <= allowed, sorted(entries - allowed)
        for path, (outcome, _detail) in found["writes"].items():
            assert not Path(path).exists(), f"the child wrote {path} on the real filesystem"
            if not path.startswith(("/var/tmp/", "/tmp/", "/dev/shm/")):
                assert outcome == "denied", (path, outcome)
        assert found["pid"] == 2 and found["visible pids"][:2] == [1, 2], found["visible pids"]
        assert not _sysv_queue_exists(key)

    def test_the_kernel_ends_what_the_sweeps_miss(self, hostile: Grade, monkeypatch: pytest.MonkeyPatch) -> None:
        """A process that keeps changing its pid, with the sweeps off, still ends with the run."""
        from grader.sandbox import spawn

        def group_only(proc: Any, _mark: str, _since: int, **_how: Any) -> None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)

        monkeypatch.setattr(spawn, "kill_tree", group_only)
        graded = hostile(submission(PID_HOPPER, HONEST_GREET, HONEST_MAIN), limits=USER_NAMESPACE)
        assert graded.ex01.full_marks, graded.messages

    def test_a_child_of_the_embedding_program_is_left_alone(
        self, hostile: Grade, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A process the program that embeds the grader starts while a run is graded (a
        new child of the grader's process, like an orphan the run would leave without a
        PID namespace) survives the sweeps: in a PID namespace no orphan can reach us."""
        from grader.sandbox import spawn

        started: list[subprocess.Popen[bytes]] = []
        real_read_child = spawn.read_child

        def read_child_beside_another(*args: Any, **kwargs: Any) -> Any:
            if not started:
                started.append(subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"]))
            return real_read_child(*args, **kwargs)

        monkeypatch.setattr(spawn, "read_child", read_child_beside_another)
        try:
            graded = hostile(submission(HONEST_GREET, HONEST_MAIN), limits=USER_NAMESPACE)
            assert started and started[0].poll() is None, "the sweep ended a process that was not the run's"
        finally:
            for each in started:
                each.kill()
                each.wait()
        assert graded.ex01.full_marks, graded.messages

    def test_the_run_cannot_end_its_init(self, hostile: Grade) -> None:
        """The run is init's uid here, yet every signal it sends init is dropped: the
        namespace (and the run with it) goes on, and the honest answer gets full marks."""
        graded = hostile(submission(INIT_KILLER, HONEST_GREET, HONEST_MAIN), limits=USER_NAMESPACE)
        assert "KILL INIT sent" in graded.output, graded.output[-2000:]  # the kernel took them
        assert graded.ex01.full_marks, graded.messages


def _landlock() -> int:
    """The Landlock ABI this kernel offers (0: none)."""
    from grader.sandbox import landlock

    return landlock.abi() if sys.platform.startswith("linux") else 0


#: What a grader that is not root does where user namespaces are refused, taken here
#: whatever the uid running the tests (as root: no uid drop, so only Landlock holds it).
LANDLOCK = Limits(landlock_only=True, drop_uid=False)


@pytest.mark.skipif(_landlock() < 1, reason="no Landlock in this kernel")
@pytest.mark.skipif(_landlock() < 6, reason="signals are scoped from Landlock ABI 6 (Linux 6.12)")
class TestTheWorkerCannotSignalItsChecker:
    """The worker shares its checker's uid; its own Landlock domain keeps its signals in."""

    def test_the_checker_is_neither_stopped_nor_killed(self, hostile: Grade, mode: Limits) -> None:
        graded = hostile(submission(STOP_THE_CHECKER, HONEST_GREET, HONEST_MAIN), limits=mode, split=True)
        assert "CHECKER PermissionError" in graded.output and "CHECKER signalled" not in graded.output, (
            graded.output[-2000:]
        )
        assert graded.ex01.full_marks, graded.messages


class TestLandlockSandbox:
    """Where no namespace can be made, Landlock holds the child to the same allow-list:
    nothing of the kit, another checkout or the grader's process to read, nothing to
    write but its scratch folder and /dev/shm, and (ABI 6) no signal out of the sandbox."""

    def test_nothing_outside_the_allow_list(self, hostile: Grade, tmp_path: Path, token: str) -> None:
        _graded, found, _outside, _key = TestRootSandbox.probe(hostile, tmp_path, token, LANDLOCK)
        # The numbers of the grader's descriptors show (its /proc folder is its uid's),
        # not where they lead: that needs ptrace rights, which Landlock refuses. Its
        # environment stays readable to its own uid (SECURITY.md, residual risks).
        for what in ("read solution", "list solutions", "read source tree solution", "follow grader fd",
                     "read learner folder", "read other checkout", "root entries", "write work folder",
                     "rewrite checks"):  # fmt: skip
            assert found[what][0] == "denied", (what, found[what])
        for path, (outcome, _detail) in found["writes"].items():
            if not path.startswith("/dev/shm/"):
                assert outcome == "denied" and not Path(path).exists(), (path, outcome)

    def test_the_scanned_copy_cannot_be_rewritten(self, hostile: Grade) -> None:
        """The child is the copy's owner here (no uid drop), yet the kernel refuses the write."""
        graded = hostile(submission(SECOND_STAGE_PROBE, HONEST_GREET, HONEST_MAIN), limits=LANDLOCK)
        assert "REWRITE PermissionError" in graded.output, graded.output[-2000:]
        assert graded.ex01.full_marks, graded.messages

    def test_a_pid_hopper_dies_with_the_group(self, hostile: Grade, monkeypatch: pytest.MonkeyPatch) -> None:
        """No PID namespace here: a process that keeps changing its pid cannot leave the
        run's process group, so the one signal to the group ends it, with every other
        sweep switched off."""
        from grader.sandbox import spawn

        def group_only(proc: Any, _mark: str, _since: int, **_how: Any) -> None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)

        monkeypatch.setattr(spawn, "kill_tree", group_only)
        graded = hostile(submission(GROUP_HOPPER, HONEST_GREET, HONEST_MAIN), limits=LANDLOCK)
        assert "SETSID PermissionError" in graded.output, graded.output[-2000:]
        assert graded.ex01.full_marks, graded.messages

    @pytest.mark.skipif(_landlock() < 6, reason="signals are scoped from Landlock ABI 6 (Linux 6.12)")
    def test_no_signal_leaves_the_sandbox(self, hostile: Grade) -> None:
        """SIGKILL sent to a process of the grading user's outside the sandbox (the
        child is its uid, root here) is refused, and the process lives on."""
        outsider = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
        # Started clock ticks before grading starts: the sweeps take a child of the grader's
        # started since then for an orphan of the run (grader.sandbox.tree.kill_tree).
        time.sleep(0.1)
        try:
            source = submission(SIGNAL_OUTSIDE, HONEST_GREET, HONEST_MAIN)
            graded = hostile(source, fill={"@OUTSIDER@": str(outsider.pid)}, limits=LANDLOCK)
            assert outsider.poll() is None, "the sandbox ended a process outside it"
        finally:
            outsider.kill()
            outsider.wait()
        assert "SIGNAL PermissionError" in graded.output, graded.output[-2000:]
        assert graded.ex01.full_marks, graded.messages


def _sysv_queue_exists(key: int) -> bool:
    """Whether this (the host's) IPC namespace holds a message queue with ``key``."""
    with open("/proc/sysvipc/msg", encoding="ascii") as fh:
        return any(line.split()[0] == str(key) for line in fh.readlines()[1:] if line.strip())


class TestRiggedValues:
    """Objects that claim to equal anything fail the type-strict checks."""

    def test_rigged_eq_fails(self, hostile: Grade) -> None:
        """A str subclass from greet and an object posing as a list from main score nothing."""
        graded = hostile(submission(RIGGED))
        assert graded.passed == {COROUTINE, NO_BLOCKING}
        assert graded.ex01.score == 3
        assert "expected a str, got Liar" in (graded.checks[GREETING].message or "")


class TestTheGradersEnvironmentIsInvisible:
    """Nothing of the grader's environment reaches learner code."""

    def test_canary_variable_is_absent(
        self, hostile: Grade, mode: Limits, monkeypatch: pytest.MonkeyPatch, token: str
    ) -> None:
        """A canary set in the grader's environment is not in the child's os.environ."""
        monkeypatch.setenv("AWAITLINGS_TEST_CANARY", f"canary-{token}")
        graded = hostile(submission(ENVIRON_DUMP, HONEST_GREET, HONEST_MAIN), limits=mode)
        assert graded.ex01.full_marks
        environ = graded.line("ENVIRON ")
        assert "'PATH'" in environ and "AWAITLINGS_SANDBOX" in environ
        assert "AWAITLINGS_TEST_CANARY" not in graded.output and f"canary-{token}" not in graded.output


class TestStaticFlags:
    """Reaching into the grader zeroes a submission before it runs; introspection is reported."""

    @pytest.mark.parametrize("reach", list(FORBIDDEN), ids=list(FORBIDDEN))
    def test_importing_the_grader_or_pytest_zeroes(self, hostile: Grade, reach: str) -> None:
        """Even an otherwise correct file scores zero when it imports grader or pytest."""
        graded = hostile(submission(FORBIDDEN[reach], HONEST_GREET, HONEST_MAIN))
        assert graded.ex01.score == 0 and graded.ex01.status is ExerciseStatus.ERROR
        assert "reaches into the grader" in (graded.ex01.message or "")

    def test_introspection_is_reported_not_scored(self, hostile: Grade) -> None:
        """ctypes, gc and sys._getframe (however imported) are flagged; the score stands."""
        graded = hostile(submission(SUSPICIOUS, HONEST_GREET, HONEST_MAIN))
        assert graded.ex01.full_marks
        flags = "\n".join(graded.ex01.flags)
        for expected in ("import ctypes", "import gc", "from sys import _getframe"):
            assert expected in flags, (expected, graded.ex01.flags)
        # sys._getframe(0) and system._getframe(0), on their own lines, both reported as sys._getframe.
        assert len([flag for flag in graded.ex01.flags if flag.endswith(": sys._getframe")]) == 2, graded.ex01.flags

    def test_obfuscated_in_process_tampering_is_caught(self, hostile: Grade) -> None:
        """A wrong answer that patches the plugin through the module table, its names split
        into pieces so that no literal shows them, is zeroed, or at least flagged for staff:
        the compiler joins the pieces, and the flags read what it built."""
        graded = hostile(submission(TAMPER, WRONG_GREET, WRONG_MAIN))
        assert graded.ex01.score == 0 or graded.ex01.flags, graded.ex01
        flags = "\n".join(graded.ex01.flags)
        assert "'modules', built from pieces" in flags and "'grader.plugin', built from pieces" in flags, flags
