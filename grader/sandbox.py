"""Grade one exercise: copy the learner's file into a temporary target, run its checks in
a limited child process, read verdicts from an authenticated pipe, and score in the parent.

DESIGN.md section 3, step by step: resolve, copy (only the allow-listed file), spawn
(``python -I -B -m grader.child``: own session, allow-listed environment, resource
limits, pytest with our ini, ``--noconftest``, plugins named explicitly, autoload off),
report (collected ids first, one line per check, then done), bound (a hard deadline per
check enforced here, which kills the whole process tree; checks that never got a verdict
are re-run in a fresh child, so one hang or crash costs one check, not the exercise),
score (here, from verdicts only: never the child's exit code or output).
"""

from __future__ import annotations

import ast
import contextlib
import ctypes
import fcntl
import json
import os
import re
import secrets
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from grader import channel, flags, warm
from grader.errors import GradingCancelled
from grader.manifest import Exercise, Kit
from grader.results import (
    CheckResult,
    CheckStatus,
    ExerciseResult,
    ExerciseStatus,
    exercise_result,
    zero_result,
)

#: The child's own pytest configuration (``-c``): nothing from the submission is read.
CHILD_INI = """\
[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
asyncio_default_test_loop_scope = function
timeout_method = signal
timeout_func_only = false
python_files = test_*.py
console_output_style = classic
filterwarnings =
    always::ResourceWarning
    always::RuntimeWarning
"""

#: Extra wall-clock seconds the parent allows past a check's own limit before killing.
HARD_MARGIN_S = 5.0
#: Seconds allowed from spawn to the first check starting (interpreter + pytest start-up).
STARTUP_S = 30.0
#: Seconds a child may linger after its last verdict before it is killed.
LINGER_S = 10.0
SANDBOX_ENV_MARK = "AWAITLINGS_SANDBOX"
PR_SET_CHILD_SUBREAPER = 36


@dataclass(frozen=True)
class Limits:
    """Resource limits for one child. Threads need address space (asyncio's default
    executor and DNS use them), hence a generous address-space limit."""

    memory_bytes: int = 4 * 1024**3
    open_files: int = 1024
    file_size_bytes: int = 64 * 1024**2
    output_bytes: int = 256 * 1024
    #: Processes and threads of the sandbox uid; applied only under a dedicated uid
    #: (RLIMIT_NPROC counts every process of the real uid, the grader's too otherwise).
    processes: int = 512
    #: When the grader runs as root: drop the child to a dedicated unprivileged uid...
    drop_uid: bool = True
    #: ...and give it private mount and network namespaces (see ``grader.isolation``).
    isolate: bool = True
    #: Extra folders the child must not see (other submissions in a batch).
    hide: tuple[str, ...] = ()
    #: Course mode: a child that reports a missing defense stops grading (exit code 3).
    strict: bool = False


#: Dedicated uids for sandboxes: a block per grader process, a uid per concurrent child.
UID_BASE = 61000
UID_BLOCK = 32
UID_BLOCKS = 1000
#: Where grader processes claim their uid blocks (root-only, so sandboxes cannot hold one).
UID_LOCKS = Path("/run/awaitlings")
#: Seconds a sweep keeps killing and reaping a sandbox uid's processes before giving up
#: (hundreds of processes with large address spaces take a while to die on a busy machine).
SWEEP_S = 5.0


@dataclass
class _Run:
    """What one child told us (authenticated lines only) and how it ended."""

    collected: list[channel.CollectedCheck] = field(default_factory=list)
    results: dict[str, channel.Result] = field(default_factory=dict)
    in_progress: str | None = None
    importing: bool = False
    done: bool = False
    tampered: bool = False
    errors: list[str] = field(default_factory=list)
    returncode: int | None = None
    killed_for: str | None = None  # "deadline" | "linger"
    output: bytes = b""
    output_cut: int = 0
    isolation: dict[str, Any] = field(default_factory=dict)
    #: Why a check is still running, as the child saw it first (check id -> its account).
    stuck: dict[str, channel.Stuck] = field(default_factory=dict)


_live_lock = threading.Lock()
_claim_lock = threading.Lock()  # held while this process claims (and sweeps) its uid block
_free_uids: list[int] = []
_uids_ready = False
_uid_block: range | None = None
_uid_lock_fd: int | None = None  # holds this process's claim on its uid block


@contextlib.contextmanager
def _sandbox_uid(limits: Limits) -> Iterator[int | None]:
    """A dedicated uid for one exercise's children, when running as root."""
    global _uids_ready, _uid_block
    if os.getuid() != 0 or not limits.drop_uid:
        yield None
        return
    with _claim_lock:
        if not _uids_ready:
            first = _claim_uid_block()
            block = range(first, first + UID_BLOCK)
            # A grader killed outright (SIGKILL, a CI runner's timeout) could not sweep;
            # whatever its sandboxes left under these uids goes now, before they are reused.
            # (Not under _live_lock: the sweep reaps, and reaping takes that lock.)
            _kill_uid(block)
            with _live_lock:
                _uid_block = block
                _free_uids.extend(block)
                _uids_ready = True
    with _live_lock:
        uid = _free_uids.pop(0)
    try:
        yield uid
    finally:
        _kill_uid(uid)
        with _live_lock:
            _free_uids.append(uid)


def uid_block() -> range | None:
    """The sandbox uids this grader process uses (claimed on first use as root), if any."""
    return _uid_block


def _claim_uid_block() -> int:
    """The first uid of a block no other grader process on this machine holds.

    Two graders whose pids agree modulo ``UID_BLOCKS`` would otherwise share uids, and
    each one's uid sweep would kill the other's sandboxes mid-check. A block is claimed
    with an exclusive ``flock`` held (the descriptor never closed) for this process's
    life, starting from the pid's block and moving on to the next free one.
    """
    global _uid_lock_fd
    start = os.getpid() % UID_BLOCKS
    try:
        UID_LOCKS.mkdir(mode=0o700, exist_ok=True)
        for step in range(UID_BLOCKS):
            block = (start + step) % UID_BLOCKS
            fd = os.open(UID_LOCKS / f"uid-block-{block}.lock", os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                continue
            _uid_lock_fd = fd
            return UID_BASE + block * UID_BLOCK
    except OSError:
        pass  # no /run to claim in: fall back to the pid's block
    return UID_BASE + start * UID_BLOCK


#: pids of the children this process spawned and has not yet waited for (never reaped by
#: the orphan sweep, which would steal their exit status from ``Popen.wait``).
_live_children: set[int] = set()
_subreaper_set = False


def grade_exercise(
    kit: Kit,
    exercise: Exercise,
    target: Path,
    *,
    limits: Limits | None = None,
    skip_untouched: bool = True,
    cancel: threading.Event | None = None,
) -> ExerciseResult:
    """Grade ``exercise`` as found in ``target`` (a folder with the learner's files).

    A file identical to the stub is ``not_started`` without running anything, unless
    ``skip_untouched`` is false (the kit's own verification grades stubs for real).
    Setting ``cancel`` (``grade watch`` quitting) kills the child's whole process tree
    within half a second and raises :class:`GradingCancelled`.
    """
    limits = limits or Limits()
    started = time.monotonic()
    if not exercise.supported():
        needed = ".".join(map(str, exercise.min_python))
        return _zero(
            exercise,
            status=ExerciseStatus.UNSUPPORTED,
            message=f"needs Python {needed} or newer; this is {sys.version.split()[0]}",
        )
    source = _Source()
    problem, status = _check_source(kit, exercise, target, skip_untouched, source)
    if problem is not None:
        return _zero(exercise, status=status, message=problem)
    checks_src = kit.checks_path(exercise)
    if not checks_src.is_file():
        from grader.errors import KitError

        raise KitError(f"the checks for {exercise.id} are missing: {checks_src}")
    with (
        tempfile.TemporaryDirectory(prefix=f"awaitlings-{exercise.id}-") as tmp,
        _sandbox_uid(limits) as uid,
    ):
        work = Path(tmp)
        outcome = _run_all(work, checks_src, source.raw, exercise, limits, uid, kit, cancel)
    if cancel is not None and cancel.is_set():
        raise GradingCancelled(f"grading {exercise.id} was cancelled")
    if limits.strict:
        _require_isolation(exercise, outcome)
    result = _score(exercise, outcome, time.monotonic() - started)
    if source.missing and result.message is None and result.status is ExerciseStatus.FAILED:
        names = ", ".join(f"`{name}`" for name in source.missing)
        result = replace(
            result,
            message=f"{exercise.filename} does not define {names}: the checks that use "
            f"{'it' if len(source.missing) == 1 else 'them'} cannot pass until it does.",
        )
    return replace(result, flags=source.flags.suspicious) if source.flags.suspicious else result


@dataclass
class _Source:
    """The learner's file, read once: what is checked is exactly what is graded."""

    raw: bytes = b""
    flags: flags.Flags = field(default_factory=lambda: flags.Flags((), ()))
    #: Names the exercise needs (the stub's public functions and classes) the file lacks.
    missing: tuple[str, ...] = ()


def _missing_names(kit: Kit, exercise: Exercise, text: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The names the exercise's checks use from the learner's module (``ex.greet``) that
    ``text`` does not define, and all of those names."""
    try:
        checks = kit.checks_path(exercise).read_text(encoding="utf-8")
        mine = ast.parse(text)
    except (OSError, SyntaxError, ValueError, RecursionError, MemoryError):
        return (), ()
    needed = tuple(sorted(set(re.findall(r"\bex\.([A-Za-z_]\w*)", checks))))
    return tuple(name for name in needed if name not in _top_level_names(mine)), needed


def _top_level_names(tree: ast.Module) -> set[str]:
    """Names a module binds at top level (defs, classes, assignments, imports), also
    inside top-level ``if``/``try`` blocks."""
    names: set[str] = set()
    pending: list[ast.stmt] = list(tree.body)
    while pending:
        node = pending.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        elif isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                names.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
        elif isinstance(node, ast.If | ast.Try | ast.With):
            for field_name in ("body", "orelse", "finalbody", "handlers"):
                for child in getattr(node, field_name, []):
                    pending.extend(child.body if isinstance(child, ast.ExceptHandler) else [child])
    return names


def _check_source(
    kit: Kit, exercise: Exercise, target: Path, skip_untouched: bool, source: _Source
) -> tuple[str | None, ExerciseStatus]:
    """Catch what needs no child: missing, unreadable, not UTF-8, syntax error, untouched stub."""
    path = target / exercise.filename
    if not path.is_file():
        return (
            f"{exercise.filename} is missing from {target}: create it, or run "
            f"`grade reset {exercise.id}` to get the stub back.",
            ExerciseStatus.ERROR,
        )
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return f"cannot read {exercise.filename}: {exc.strerror}", ExerciseStatus.ERROR
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        return (
            f"{exercise.filename} is not valid UTF-8 (byte {raw[exc.start]:#04x} on line {line}): "
            "save it as UTF-8 in your editor.",
            ExerciseStatus.ERROR,
        )
    if skip_untouched and kit.untouched(exercise, raw):
        return "not started yet: the file is still the stub", ExerciseStatus.NOT_STARTED
    try:
        compile(text, str(path), "exec", dont_inherit=True)
    except SyntaxError as exc:
        where = f"line {exc.lineno}" + (f", column {exc.offset}" if exc.offset else "")
        source_line = (exc.text or "").rstrip()
        shown = f"\n    {source_line}" if source_line else ""
        return f"{exercise.filename} has a syntax error at {where}: {exc.msg}{shown}", ExerciseStatus.ERROR
    except (ValueError, RecursionError, MemoryError) as exc:
        return f"{exercise.filename} cannot be compiled: {exc}", ExerciseStatus.ERROR
    found = flags.scan(text, exercise.allow_imports)
    source.raw, source.flags = raw, found
    source.missing, needed = _missing_names(kit, exercise, text)
    if needed and len(source.missing) == len(needed):
        return (
            f"{exercise.filename} defines none of the names this exercise needs "
            f"({', '.join(needed)}). Start from the stub (`grade reset {exercise.id}` gives it "
            "back; your file is backed up first), or define them yourself.",
            ExerciseStatus.ERROR,
        )
    if found.forbidden:
        return (
            f"{exercise.filename} reaches into the grader or the test framework "
            f"({'; '.join(found.forbidden)}): submissions may not. Scored zero.",
            ExerciseStatus.ERROR,
        )
    return None, ExerciseStatus.PASSED


def _run_all(
    work: Path,
    checks_src: Path,
    learner: bytes,
    exercise: Exercise,
    limits: Limits,
    uid: int | None,
    kit: Kit,
    cancel: threading.Event | None = None,
) -> _Run:
    """Run the checks, re-running the ones left without a verdict after a crash or kill."""
    target = work / "target"
    target.mkdir()
    (work / "tmp").mkdir()
    (target / exercise.filename).write_bytes(learner)
    shutil.copyfile(checks_src, work / checks_src.name)
    (work / "pytest.ini").write_text(CHILD_INI, encoding="utf-8")
    if uid is not None:
        os.chmod(work, 0o755)  # the sandbox uid reads its checks and ini here, writes nowhere
        for path in (target, work / "tmp", target / exercise.filename):
            os.chown(path, uid, uid)
    total = _Run()
    selection: list[str] = []
    for _attempt in range(64):
        run = _spawn(work, checks_src.name, selection, exercise, limits, uid, kit, cancel)
        if cancel is not None and cancel.is_set():
            break
        if not total.collected:
            total.collected = run.collected
        total.results.update(run.results)
        total.tampered |= run.tampered
        total.isolation = total.isolation or run.isolation
        total.errors += run.errors
        total.output += run.output
        total.output_cut += run.output_cut
        # "done" alone is not enough: a pytest INTERNALERROR (say, the learner's processes
        # used up the thread limit) still ends the session, leaving checks without verdicts.
        finished = run.done and all(c.id in total.results for c in total.collected)
        if finished or run.tampered or not run.collected:
            total.returncode, total.killed_for = run.returncode, run.killed_for
            break
        stuck = run.in_progress
        if stuck is not None and stuck not in run.results:
            total.results[stuck] = _no_verdict(run, stuck, exercise)
        if run.importing:
            # The learner's module kills the process at import: every other check would too.
            for check in total.collected:
                total.results.setdefault(check.id, _no_verdict(run, check.id, exercise))
            break
        remaining = [c.id for c in total.collected if c.id not in total.results]
        # Re-run what is left only if this run got somewhere (a verdict, or a check to
        # blame): a child that dies before its first check would die again.
        progressed = bool(run.results) or stuck is not None
        if not remaining or not progressed:
            total.returncode, total.killed_for = run.returncode, run.killed_for
            for check_id in remaining:
                total.results[check_id] = _no_verdict(run, check_id, exercise)
            break
        selection = remaining
    return total


def _no_verdict(run: _Run, check_id: str, exercise: Exercise) -> channel.Result:
    """The verdict for a check whose run ended without one (DESIGN.md section 3, step 6)."""
    if run.killed_for == "deadline" and run.importing:
        return channel.Result(
            check_id,
            "error",
            (
                f"Stopped by the grader: importing your module did not finish within "
                f"{exercise.timeout:g}s and could not be interrupted from inside (module-level "
                "code that loops forever or catches the timeout). Module-level code should only "
                'define things: put script code under `if __name__ == "__main__":`.'
            ),
            import_error=True,
        )
    if run.killed_for == "deadline" and check_id in run.stuck:
        return channel.Result(check_id, run.stuck[check_id].status, run.stuck[check_id].message)
    if run.killed_for == "deadline":
        return channel.Result(
            check_id,
            "timeout",
            (
                f"Stopped by the grader: this check ran past its {exercise.timeout:g}s limit and "
                "could not be interrupted from inside (a long computation, a blocking call, or "
                "code that catches the timeout). Make sure your code awaits and returns."
            ),
        )
    code = run.returncode
    if code is not None and code < 0:
        sig = signal.Signals(-code).name
        why = " (probably the memory limit)" if sig in {"SIGKILL", "SIGSEGV", "SIGABRT"} else ""
        detail = f"the process was killed by {sig}{why}"
    else:
        detail = f"the Python process exited (exit code {code})"
    during = "while importing your module" if run.importing else "during this check"
    return channel.Result(
        check_id,
        "error",
        (
            f"The check run ended {during}: {detail}. Does your code call sys.exit(), "
            "os._exit() or exhaust memory? Grading code must return, not end the process."
        ),
        import_error=run.importing,
    )


def _spawn(
    work: Path,
    checks_name: str,
    selection: list[str],
    exercise: Exercise,
    limits: Limits,
    uid: int | None,
    kit: Kit,
    cancel: threading.Event | None = None,
    *,
    warm_ok: bool = True,
) -> _Run:
    _become_subreaper()
    read_fd, write_fd = os.pipe()
    key = secrets.token_hex(16)
    mark = secrets.token_hex(8)
    per_check = exercise.timeout
    # CPU seconds: a backstop behind the wall-clock deadline, sized for every check to
    # use its whole limit (the child is re-run, with a fresh budget, after a kill).
    settings = _settings(work, kit, limits, uid, cpu_seconds=30 + 16 * (per_check + HARD_MARGIN_S))
    ids = [str(work / s) for s in selection] or [str(work / checks_name)]
    cmd = [
        sys.executable, "-I", "-B", "-m", "grader.child", json.dumps(settings), "--",
        "-c", str(work / "pytest.ini"), "--rootdir", str(work), "--noconftest",
        "-p", "grader.plugin", "-p", "pytest_asyncio.plugin", "-p", "pytest_timeout",
        "-p", "no:cacheprovider", "-p", "no:stepwise", "-q", "--no-header", "-rN",
        "--awaitlings-target", str(work / "target"), "--awaitlings-fd", str(write_fd),
        "--awaitlings-limit", str(per_check),
        *ids,
    ]  # fmt: skip
    env = _child_env(work, mark)
    run = _Run()
    since = _clock_ticks()
    proc: subprocess.Popen[bytes] | warm.WarmProcess | None = None
    server = warm.server(register=_record_child) if warm_ok else None
    if server is not None:
        job = warm.Job(settings, ["@RESULTS_FD@" if a == str(write_fd) else a for a in cmd[cmd.index("--") + 1 :]],
                       str(work / "target"), env, key)  # fmt: skip
        out_r, out_w = os.pipe()
        try:
            proc = warm.WarmProcess(server, server.start(job, write_fd, out_w), out_r)
        except warm.WarmLost:
            os.close(out_r)
        finally:
            os.close(out_w)
    try:
        if proc is None:
            # Spawned and recorded under the lock: until it is in ``_live_children``, another
            # thread's sweep could take this new child of ours for an adopted orphan.
            with _live_lock:
                proc = subprocess.Popen(
                    cmd,
                    cwd=work / "target",
                    env=env,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    pass_fds=(write_fd,),
                    start_new_session=True,
                )
                _live_children.add(proc.pid)
    finally:
        os.close(write_fd)
    try:
        assert proc.stdout is not None
        if isinstance(proc, subprocess.Popen):
            assert proc.stdin is not None
            with contextlib.suppress(OSError):
                proc.stdin.write(key.encode() + b"\n")
                proc.stdin.close()
        _read(proc, read_fd, key.encode(), run, exercise, limits, cancel)
    except warm.WarmLost:
        lost = True
    else:
        lost = False
    finally:
        os.close(read_fd)
        _kill_tree(proc, mark, since)
        if isinstance(proc, subprocess.Popen):
            run.returncode = proc.wait()
            with _live_lock:
                _live_children.discard(proc.pid)
        if proc.stdout:
            proc.stdout.close()
    if isinstance(proc, warm.WarmProcess):
        try:
            run.returncode = proc.wait(timeout=STARTUP_S)
        except (warm.WarmLost, subprocess.TimeoutExpired):
            lost = True
    if lost:
        # The warm child died under this run (not the learner's process: its exit code is
        # unknown): the run is redone in a fresh interpreter, so no verdict depends on it.
        return _spawn(work, checks_name, selection, exercise, limits, uid, kit, cancel, warm_ok=False)
    return run


def warm_up() -> None:
    """Start the warm child now, so its imports overlap the caller's own start-up."""
    _become_subreaper()
    warm.server(register=_record_child)


def _record_child(pid: int) -> None:
    with _live_lock:
        _live_children.add(pid)


def _settings(work: Path, kit: Kit, limits: Limits, uid: int | None, cpu_seconds: float = 60) -> dict[str, Any]:
    """What ``grader.child`` applies before running anything."""
    return {
        "limits": {
            "cpu_seconds": int(cpu_seconds),
            "memory_bytes": limits.memory_bytes,
            "open_files": limits.open_files,
            "file_size_bytes": limits.file_size_bytes,
            "processes": limits.processes if uid is not None else None,
        },
        "uid": uid,
        "gid": uid,
        "isolate": _isolation_spec(work, kit, limits) if os.getuid() == 0 and limits.isolate else None,
    }


def _child_env(work: Path, mark: str) -> dict[str, str]:
    """The child's whole environment: an allow-list, nothing inherited by default."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "HOME": str(work / "target"),
        "TMPDIR": str(work / "tmp"),
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
        "MALLOC_ARENA_MAX": "2",
        "NO_COLOR": "1",
        SANDBOX_ENV_MARK: mark,
    }


def probe(kit: Kit, limits: Limits | None = None) -> dict[str, Any]:
    """Start a child exactly as grading would, and return what it achieved (``grade doctor``)."""
    limits = limits or Limits()
    _become_subreaper()
    with tempfile.TemporaryDirectory(prefix="awaitlings-probe-") as tmp, _sandbox_uid(limits) as uid:
        work = Path(tmp)
        for sub in ("target", "tmp"):
            (work / sub).mkdir()
            if uid is not None:
                os.chown(work / sub, uid, uid)
        if uid is not None:
            os.chmod(work, 0o755)
        cmd = [sys.executable, "-I", "-B", "-m", "grader.child", json.dumps(_settings(work, kit, limits, uid)),
               "--", "--probe"]  # fmt: skip
        done = subprocess.run(
            cmd, cwd=work / "target", env=_child_env(work, "probe"), input=b"probe\n",
            capture_output=True, timeout=60, check=False,
        )  # fmt: skip
    try:
        result: dict[str, Any] = json.loads(done.stdout.decode("utf-8", "replace").strip().splitlines()[-1])
    except (ValueError, IndexError):
        return {"error": (done.stderr or done.stdout).decode("utf-8", "replace")[-2000:]}
    result["expected_uid"] = uid
    return result


def _isolation_spec(work: Path, kit: Kit, limits: Limits) -> dict[str, Any]:
    import grader

    package = Path(grader.__file__).resolve().parent
    hide = [str(kit.root), *limits.hide]
    # An editable install runs the grader from a course source tree, which holds solutions
    # and hidden checks even when the kit being graded lives elsewhere: hide it as well
    # (its grader package stays, kept below). A site-packages parent is never a kit.
    if (package.parent / "exercises" / "exercises.toml").is_file():
        hide.append(str(package.parent))
    return {"hide": hide, "keep": [str(work), str(package)], "network": True}


def _read(
    proc: subprocess.Popen[bytes] | warm.WarmProcess,
    read_fd: int,
    key: bytes,
    run: _Run,
    exercise: Exercise,
    limits: Limits,
    cancel: threading.Event | None = None,
) -> None:
    """Read results and output until both close, the child lingers, or a deadline passes."""
    assert proc.stdout is not None
    limit_of: dict[str, float] = {}
    deadline = time.monotonic() + STARTUP_S
    exited_at: float | None = None
    sel = selectors.DefaultSelector()
    sel.register(read_fd, selectors.EVENT_READ, "results")
    sel.register(proc.stdout.fileno(), selectors.EVENT_READ, "output")
    open_streams = 2
    reader = channel.Reader(key)
    try:
        while open_streams:
            now = time.monotonic()
            if now >= deadline:
                run.killed_for = "deadline"
                return
            if cancel is not None and cancel.is_set():
                run.killed_for = "cancelled"
                return
            if exited_at is None and proc.poll() is not None:
                exited_at = now
                deadline = min(deadline, now + 1.0)  # a grandchild may hold the pipes open
            for sel_key, _ in sel.select(timeout=min(0.5, deadline - now)):
                chunk = os.read(sel_key.fd, 65536)
                if not chunk:
                    sel.unregister(sel_key.fd)
                    open_streams -= 1
                    continue
                if sel_key.data == "output":
                    room = limits.output_bytes - len(run.output)
                    run.output += chunk[: max(room, 0)]
                    run.output_cut += max(len(chunk) - max(room, 0), 0)
                    continue
                try:
                    for message in reader.feed(chunk):
                        deadline = _handle(message, run, limit_of, exercise, deadline)
                except channel.Tampered as exc:
                    run.tampered = True
                    run.errors.append(str(exc))
                    return
                run.tampered |= reader.rejected > 0
    finally:
        sel.close()


def _handle(
    message: channel.Message, run: _Run, limit_of: dict[str, float], exercise: Exercise, deadline: float
) -> float:
    """Apply one verified message; return the new hard deadline."""
    now = time.monotonic()
    match message:
        case channel.Hello(isolation=isolation):
            run.isolation = dict(isolation)
        case channel.Collected(checks=checks):
            run.collected = list(checks)
            for check in checks:
                limit_of[check.id] = check.limit if check.limit is not None else exercise.timeout
            return now + STARTUP_S
        case channel.Start(id=check_id):
            run.in_progress = check_id
            run.importing = False
            return now + limit_of.get(check_id, exercise.timeout) + HARD_MARGIN_S
        case channel.Importing():
            run.importing = True
        case channel.Imported():
            run.importing = False
        case channel.Result(id=check_id):
            run.results[check_id] = message
            run.in_progress = None
            run.importing = False
            return now + LINGER_S + STARTUP_S
        case channel.Error(message=text):
            run.errors.append(text)
        case channel.Stuck(id=check_id):
            run.stuck.setdefault(check_id, message)  # the first account is the cause
        case channel.Done():
            run.done = True
            return now + LINGER_S
    return deadline


def _require_isolation(exercise: Exercise, run: _Run) -> None:
    iso = run.isolation
    missing = [
        what
        for what, ok in (
            ("a dedicated uid", iso.get("uid") not in (None, 0)),
            ("a mount namespace", iso.get("mount_ns")),
            ("a network namespace", iso.get("net_ns") and iso.get("loopback_up")),
        )
        if not ok
    ]
    if missing and run.collected:
        from grader.errors import GraderError

        raise GraderError(
            f"course mode: the sandbox for {exercise.id} ran without {', '.join(missing)}; refusing to grade. "
            "`grade doctor` shows what this machine supports."
        )


def _zero(
    exercise: Exercise,
    *,
    status: ExerciseStatus,
    message: str | None,
    checks: list[CheckResult] | None = None,
    duration_s: float = 0.0,
) -> ExerciseResult:
    return zero_result(
        id=exercise.id, slug=exercise.slug, title=exercise.title, points=exercise.points,
        status=status, message=message, checks=checks or (), duration_s=duration_s,
    )  # fmt: skip


def _score(exercise: Exercise, run: _Run, duration: float) -> ExerciseResult:
    if run.tampered:
        return _zero(
            exercise,
            status=ExerciseStatus.ERROR,
            message=(
                "The grader's result channel received lines it did not send: the submission "
                "interfered with grading. Scored zero."
            ),
            duration_s=duration,
        )
    if not run.collected:
        tail = run.output.decode("utf-8", "replace")[-1500:].strip()
        detail = "\n".join(run.errors) or tail or "no output"
        from grader.errors import KitError

        raise KitError(f"the checks for {exercise.id} could not be collected: {detail}")
    checks = []
    import_message = None
    for check in run.collected:
        verdict = run.results.get(check.id) or channel.Result(check.id, "error", "no verdict")
        status = CheckStatus(verdict.status)
        if verdict.import_error and import_message is None:
            import_message = verdict.message
        checks.append(
            CheckResult(
                id=check.id,
                name=check.name,
                status=status,
                weight=check.weight,
                hidden=check.hidden,
                hint=check.hint,
                timing=check.timing,
                message=verdict.message if status is not CheckStatus.PASSED else None,
                output=verdict.output,
                duration_s=verdict.duration,
            )
        )
    if import_message:
        return _zero(exercise, status=ExerciseStatus.ERROR, message=import_message, checks=checks, duration_s=duration)
    return exercise_result(
        id=exercise.id, slug=exercise.slug, title=exercise.title, points=exercise.points,
        checks=checks, duration_s=duration,
    )  # fmt: skip


# --- process-tree clean-up ------------------------------------------------------------


def _become_subreaper() -> None:
    """Orphaned grandchildren (double-fork daemons) are re-parented to us, not to init,
    so the sweep below can find and reap them."""
    global _subreaper_set
    if _subreaper_set:
        return
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    _subreaper_set = True


def _kill_tree(proc: subprocess.Popen[bytes] | warm.WarmProcess, mark: str, since: int) -> None:
    """SIGKILL the child's process group and session, any process carrying this run's
    environment mark, any orphan re-parented to us since ``since`` (clock ticks), and
    every descendant of those; then reap those that became our children. Our own Popen
    children are left to ``Popen.wait``.

    The orphans matter without root (no uid to sweep): a daemon that calls ``setsid`` and
    then ``execve`` with an empty environment carries neither our session nor our mark,
    but as the subreaper we inherit it when its parent exits. Descendants are walked so
    a daemon's own children go too, however deep, in one pass.
    """
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    killed: set[int] = set()
    me = os.getpid()
    for _ in range(5):
        table = _process_table()
        roots = {pid for pid in table if pid != me and _belongs(pid, proc.pid, mark)}
        with _live_lock:  # a child another thread is spawning (under this lock) is no orphan
            roots |= {
                pid
                for pid, (ppid, started, _zombie) in table.items()
                if ppid == me and pid not in _live_children and started >= since
            }
        tree = _with_descendants(roots | {proc.pid}, table) - {me}
        victims = [pid for pid in tree if pid in table and not table[pid][2]]  # zombies are dead already
        if not victims:
            break
        for pid in victims:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
            killed.add(pid)
        time.sleep(0.01)
        _reap(killed)
    _reap(killed)


def _reap(pids: set[int]) -> None:
    with _live_lock:
        for pid in list(pids):
            if pid in _live_children:
                continue
            try:
                if os.waitpid(pid, os.WNOHANG)[0] == pid:
                    pids.discard(pid)
            except ChildProcessError:
                pids.discard(pid)  # not ours to reap (its own parent will)


def _kill_uid(uid: int | range) -> None:
    """Kill every process of a sandbox uid, or of a block of them (nothing else ever runs
    under them) and reap those re-parented to us, until none is left: a fixed few rounds
    left hundreds of dying processes (a capped fork bomb) behind, and their zombies
    unreaped, on a busy machine."""
    uids = range(uid, uid + 1) if isinstance(uid, int) else uid
    give_up = time.monotonic() + SWEEP_S
    pause = 0.01
    while True:
        victims = []
        for pid in _processes():
            try:
                with open(f"/proc/{pid}/status", "rb") as fh:
                    for line in fh:
                        if line.startswith(b"Uid:"):
                            if int(line.split()[1]) in uids:
                                victims.append(pid)
                            break
            except (OSError, ValueError, IndexError):
                continue
        if not victims or time.monotonic() > give_up:
            return
        for pid in victims:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(pause)
        pause = min(pause * 2, 0.2)
        _reap(set(victims))


def _processes() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def _process_table() -> dict[int, tuple[int, int, bool]]:
    """Every process: pid -> (parent pid, start time in clock ticks since boot, zombie)."""
    table: dict[int, tuple[int, int, bool]] = {}
    for pid in _processes():
        try:
            with open(f"/proc/{pid}/stat", "rb") as fh:
                stat = fh.read()
            fields = stat[stat.rindex(b")") + 2 :].split()
            table[pid] = (int(fields[1]), int(fields[19]), fields[0] == b"Z")
        except (OSError, ValueError, IndexError):
            continue
    return table


def _with_descendants(roots: set[int], table: dict[int, tuple[int, int, bool]]) -> set[int]:
    children: dict[int, list[int]] = {}
    for pid, (ppid, _started, _zombie) in table.items():
        children.setdefault(ppid, []).append(pid)
    found: set[int] = set()
    todo = list(roots)
    while todo:
        pid = todo.pop()
        if pid not in found:
            found.add(pid)
            todo.extend(children.get(pid, ()))
    return found


def _clock_ticks() -> int:
    """Now, in the unit of /proc/<pid>/stat start times (a tick early, for rounding)."""
    try:
        with open("/proc/uptime", encoding="ascii") as fh:
            return int(float(fh.read().split()[0]) * os.sysconf("SC_CLK_TCK")) - 1
    except (OSError, ValueError, IndexError):
        return 0


def _belongs(pid: int, session: int, mark: str) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read()
        fields = stat[stat.rindex(b")") + 2 :].split()
        if fields[0] == b"Z":
            return False
        pgid, sid = int(fields[2]), int(fields[3])
        if session in (pgid, sid):
            return True
        with open(f"/proc/{pid}/environ", "rb") as fh:
            return f"{SANDBOX_ENV_MARK}={mark}".encode() in fh.read().split(b"\0")
    except (OSError, ValueError, IndexError):
        return False
