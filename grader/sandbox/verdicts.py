"""From what a child told to an exercise's result: verdicts for checks left without one,
the score (from verdicts only, never the child's exit code or output), course mode's
isolation requirement."""

from __future__ import annotations

import os
import signal

from grader import channel
from grader.manifest import Exercise
from grader.results import CheckResult, CheckStatus, ExerciseResult, ExerciseStatus, exercise_result, zero_result
from grader.sandbox.reading import Run


def no_verdict(run: Run, check_id: str, exercise: Exercise) -> channel.Result:
    """The verdict for a check whose run ended without one (DESIGN.md section 3, step 6)."""
    if run.killed_for == "deadline" and run.importing:
        return channel.Result(
            check_id,
            "error",
            (
                f"Stopped by the grader: importing your module did not finish within "
                f"{exercise.limit:g}s and could not be interrupted from inside (module-level "
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
                f"Stopped by the grader: this check ran past its {exercise.limit:g}s limit and "
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


def require_isolation(exercise: Exercise, run: Run) -> None:
    iso = run.isolation
    missing = [
        what
        for what, ok in (
            ("a dedicated uid", iso.get("uid") not in (None, 0)),
            ("a mount namespace", iso.get("mount_ns")),
            ("a network namespace", iso.get("net_ns") and iso.get("loopback_up")),
            ("a PID namespace", iso.get("pid_ns")),
        )
        if not ok
    ]
    if missing and run.collected:
        from grader.errors import GraderError

        raise GraderError(
            f"course mode: the sandbox for {exercise.id} ran without {', '.join(missing)}; refusing to grade. "
            "`grade doctor` shows what this machine supports."
        )


def zero(
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


def _closed_to_others() -> list[str]:
    """The interpreter's folders that a user other than their owner cannot reach (some
    folder on the way lacks r-x for others): a child of the sandbox's uid that is not given
    the namespaces' root cannot import from them."""
    from pathlib import Path

    from grader.sandbox.isolation import interpreter_paths

    def reachable(path: Path) -> bool:
        return all(os.stat(p).st_mode & 0o005 == 0o005 for p in [path, *path.parents])

    return [p for p in interpreter_paths() if not reachable(Path(p))]


def score(exercise: Exercise, run: Run, duration: float) -> ExerciseResult:
    if run.tampered:
        return zero(
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
        # An import or a codec the child could not load, from a root grader whose child runs
        # under another uid: most likely an interpreter out of that uid's reach.
        suspect = os.getuid() == 0 and ("No module named" in detail or "unknown encoding" in detail)
        unreadable = _closed_to_others() if suspect else []
        if unreadable:
            detail += (
                f"\nThe sandbox's uid cannot read {', '.join(unreadable)}: install Python "
                "where every user can read it, or grade where the namespaces are available "
                "(`grade doctor` says which defenses this machine has)."
            )
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
        return zero(exercise, status=ExerciseStatus.ERROR, message=import_message, checks=checks, duration_s=duration)
    return exercise_result(
        id=exercise.id, slug=exercise.slug, title=exercise.title, points=exercise.points,
        checks=checks, duration_s=duration,
    )  # fmt: skip


# --- process-tree clean-up ------------------------------------------------------------
