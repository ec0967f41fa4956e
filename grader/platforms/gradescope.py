"""Gradescope: the autograder bundle (``grade export gradescope OUT.zip``) and what it runs
for each submission (``grade autograde``).

Gradescope's autograder specification: the zip holds ``setup.sh`` and ``run_autograder``
at its root; it is extracted to ``/autograder/source``, ``setup.sh`` runs once as root
when the image is built, and for each submission Gradescope puts the student's files in
``/autograder/submission``, runs ``/autograder/run_autograder`` (a copy of ours) from
``/autograder``, and reads ``/autograder/results/results.json``.

Our bundle: ``setup.sh`` finds (or installs) a Python >= 3.11 and installs the kit from
``source/kit`` into ``/autograder/awaitlings-venv``; ``run_autograder`` runs ``grade
autograde``, which takes the exercise files from the submission by name (top level,
``exercises/`` or nested; see ``grader.submissions``), grades them in the sandbox with
the submission and results folders hidden from every child, and writes results.json
atomically. The kit inside the bundle has every check, hidden ones included (students
see hidden checks' results only as ``--hidden-visibility`` says; ``after_published`` by
default), and neither solutions nor mutants.

results.json exists on every exit path: a provisional one ("could not grade, contact the
staff") is written before anything else, so a grader that fails, is refused by
``--strict`` or is killed still leaves one; the real one replaces it. Exercises are graded
within a time budget (``--time-budget``, default :data:`DEFAULT_BUDGET_S`, under
Gradescope's default 10-minute limit): those not finished in time, or when the platform
stops the run (SIGTERM), are reported as not graded, with the same request to contact the
staff, and the file is written before the process exits.

``AUTOGRADER_ROOT`` (default ``/autograder``) moves the whole layout, so tests run the
real scripts in a temporary folder; ``AUTOGRADER_PYTHON`` picks setup.sh's interpreter.
"""

from __future__ import annotations

import os
import shlex
import stat
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

from grader import submissions, syntax
from grader.errors import GradingCancelled, UsageError
from grader.files import write_atomic
from grader.grading import default_jobs, kit_version
from grader.hidden import hidden_marks
from grader.manifest import Exercise, Kit
from grader.release import stage_kit
from grader.reporters import gradescope as gradescope_reporter
from grader.results import ExerciseResult, ExerciseStatus, RunResult, zero_result
from grader.sandbox import Limits, grade_exercise

ROOT_ENV = "AUTOGRADER_ROOT"
DEFAULT_ROOT = Path("/autograder")
KIT_FOLDER = "kit"
VENV_FOLDER = "awaitlings-venv"
#: Zip entries get this fixed time, so the same kit always gives the same bundle.
ZIP_TIME = (1980, 1, 1, 0, 0, 0)
DEFAULT_BUDGET_S = gradescope_reporter.DEFAULT_BUDGET_S
PROVISIONAL = "it did not finish (it failed or was stopped before writing its results)"

SETUP_SH = """\
#!/usr/bin/env bash
# Gradescope runs this once, as root, while it builds the autograder image: find (or
# install) a Python >= 3.11, then install the awaitlings kit from source/kit into its own
# venv. AUTOGRADER_ROOT (default /autograder) and AUTOGRADER_PYTHON are for testing.
set -euo pipefail
root="${AUTOGRADER_ROOT:-/autograder}"
kit="$root/source/kit"
venv="$root/awaitlings-venv"

pick_python() {
  for candidate in python3.13 python3.12 python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 \\
        && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      command -v "$candidate"
      return 0
    fi
  done
  return 1
}

python="${AUTOGRADER_PYTHON:-$(pick_python || true)}"
if [ -z "$python" ]; then
  # Ubuntu 22.04 images ship 3.10; 3.11 is in its universe component.
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q python3.11 python3.11-venv
  python=$(command -v python3.11)
fi
if ! "$python" -c 'import ensurepip' >/dev/null 2>&1; then
  version=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q "python$version-venv"
fi
"$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet "$kit"
"$venv/bin/grade" --version
"""

RUN_AUTOGRADER = """\
#!/usr/bin/env bash
# Gradescope runs this for every submission, as root, from /autograder: grade the files in
# submission/ and write results/results.json (`grade autograde --help` says how).
set -uo pipefail
root="${{AUTOGRADER_ROOT:-/autograder}}"
export AWAITLINGS_KIT="$root/source/kit"
exec "$root/awaitlings-venv/bin/grade" autograde --root "$root" {options}
"""


@dataclass(frozen=True)
class Layout:
    """Where Gradescope puts things, under one root."""

    root: Path

    @classmethod
    def from_env(cls, root: Path | None = None) -> Layout:
        return cls((root or Path(os.environ.get(ROOT_ENV) or DEFAULT_ROOT)).resolve())

    @property
    def submission(self) -> Path:
        return self.root / "submission"

    @property
    def results(self) -> Path:
        return self.root / "results" / "results.json"


# --- the bundle ---------------------------------------------------------------------------


def export_bundle(
    kit: Kit,
    out: Path,
    exercises: Sequence[Exercise] | None = None,
    *,
    hidden_visibility: str = gradescope_reporter.DEFAULT_HIDDEN_VISIBILITY,
    strict: bool = False,
    time_budget: float = DEFAULT_BUDGET_S,
) -> list[str]:
    """Write the autograder zip to ``out``; return the names it holds."""
    _check_visibility(hidden_visibility)
    if out.suffix.lower() != ".zip":
        raise UsageError(f"{out} should end in .zip: Gradescope takes the autograder as a zip file")
    chosen = tuple(sorted(exercises or kit.exercises, key=lambda e: e.order))
    options = ["--hidden-visibility", hidden_visibility, "--time-budget", f"{time_budget:g}",
               *(["--strict"] if strict else [])]  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="awaitlings-export-") as tmp:
        staged = stage_kit(kit, Path(tmp) / KIT_FOLDER, chosen, strip=False)
        entries: list[tuple[str, bytes, bool]] = [
            ("setup.sh", SETUP_SH.encode(), True),
            ("run_autograder", RUN_AUTOGRADER.format(options=shlex.join(options)).encode(), True),
        ]
        for rel in sorted(staged.files):
            entries.append((f"{KIT_FOLDER}/{rel}", (staged.root / rel).read_bytes(), False))
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp_zip = out.with_name(f".{out.name}.tmp")
    with zipfile.ZipFile(tmp_zip, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data, executable in entries:
            info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
            info.external_attr = ((0o755 if executable else 0o644) | stat.S_IFREG) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    os.replace(tmp_zip, out)
    return [name for name, _data, _x in entries]


# --- grading one submission ---------------------------------------------------------------


def _check_visibility(hidden_visibility: str) -> None:
    try:
        gradescope_reporter.check_visibility(hidden_visibility)
    except ValueError as exc:
        raise UsageError(f"--hidden-visibility: {exc}") from None


def has_hidden_checks(kit: Kit, exercises: Sequence[Exercise]) -> bool:
    """Whether any of ``exercises`` has a ``@pytest.mark.hidden`` check."""
    for exercise in exercises:
        path = kit.checks_path(exercise)
        if path.is_file() and hidden_marks(syntax.parse(path.read_text(encoding="utf-8"))):
            return True
    return False


def write_failure(layout: Layout, reason: str, *, started: float | None = None, kit: Kit | None = None) -> None:
    """results.json saying the autograder could not grade (``reason``), and to contact the staff."""
    elapsed = None if started is None else time.monotonic() - started
    points = round(sum(e.points for e in kit.exercises), 4) if kit is not None else None
    text = gradescope_reporter.render_failure(reason, max_score=points, execution_time=elapsed,
                                              kit_version=kit_version(), python=sys.version.split()[0])  # fmt: skip
    write_atomic(layout.results, text)


def autograde(
    kit: Kit,
    layout: Layout,
    *,
    hidden_visibility: str = gradescope_reporter.DEFAULT_HIDDEN_VISIBILITY,
    limits: Limits | None = None,
    jobs: int | None = None,
    time_budget: float = DEFAULT_BUDGET_S,
    started: float | None = None,
) -> RunResult:
    """Grade ``layout.submission`` against every exercise of the kit and write results.json.

    ``started`` (``time.monotonic()``) is when the run began, for the wall time and the
    budget; now by default. Exercises not done ``time_budget`` seconds after it are not
    graded; a KeyboardInterrupt (SIGTERM, in ``grade``) writes what was graded, then goes on.
    """
    started = time.monotonic() if started is None else started
    _check_visibility(hidden_visibility)
    write_failure(layout, PROVISIONAL, started=started, kit=kit)
    if not layout.submission.is_dir():
        raise UsageError(f"{layout.submission} is not a folder: run_autograder expects Gradescope's layout")
    exercises = kit.exercises
    collected = submissions.collect(layout.submission, exercises)
    base = limits or Limits()
    limits = replace(base, hide=(*base.hide, str(layout.submission), str(layout.results.parent)))
    graded = {e: collected.files[e.id].data for e in exercises if e.id in collected.files}
    grading = _Grading(kit, graded, limits, jobs or default_jobs())
    notes = [f"graded {found.path} for {ex_id}" for ex_id, found in sorted(collected.files.items())]
    notes += list(collected.notes)
    try:
        done = grading.wait(time_budget - (time.monotonic() - started))
        if not done:
            notes.append(f"The autograder's time budget ({time_budget:g} s) ran out before every exercise was "
                         f"graded. {gradescope_reporter.CONTACT_STAFF}")  # fmt: skip
    except KeyboardInterrupt:
        grading.stop()
        stopped = "The autograder was stopped before every exercise was graded."
        notes.append(f"{stopped} {gradescope_reporter.CONTACT_STAFF}")
        _write(kit, layout, grading, collected, notes, hidden_visibility, started, "the autograder was stopped")
        raise
    return _write(kit, layout, grading, collected, notes, hidden_visibility, started,
                  f"the time budget ({time_budget:g} s) ran out")  # fmt: skip


def _write(
    kit: Kit,
    layout: Layout,
    grading: _Grading,
    collected: submissions.Collected,
    notes: list[str],
    hidden_visibility: str,
    started: float,
    why_not: str,
) -> RunResult:
    by_id = grading.results()
    results = []
    for exercise in kit.exercises:
        if exercise.id in by_id:
            results.append(by_id[exercise.id])
        elif exercise.id in collected.files:
            results.append(zero_result(
                id=exercise.id, slug=exercise.slug, title=exercise.title, points=exercise.points,
                status=ExerciseStatus.ERROR,
                message=f"not graded: {why_not} before this exercise was. {gradescope_reporter.CONTACT_STAFF}",
            ))  # fmt: skip
        else:
            results.append(submissions.absent_result(exercise, collected))
    run = RunResult(target="submission", python=sys.version.split()[0], exercises=tuple(results),
                    kit_version=kit_version())  # fmt: skip
    text = gradescope_reporter.render(run, hidden_visibility=hidden_visibility, notes=tuple(notes),
                                      execution_time=time.monotonic() - started)  # fmt: skip
    write_atomic(layout.results, text)
    return run


class _Grading:
    """The submission's exercises graded ``jobs`` at a time, each in its own sandboxed child,
    on threads that only wait; :meth:`stop` starts no new exercise and kills the running
    children."""

    def __init__(self, kit: Kit, exercises: dict[Exercise, bytes], limits: Limits, jobs: int) -> None:
        self._kit, self._files, self._limits = kit, exercises, limits
        self._lock = threading.Lock()
        self._done: dict[str, ExerciseResult] = {}
        self._stopped = threading.Event()
        self._left = len(exercises)
        self._all_done = threading.Event()
        if not exercises:
            self._finish()
            return
        self._pool = ThreadPoolExecutor(max_workers=min(jobs, len(exercises)), thread_name_prefix="autograde")
        for exercise in exercises:
            self._pool.submit(self._one, exercise)
        self._pool.shutdown(wait=False)

    def _one(self, exercise: Exercise) -> None:
        try:
            if self._stopped.is_set():
                return
            try:
                result = grade_exercise(
                    self._kit, exercise, self._files[exercise], limits=self._limits, cancel=self._stopped
                )
            except GradingCancelled:
                return
            except Exception as exc:  # a bug in the grader: this exercise says so, the others still count
                message = (f"not graded: the autograder failed on this exercise ({type(exc).__name__}). "
                           f"{gradescope_reporter.CONTACT_STAFF}")  # fmt: skip
                result = zero_result(id=exercise.id, slug=exercise.slug, title=exercise.title, points=exercise.points,
                                     status=ExerciseStatus.ERROR, message=message)  # fmt: skip
            with self._lock:
                if not self._stopped.is_set():
                    self._done[exercise.id] = result
        finally:
            with self._lock:
                self._left -= 1
                last = self._left == 0
            if last:
                self._finish()

    def _finish(self) -> None:
        self._all_done.set()

    def wait(self, seconds: float) -> bool:
        """Wait up to ``seconds`` for every exercise; False (and stopped) if time ran out."""
        if self._all_done.wait(max(0.0, seconds)):
            return True
        self.stop()
        return False

    def stop(self) -> None:
        with self._lock:
            self._stopped.set()

    def results(self) -> dict[str, ExerciseResult]:
        with self._lock:
            return dict(self._done)
