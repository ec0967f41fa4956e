"""Starting a child: its settings (limits, uid, isolation), its allow-listed environment
and arguments, forked from the warm child or started fresh; then reading it to the end
and killing whatever it left behind."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grader.manifest import Exercise, Kit
from grader.sandbox import config, warm
from grader.sandbox.config import EXIT_GRACE_S, SANDBOX_ENV_MARK, STARTUP_S, Limits
from grader.sandbox.reading import Run, read_child
from grader.sandbox.tree import become_subreaper, clock_ticks, kill_tree, live_children, live_lock
from grader.sandbox.uids import sandbox_uid


@dataclass(frozen=True)
class Workspace:
    """One exercise's grading, shared by every child started for it."""

    kit: Kit
    exercise: Exercise
    #: The work folder: the checks file, the child's ini, ``target/`` and ``tmp/``.
    work: Path
    checks_name: str
    limits: Limits
    #: The dedicated uid its children run as (root only), else None.
    uid: int | None
    #: Set when grading is abandoned (``grade watch`` quitting): the child is killed.
    cancel: threading.Event | None = None
    #: SHA-256 of the learner's file as the parent scanned it: the only bytes the child runs.
    learner_sha256: str = ""


def spawn(space: Workspace, selection: list[str], *, warm_ok: bool = True) -> Run:
    """Run the checks in ``selection`` (all when empty) in one child; what it told."""
    kit, exercise, work, limits, uid, cancel = (
        space.kit, space.exercise, space.work, space.limits, space.uid, space.cancel
    )  # fmt: skip
    checks_name = space.checks_name
    become_subreaper()
    read_fd, write_fd = os.pipe()
    key = secrets.token_hex(16)
    mark = secrets.token_hex(8)
    limit = exercise.limit
    # CPU seconds: a backstop behind the wall-clock deadline, sized for every check to
    # use its whole limit (the child is re-run, with a fresh budget, after a kill).
    settings = child_settings(work, kit, limits, uid, cpu_seconds=30 + 16 * (limit + config.HARD_MARGIN_S))
    settings["learner_sha256"] = space.learner_sha256
    ids = [str(work / s) for s in selection] or [str(work / checks_name)]
    cmd = [
        sys.executable, "-I", "-B", "-m", "grader.sandbox.child", json.dumps(settings), "--",
        "-c", str(work / "pytest.ini"), "--rootdir", str(work), "--noconftest",
        "-p", "grader.plugin", "-p", "pytest_asyncio.plugin", "-p", "pytest_timeout",
        "-p", "no:cacheprovider", "-p", "no:stepwise", "-q", "--no-header", "-rN",
        "--awaitlings-target", str(work / "target"), "--awaitlings-fd", str(write_fd),
        "--awaitlings-limit", str(limit),
        *ids,
    ]  # fmt: skip
    env = child_env(work, mark)
    run = Run()
    since = clock_ticks()
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
            # Spawned and recorded under the lock: until it is in ``live_children``, another
            # thread's sweep could take this new child of ours for an adopted orphan.
            with live_lock:
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
                live_children.add(proc.pid)
    finally:
        os.close(write_fd)
    lost = False
    try:
        assert proc.stdout is not None
        if isinstance(proc, subprocess.Popen):
            assert proc.stdin is not None
            with contextlib.suppress(OSError):
                proc.stdin.write(key.encode() + b"\n")
                proc.stdin.close()
        read_child(proc, read_fd, key.encode(), run, exercise, limits, cancel)
    except warm.WarmLost:
        lost = True
    finally:
        os.close(read_fd)
        if run.killed_for is None and not run.tampered and not lost:
            # Both streams closed by themselves: the run has ended, and its relay
            # (grader.sandbox.pidns) is about to end the same way; its own exit status,
            # not the kill below, is the true one.
            with contextlib.suppress(subprocess.TimeoutExpired, warm.WarmLost):
                proc.wait(timeout=EXIT_GRACE_S)
        # The run's first message said whether it had a PID namespace (before any learner
        # code ran): then nothing of it can be re-parented to this process.
        kill_tree(proc, mark, since, adopt_orphans=not run.isolation.get("pid_ns"))
        if isinstance(proc, subprocess.Popen):
            run.returncode = proc.wait()
            with live_lock:
                live_children.discard(proc.pid)
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
        return spawn(space, selection, warm_ok=False)
    return run


def warm_up() -> None:
    """Start the warm child now, so its imports overlap the caller's own start-up."""
    become_subreaper()
    warm.server(register=_record_child)


def _record_child(pid: int) -> None:
    with live_lock:
        live_children.add(pid)


def child_settings(work: Path, kit: Kit, limits: Limits, uid: int | None, cpu_seconds: float = 60) -> dict[str, Any]:
    """What ``grader.sandbox.child`` applies before running anything."""
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
        # Not root, the child builds the same in a user namespace of its own where the
        # kernel allows one (grader.sandbox.isolation); its private tmpfs is then the
        # grading user's.
        "isolate": _isolation_spec(work, kit, limits, uid if os.getuid() == 0 else os.getuid())
        if limits.isolate
        else None,
    }


def child_env(work: Path, mark: str) -> dict[str, str]:
    """The child's whole environment: an allow-list, nothing inherited by default."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "HOME": str(work / "tmp"),
        "TMPDIR": str(work / "tmp"),
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
        "MALLOC_ARENA_MAX": "2",
        "NO_COLOR": "1",
        SANDBOX_ENV_MARK: mark,
    }


def probe(kit: Kit, limits: Limits | None = None) -> dict[str, Any]:
    """Start a child exactly as grading would, and return what it achieved (``grade doctor``)."""
    limits = limits or Limits()
    become_subreaper()
    with tempfile.TemporaryDirectory(prefix="awaitlings-probe-") as tmp, sandbox_uid(limits) as uid:
        work = Path(tmp)
        for sub in ("target", "tmp"):
            (work / sub).mkdir()
        if uid is not None:  # as grading lays it out (grader.sandbox.workdir): only tmp/ is the uid's
            os.chmod(work, 0o755)
            os.chmod(work / "target", 0o755)
            os.chown(work / "tmp", uid, uid)
        settings = json.dumps(child_settings(work, kit, limits, uid))
        cmd = [sys.executable, "-I", "-B", "-m", "grader.sandbox.child", settings, "--", "--probe"]
        done = subprocess.run(
            cmd, cwd=work / "target", env=child_env(work, "probe"), input=b"probe\n",
            capture_output=True, timeout=60, check=False,
        )  # fmt: skip
    try:
        result: dict[str, Any] = json.loads(done.stdout.decode("utf-8", "replace").strip().splitlines()[-1])
    except (ValueError, IndexError):
        return {"error": (done.stderr or done.stdout).decode("utf-8", "replace")[-2000:]}
    result["expected_uid"] = uid
    return result


def _isolation_spec(work: Path, kit: Kit, limits: Limits, uid: int | None) -> dict[str, Any]:
    import grader

    package = Path(grader.__file__).resolve().parent
    hide = [str(kit.root), *limits.hide]
    # An editable install runs the grader from a course source tree, which holds solutions
    # and hidden checks even when the kit being graded lives elsewhere: hide it as well
    # (its grader package stays, kept below). A site-packages parent is never a kit.
    if (package.parent / "exercises" / "exercises.toml").is_file():
        hide.append(str(package.parent))
    # The child's one writable folder is a private tmpfs in its own mount namespace: what
    # it writes there never reaches the parent's disk, and goes with the namespace.
    private = {"path": str(work / "tmp"), "uid": uid, "size": limits.tmp_bytes} if uid is not None else None
    # The rest of the work folder (the learner's scanned copy, the checks, the ini) is
    # read-only, to the grading user's own uid too: a check re-run in a fresh child must
    # import the checks the kit wrote. Without a private tmpfs (a child left root), its
    # scratch folder is the real one, kept writable.
    scratch = [] if private else [str(work / "tmp")]
    return {
        "hide": hide,
        "keep": [str(work), str(package), *scratch],
        "writable": scratch,
        "network": True,
        "private": private,
        "user_namespace": limits.user_namespace,
        "landlock_only": limits.landlock_only,
    }
