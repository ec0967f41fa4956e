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

``AUTOGRADER_ROOT`` (default ``/autograder``) moves the whole layout, so tests run the
real scripts in a temporary folder; ``AUTOGRADER_PYTHON`` picks setup.sh's interpreter.
"""

from __future__ import annotations

import os
import shlex
import stat
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from grader import submissions
from grader.errors import UsageError
from grader.files import write_atomic
from grader.grading import grade_target
from grader.manifest import Exercise, Kit
from grader.release import stage_kit
from grader.reporters import gradescope as gradescope_reporter
from grader.results import RunResult
from grader.sandbox import Limits

ROOT_ENV = "AUTOGRADER_ROOT"
DEFAULT_ROOT = Path("/autograder")
KIT_FOLDER = "kit"
VENV_FOLDER = "awaitlings-venv"
#: Zip entries get this fixed time, so the same kit always gives the same bundle.
ZIP_TIME = (1980, 1, 1, 0, 0, 0)

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
) -> list[str]:
    """Write the autograder zip to ``out``; return the names it holds."""
    if hidden_visibility not in gradescope_reporter.VISIBILITIES:
        raise UsageError(f"--hidden-visibility must be one of {', '.join(gradescope_reporter.VISIBILITIES)}")
    if out.suffix.lower() != ".zip":
        raise UsageError(f"{out} should end in .zip: Gradescope takes the autograder as a zip file")
    chosen = tuple(sorted(exercises or kit.exercises, key=lambda e: e.order))
    options = ["--hidden-visibility", hidden_visibility, *(["--strict"] if strict else [])]
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


def autograde(
    kit: Kit,
    layout: Layout,
    *,
    hidden_visibility: str = gradescope_reporter.DEFAULT_HIDDEN_VISIBILITY,
    limits: Limits | None = None,
    jobs: int | None = None,
) -> RunResult:
    """Grade ``layout.submission`` against every exercise of the kit and write results.json."""
    if not layout.submission.is_dir():
        raise UsageError(f"{layout.submission} is not a folder: run_autograder expects Gradescope's layout")
    exercises = kit.exercises
    collected = submissions.collect(layout.submission, exercises)
    base = limits or Limits()
    limits = replace(base, hide=(*base.hide, str(layout.submission), str(layout.results.parent)))
    with tempfile.TemporaryDirectory(prefix="awaitlings-gradescope-") as tmp:
        target = Path(tmp)
        for exercise in exercises:
            if exercise.id in collected.files:
                submissions.write_target(collected.files[exercise.id], exercise, target)
        graded = [e for e in exercises if e.id in collected.files]
        run = grade_target(kit, graded, target, jobs=jobs, limits=limits)
    by_id = {ex.id: ex for ex in run.exercises}
    results = tuple(by_id.get(e.id) or submissions.absent_result(e, collected) for e in exercises)
    run = replace(run, target="submission", exercises=results)
    notes = [f"graded {found.path} for {ex_id}" for ex_id, found in sorted(collected.files.items())]
    notes += list(collected.notes)
    text = gradescope_reporter.render(run, hidden_visibility=hidden_visibility, notes=tuple(notes))
    write_atomic(layout.results, text)
    return run
