"""The sandbox end to end: real child processes, real hostile submissions, no mocks.

Every test grades a folder holding two exercises of the test kit (``conftest.make_kit``:
the real ex01 and a tiny ex02 ``adder``, 3 s per check) through
``grader.grading.grade_target``, as ``grade`` does. A hostile ex02 must cost ex02 only,
with a message that says what happened, while ex01 next to it still gets full marks; the
learner's files are never changed; no sandbox process outlives the grading; and the
grader comes back within the exercise's deadline plus a few seconds.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from grader import sandbox
from grader.grading import grade_target
from grader.manifest import Kit
from grader.results import CheckStatus, ExerciseResult, ExerciseStatus, RunResult
from grader.sandbox import HARD_MARGIN_S, SANDBOX_ENV_MARK, STARTUP_S, grade_exercise, warm

pytestmark = pytest.mark.slow

#: Seconds allowed on top of an exercise's deadline (interpreter start-up on a busy machine).
SLACK_S = 10.0


# --- helpers ----------------------------------------------------------------------------


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` with the hash of its bytes and its mode."""
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest() + f" {path.stat().st_mode:o}"
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def _parent(pid: int) -> int:
    with open(f"/proc/{pid}/stat", "rb") as fh:
        stat = fh.read()
    return int(stat[stat.rindex(b")") + 2 :].split()[1])


def _descends_from_us(pid: int) -> bool:
    """Whether ``pid`` is a descendant of this test process (the grader is a subreaper, so
    processes that escape with setsid or a double fork are re-parented to it)."""
    me = os.getpid()
    seen = set()
    while pid > 1 and pid not in seen:
        seen.add(pid)
        try:
            pid = _parent(pid)
        except (OSError, ValueError, IndexError):
            return False
        if pid == me:
            return True
    return False


def sandbox_processes() -> list[str]:
    """Processes started by our grading that are still there (other graders on this
    machine are not ours to judge)."""
    marker = SANDBOX_ENV_MARK.encode() + b"="
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or not _descends_from_us(int(name)):
            continue
        try:
            environ = Path(f"/proc/{name}/environ").read_bytes()
            cmdline = Path(f"/proc/{name}/cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        # A run forked by the warm child shows the warm child's command line and environment.
        forked = b"grader.sandbox.warm" in cmdline and int(name) != warm.pid()
        if marker in environ or b"grader.sandbox.child" in cmdline or forked:
            found.append(f"{name}: {cmdline.decode(errors='replace')[:200]}")
    return found


def make_target(kit: Kit, folder: Path, ex02_source: str | bytes | None) -> Path:
    """A learner folder: ex01's reference solution and the given ex02 (None: no file)."""
    folder.mkdir()
    shutil.copyfile(kit.solutions_dir / "ex01_hello_run.py", folder / "ex01_hello_run.py")
    if ex02_source is not None:
        data = ex02_source.encode("utf-8") if isinstance(ex02_source, str) else ex02_source
        (folder / "ex02_adder.py").write_bytes(data)
    return folder


def by_id(run: RunResult, exercise_id: str) -> ExerciseResult:
    return next(e for e in run.exercises if e.id == exercise_id)


def assert_full_marks(result: ExerciseResult) -> None:
    failing = {c.name: c.message for c in result.checks if not c.passed}
    assert result.status is ExerciseStatus.PASSED, failing or result.message
    assert result.score == result.max_score


def deadline(kit: Kit, exercise_id: str) -> float:
    """How long the parent lets one check of this exercise run before killing the child."""
    return kit.resolve(exercise_id).limit + HARD_MARGIN_S


# --- hostile submissions ----------------------------------------------------------------

GOOD_ADD = "def add(a, b):\n    return a + b\n"


@dataclasses.dataclass(frozen=True)
class Hostile:
    name: str
    source: str | bytes | None
    status: ExerciseStatus
    #: Text the exercise's message must contain (None: the exercise has no message).
    message: str | None
    #: Text every check's message must contain (None: not checked).
    check_message: str | None = None


HOSTILE = [
    Hostile(
        "syntax_error",
        "def add(a, b):\n    return a +\n",
        ExerciseStatus.ERROR,
        "ex02_adder.py has a syntax error at line 2",
    ),
    Hostile(
        "missing_file",
        None,
        ExerciseStatus.ERROR,
        "ex02_adder.py is missing from",
    ),
    Hostile(
        "not_utf8",
        b"def add(a, b):\n    return a + b  # caf\xe9\n",
        ExerciseStatus.ERROR,
        "ex02_adder.py is not valid UTF-8 (byte 0xe9 on line 2): save it as UTF-8",
    ),
    Hostile(
        "import_crash",
        "import math\n\nRATIO = 1 / 0\n" + GOOD_ADD,
        ExerciseStatus.ERROR,
        "Importing ex02_adder.py raised ZeroDivisionError: division by zero at ex02_adder.py:3: RATIO = 1 / 0",
        check_message="Importing ex02_adder.py raised ZeroDivisionError",
    ),
    Hostile(
        "infinite_loop_at_import",
        "while True:\n    pass\n" + GOOD_ADD,
        ExerciseStatus.ERROR,
        "Importing ex02_adder.py did not finish: module-level code runs forever or blocks",
        check_message="did not finish",
    ),
    Hostile(
        "os_exit_at_import",
        "import os\n\nos._exit(0)\n" + GOOD_ADD,
        ExerciseStatus.ERROR,
        "ended while importing your module: the Python process exited (exit code 0)",
        check_message="exited (exit code 0)",
    ),
    Hostile(
        "sys_exit_at_import",
        "import sys\n\nsys.exit(0)\n" + GOOD_ADD,
        ExerciseStatus.ERROR,
        "Importing ex02_adder.py called sys.exit()",
        check_message="called sys.exit()",
    ),
    Hostile(
        "os_exit_mid_check",
        "import os\n\n\ndef add(a, b):\n    os._exit(0)\n",
        ExerciseStatus.FAILED,
        None,
        check_message="The check run ended during this check: the Python process exited (exit code 0)",
    ),
    Hostile(
        "fake_results_on_every_fd",
        "import os\n\n"
        "print('============ 10 passed in 0.01s ============')\n"
        'FAKE = b\'0\' * 64 + b\' {"seq": 3, "type": "result", "id": "x", "status": "passed"}\\n\'\n'
        "for fd in range(3, 41):\n"
        "    try:\n"
        "        os.write(fd, FAKE)\n"
        "    except OSError:\n"
        "        pass\n" + GOOD_ADD,
        ExerciseStatus.ERROR,
        "The grader's result channel received lines it did not send",
    ),
    Hostile(
        "fifty_megabytes_of_output",
        "import sys\n\n\ndef add(a, b):\n    sys.stdout.write('x' * 50_000_000)\n    return None\n",
        ExerciseStatus.FAILED,
        None,
        check_message="Assertion failed: assert None ==",
    ),
    Hostile(
        "setitimer_and_except_baseexception",
        "import signal\nimport time\n\n"
        "while True:\n"
        "    try:\n"
        "        signal.setitimer(signal.ITIMER_REAL, 0)\n"
        "        while True:\n"
        "            time.sleep(0.05)  # as unstoppable as a spin, without burning a core\n"
        "    except BaseException:\n"
        "        pass\n" + GOOD_ADD,
        ExerciseStatus.ERROR,
        "Stopped by the grader: importing your module did not finish within 3s",
        check_message="did not finish within 3s",
    ),
]


class TestHostileSubmissions:
    """A hostile file zeroes its own exercise with a clear message, and nothing else."""

    @pytest.mark.parametrize("case", HOSTILE, ids=lambda c: c.name)
    def test_contained(self, kit: Kit, tmp_path: Path, case: Hostile) -> None:
        """clear message, zero for ex02, full marks for ex01, files unchanged, no process left, bounded time"""
        target = make_target(kit, tmp_path / "submission", case.source)
        before = snapshot(target)
        started = time.monotonic()
        run = grade_target(kit, kit.exercises, target)
        elapsed = time.monotonic() - started

        hostile = by_id(run, "ex02")
        assert hostile.status is case.status, (hostile.message, [c.message for c in hostile.checks])
        assert hostile.score == 0.0 and hostile.max_score == 4.0
        if case.message is None:
            assert hostile.message is None
        else:
            assert hostile.message is not None and case.message in hostile.message
        if case.check_message is not None:
            assert len(hostile.checks) == 2
            for check in hostile.checks:
                assert check.status is not CheckStatus.PASSED
                assert check.message is not None and case.check_message in check.message, check.message
        assert_full_marks(by_id(run, "ex01"))
        assert snapshot(target) == before
        assert sandbox_processes() == []
        assert elapsed < deadline(kit, "ex02") + SLACK_S

    def test_output_is_capped(self, kit: Kit, tmp_path: Path) -> None:
        """50 MB printed by a check reaches the results as a few kilobytes"""
        case = next(c for c in HOSTILE if c.name == "fifty_megabytes_of_output")
        target = make_target(kit, tmp_path / "submission", case.source)
        result = grade_exercise(kit, kit.resolve("ex02"), target)
        assert [len(c.output) < 10_000 for c in result.checks] == [True, True]
        assert all("characters cut" in c.output for c in result.checks)

    def test_a_hang_at_import_costs_one_deadline_not_one_per_check(self, kit: Kit, tmp_path: Path) -> None:
        """an unstoppable import in ex01 (5 checks) is killed once and fails all five"""
        hang = next(c for c in HOSTILE if c.name == "setitimer_and_except_baseexception")
        target = tmp_path / "submission"
        target.mkdir()
        assert isinstance(hang.source, str)
        # ex01's names, defined after the hang (never reached), so the file is graded for real.
        names = "\n\nasync def greet(name, delay):\n    return name\n\ndef main(names):\n    return names\n"
        (target / "ex01_hello_run.py").write_text(hang.source + names, encoding="utf-8")
        (target / "ex02_adder.py").write_text(GOOD_ADD, encoding="utf-8")
        started = time.monotonic()
        run = grade_target(kit, kit.exercises, target)
        elapsed = time.monotonic() - started
        ex01 = by_id(run, "ex01")
        assert ex01.status is ExerciseStatus.ERROR and ex01.score == 0.0
        assert len(ex01.checks) == 5
        assert all(c.status is CheckStatus.ERROR for c in ex01.checks)
        assert_full_marks(by_id(run, "ex02"))
        assert elapsed < deadline(kit, "ex01") + SLACK_S
        assert sandbox_processes() == []

    def test_escaped_daemon_is_killed(self, kit: Kit, tmp_path: Path) -> None:
        """a double-forked, setsid'd process started at import does not survive grading"""
        daemon = (
            "import os\nimport time\n\n"
            "if os.fork() == 0:\n"
            "    os.setsid()\n"
            "    if os.fork() == 0:\n"
            "        time.sleep(300)\n"
            "    os._exit(0)\n\n" + GOOD_ADD
        )
        target = make_target(kit, tmp_path / "submission", daemon)
        run = grade_target(kit, kit.exercises, target)
        assert_full_marks(by_id(run, "ex02"))  # escaping is not wrong in itself; outliving is
        assert sandbox_processes() == []


class TestEvidenceInTheSandbox:
    """The loop monitor judges from the run's own threads: in a forked run (warm or cold,
    in its PID namespace or not) a loop held by the learner's code fails at once with the
    monitor's account, never at the time limit."""

    SPIN = "async def greet(name, delay):\n    while True:\n        pass\n"
    SLEEP = "import time\n\nasync def greet(name, delay):\n    time.sleep(60)\n    return name\n"

    @pytest.mark.parametrize("warm_child", ["1", "0"], ids=["warm", "cold"])
    @pytest.mark.parametrize(
        ("greet", "evidence"),
        [(SPIN, r"ran for [\d.]+ s of CPU without yielding"), (SLEEP, r"time\.sleep\(60\)")],
        ids=["spin", "sleep"],
    )
    def test_a_held_loop_is_named_by_the_monitor(
        self, kit: Kit, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, warm_child: str, greet: str, evidence: str
    ) -> None:
        monkeypatch.setenv(warm.SWITCH, warm_child)
        solution = (kit.solutions_dir / "ex01_hello_run.py").read_text(encoding="utf-8")
        source = greet + solution[solution.index("def main") :]
        folder = make_target(kit, tmp_path / "submission", None)
        (folder / "ex01_hello_run.py").write_text("import asyncio\n\n" + source, encoding="utf-8")
        result = grade_exercise(kit, kit.resolve("ex01"), folder)
        held = [c for c in result.checks if c.message and re.search(evidence, c.message)]
        assert held, [(c.name, c.status, c.message) for c in result.checks]
        for check in held:
            # The monitor's verdict: failed, not a timeout waited out and killed.
            assert check.status is CheckStatus.FAILED, (check.name, check.status, check.message)
            assert "Stopped by the grader" not in (check.message or ""), check.message
        assert sandbox_processes() == []


class TestWarmChild:
    """Runs fork from one warm child that has imported pytest and the grader; a verdict
    never depends on it (the same results cold, and a run it failed is redone cold)."""

    REPORT_PARENT = "import os\n\ndef add(a, b):\n    print('parent', os.getppid(), flush=True)\n    return a + b\n"

    def test_runs_are_forked_from_the_warm_child(self, kit: Kit, tmp_path: Path) -> None:
        """two gradings, one warm child: each run's parent is it (seen without namespaces:
        in its own PID namespace a run's parent is that namespace's init, PID 1)"""
        target = make_target(kit, tmp_path / "submission", self.REPORT_PARENT)
        plain = sandbox.Limits(drop_uid=False, isolate=False)
        first = grade_exercise(kit, kit.resolve("ex02"), target, limits=plain)
        warm_pid = warm.pid()
        second = grade_exercise(kit, kit.resolve("ex02"), target, limits=plain)
        assert warm_pid is not None and warm.pid() == warm_pid
        for result in (first, second):
            assert_full_marks(result)
            assert all(f"parent {warm_pid}" in c.output for c in result.checks), [c.output for c in result.checks]
        assert sandbox_processes() == []

    @pytest.mark.parametrize("case", [c for c in HOSTILE if c.source is not None], ids=lambda c: c.name)
    def test_cold_and_warm_give_the_same_verdicts(
        self, kit: Kit, tmp_path: Path, case: Hostile, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """each hostile submission: the same statuses and messages from a fresh interpreter"""
        target = make_target(kit, tmp_path / "submission", case.source)
        warm_result = grade_exercise(kit, kit.resolve("ex02"), target)
        monkeypatch.setenv(warm.SWITCH, "0")
        cold_result = grade_exercise(kit, kit.resolve("ex02"), target)

        def alike(text: str | None) -> str | None:  # each run has its own folder and addresses
            return text and re.sub(r"awaitlings-ex02-\w+|0x[0-9a-f]+", "*", text)

        def verdicts(result: ExerciseResult) -> list[tuple[str, CheckStatus, str | None]]:
            return [(c.id, c.status, alike(c.message)) for c in result.checks]

        assert (warm_result.status, warm_result.message) == (cold_result.status, cold_result.message)
        assert verdicts(warm_result) == verdicts(cold_result)

    def test_a_killed_warm_child_costs_nothing(self, kit: Kit, tmp_path: Path) -> None:
        """code of the grader's uid that kills the warm child: its run is redone in a fresh
        interpreter with the same verdicts, and the next grading starts a new warm child"""
        killer = (
            "import os\n"
            "import signal\n\n"
            "def add(a, b):\n"
            "    with open(f'/proc/{os.getppid()}/cmdline', 'rb') as fh:\n"
            "        if b'grader.sandbox.warm' in fh.read():\n"
            "            os.kill(os.getppid(), signal.SIGKILL)\n"
            "    return a + b\n"
        )
        same_uid = sandbox.Limits(drop_uid=False, isolate=False)
        target = make_target(kit, tmp_path / "submission", killer)
        grade_exercise(kit, kit.resolve("ex01"), target, limits=same_uid)  # a warm child is running
        before = warm.pid()
        result = grade_exercise(kit, kit.resolve("ex02"), target, limits=same_uid)
        assert_full_marks(result)
        after = grade_exercise(kit, kit.resolve("ex01"), target, limits=same_uid)
        assert_full_marks(after)
        assert before is not None and warm.pid() not in (None, before)
        assert sandbox_processes() == []


class TestLeftoverProbe:
    """The probe the tests above rely on really sees a sandbox process left behind."""

    def test_sees_a_marked_child(self) -> None:
        """a live child carrying the sandbox mark is reported, and not once it is gone"""
        child = subprocess.Popen(
            [sys.executable, "-c", "import time; print('ready', flush=True); time.sleep(60)"],
            env={SANDBOX_ENV_MARK: "probe-test"}, stdout=subprocess.PIPE,
        )  # fmt: skip
        try:
            assert child.stdout is not None and child.stdout.readline() == b"ready\n"  # exec'd: environ is its own
            assert any(entry.startswith(f"{child.pid}:") for entry in sandbox_processes())
        finally:
            child.kill()
            child.wait()
            child.stdout.close()  # type: ignore[union-attr]
        assert sandbox_processes() == []


class TestOnlyTheExerciseFileIsCopied:
    """Nothing but the allow-listed file reaches the child."""

    def test_hostile_neighbours_are_ignored(self, kit: Kit, tmp_path: Path) -> None:
        """conftest.py, pytest.ini, sitecustomize.py and a stdlib shadow in the folder change nothing"""
        target = make_target(kit, tmp_path / "submission", GOOD_ADD)
        poison = "raise SystemExit('this file must never run')\n"
        for name in ("conftest.py", "sitecustomize.py", "usercustomize.py", "json.py", "asyncio.py", "pytest.py"):
            (target / name).write_text(poison, encoding="utf-8")
        (target / "pytest.ini").write_text("[pytest]\naddopts = --collect-only\n", encoding="utf-8")
        (target / "evil.pth").write_text("import os; os._exit(9)\n", encoding="utf-8")
        before = snapshot(target)
        run = grade_target(kit, kit.exercises, target)
        assert_full_marks(by_id(run, "ex01"))
        assert_full_marks(by_id(run, "ex02"))
        assert snapshot(target) == before


class TestOrdinaryGrading:
    """Honest submissions: solutions pass, stubs are recognised, wrong answers lose points."""

    def test_solutions_get_full_marks(self, kit: Kit) -> None:
        """the reference solutions pass every check"""
        run = grade_target(kit, kit.exercises, kit.solutions_dir)
        assert [e.status for e in run.exercises] == [ExerciseStatus.PASSED] * 2
        assert (run.score, run.max_score) == (14.0, 14.0)
        assert run.target == "solutions"

    def test_untouched_stubs_are_not_started_without_running(self, kit: Kit) -> None:
        """a file identical to the stub is not started, instantly"""
        started = time.monotonic()
        run = grade_target(kit, kit.exercises, kit.exercises_dir)
        assert [e.status for e in run.exercises] == [ExerciseStatus.NOT_STARTED] * 2
        assert time.monotonic() - started < 5
        assert sandbox_processes() == []

    def test_stubs_graded_for_real_fail(self, kit: Kit) -> None:
        """graded anyway (kit verification), a stub fails its checks"""
        run = grade_target(kit, kit.exercises, kit.exercises_dir, skip_untouched=False)
        assert all(e.status is ExerciseStatus.FAILED for e in run.exercises)
        ex02 = by_id(run, "ex02")
        assert all("NotImplementedError" in (c.message or "") for c in ex02.checks)

    def test_partial_credit_by_weight(self, kit: Kit, tmp_path: Path) -> None:
        """an answer right for ints but not strings earns the ints check's share (1 of 4 weight)"""
        target = make_target(kit, tmp_path / "submission", "def add(a, b):\n    return int(a) + int(b)\n")
        result = grade_exercise(kit, kit.resolve("ex02"), target)
        assert result.status is ExerciseStatus.FAILED
        assert [(c.name, c.status, c.score, c.max_score) for c in result.checks] == [
            ("adds two ints", CheckStatus.PASSED, 1.0, 1.0),
            ("adds two strings", CheckStatus.FAILED, 0.0, 3.0),
        ]
        assert result.score == 1.0

    def test_unsupported_python_is_not_graded(self, kit: Kit, tmp_path: Path) -> None:
        """an exercise needing a newer Python says so and runs nothing"""
        future = dataclasses.replace(kit.resolve("ex02"), min_python=(9, 0))
        result = grade_exercise(kit, future, make_target(kit, tmp_path / "submission", GOOD_ADD))
        assert result.status is ExerciseStatus.UNSUPPORTED
        assert result.message is not None and result.message.startswith("needs Python 9.0 or newer")

    def test_results_come_in_manifest_order(self, kit: Kit) -> None:
        """whatever finishes first, results follow the course order"""
        run = grade_target(kit, tuple(reversed(kit.exercises)), kit.solutions_dir, jobs=2)
        assert [e.id for e in run.exercises] == ["ex02", "ex01"]
        run = grade_target(kit, kit.exercises, kit.solutions_dir, jobs=1)
        assert [e.id for e in run.exercises] == ["ex01", "ex02"]

    def test_startup_allowance_is_generous(self) -> None:
        """the deadline before the first check allows a slow interpreter start"""
        assert STARTUP_S >= 10


class TestInterpreterPathsUnderIsolation:
    """Which of the interpreter's folders the child still reaches once the kit is hidden
    (pure: grader.sandbox.isolation.interpreter_path_kept)."""

    COVERS = ("/home/ada/kit",)

    @pytest.mark.parametrize(
        ("path", "venv", "kept"),
        [
            ("/usr/lib/python3.12", None, True),  # outside every hidden place
            ("/home/ada/kit/.venv/lib/python3.12/site-packages", "/home/ada/kit/.venv", True),  # README's .venv
            ("/home/ada/kit/.venv/bin", "/home/ada/kit/.venv", True),
            ("/home/ada/kit/.venv/lib/python3.12/site-packages", None, False),  # not the running venv
            ("/home/ada/kit", "/home/ada/kit/.venv", False),  # an editable install's source tree
            ("/home/ada/kit/solutions", "/home/ada/kit/.venv", False),
            ("/home/ada", None, False),  # holds the kit
            ("/", "/home/ada/kit/.venv", False),
            ("/home/ada/kit/lib", "/home/ada/kit", False),  # a venv that is the kit itself stays hidden
        ],
    )
    def test_kept(self, path: str, venv: str | None, kept: bool) -> None:
        """only the venv's own files come back from under a cover, never the kit"""
        from grader.sandbox.isolation import interpreter_path_kept

        assert interpreter_path_kept(path, self.COVERS, venv) is kept


@pytest.mark.skipif(os.getuid() != 0, reason="needs root: sandbox uids")
def test_claiming_a_uid_block_sweeps_a_killed_graders_leftovers(monkeypatch: pytest.MonkeyPatch) -> None:
    """a grader killed outright left a process under a uid of the block this one claims:
    the claim kills it first, and returns (the sweep reaps under the lock it must not hold)"""
    import threading

    from grader import sandbox

    base = sandbox.UID_BASE + sandbox.UID_BLOCK * 990  # a block no grader of this run claims
    monkeypatch.setattr(sandbox.uids, "_uids_ready", False)
    monkeypatch.setattr(sandbox.uids, "_free_uids", [])
    monkeypatch.setattr(sandbox.uids, "_uid_block", None)
    monkeypatch.setattr(sandbox.uids, "_claim_uid_block", lambda: base)
    leftover = subprocess.Popen(["sleep", "600"], user=base + 3, group=base + 3)
    got: list[int | None] = []

    def claim() -> None:
        with sandbox.uids.sandbox_uid(sandbox.Limits()) as uid:
            got.append(uid)

    worker = threading.Thread(target=claim, daemon=True)
    worker.start()
    worker.join(timeout=30)
    try:
        assert not worker.is_alive(), "claiming the uid block deadlocked"
        assert got == [base]
        leftover.wait(timeout=10)  # killed and reaped by the sweep (its status went there)
        assert not Path(f"/proc/{leftover.pid}").exists()
    finally:
        if leftover.poll() is None:
            leftover.kill()


class TestMissingNames:
    """A file that lacks the names the exercise needs says so once, for the exercise."""

    ROOT = Path(__file__).resolve().parents[2]

    def _grade(self, tmp_path: Path, text: str) -> ExerciseResult:
        from grader.manifest import load_kit

        kit = load_kit(self.ROOT)
        exercise = kit.resolve("ex01")
        (tmp_path / exercise.filename).write_text(text, encoding="utf-8")
        return grade_exercise(kit, exercise, tmp_path)

    def test_an_empty_file_is_one_message_and_no_child(self, tmp_path: Path) -> None:
        """an empty file: 'defines none of the names', without running a check"""
        result = self._grade(tmp_path, "")
        assert result.status is ExerciseStatus.ERROR and result.score == 0
        assert result.message is not None and "defines none of the names" in result.message
        assert "greet" in result.message and "main" in result.message
        assert "/tmp" not in result.message

    def test_a_missing_name_is_named_by_the_exercise_and_its_checks(self, tmp_path: Path) -> None:
        """greet defined, main not: greet's checks run and pass, main's name the missing name"""
        result = self._grade(
            tmp_path,
            "import asyncio\n\nasync def greet(name, delay):\n"
            "    await asyncio.sleep(delay)\n    return f'Hello, {name}!'\n",
        )
        assert result.status is ExerciseStatus.FAILED
        assert result.message is not None and "does not define `main`" in result.message
        failing = [c for c in result.checks if not c.passed]
        assert failing and all("does not define `main`" in (c.message or "") for c in failing)
        assert all("/tmp" not in (c.message or "") for c in result.checks)

    def test_names_bound_by_import_or_assignment_count(self, tmp_path: Path) -> None:
        """`main = ...` and `from x import greet as greet` define the names too"""
        from grader.manifest import load_kit
        from grader.sandbox.intake import missing_names  # the rule itself, without a child

        kit = load_kit(self.ROOT)
        text = "from helpers import greet\nif True:\n    main = lambda names: names\n"
        missing, needed = missing_names(kit, kit.resolve("ex01"), text)
        assert set(needed) == {"greet", "main"} and missing == ()
