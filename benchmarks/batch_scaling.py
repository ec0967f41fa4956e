"""How long does `grade batch` take for a class, and how does it scale with --jobs?

Builds a class of N submissions (default 50) in a temporary folder: copies of the
reference solutions, plus a few broken ones every tenth student (a syntax error, a
classic wrong answer from tests/mutants, a missing file); with ``--half-wrong``, every
other student hands in a classic wrong answer for every exercise instead. Then it times

    grade batch CLASS [EXERCISES] --jobs J --out <fresh folder> --format json

for each J (default 1, 2, 4), first for ex01 only, then for every exercise of the
manifest that has a solution and checks and runs on this Python. Each timing is a fresh
batch (nothing resumed); a final run per scenario re-runs the last batch unchanged to
time a fully resumed batch. Run from the kit's root:

    python benchmarks/batch_scaling.py                  # 50 students, jobs 1 2 4
    python benchmarks/batch_scaling.py --students 20 --jobs 2 --scenario ex01
    python benchmarks/batch_scaling.py --students 40 --jobs 2 --scenario all --half-wrong

Results are appended to benchmarks/results.jsonl with the machine and Python versions.
Speed is measured here, never asserted in tests.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def build_class(dest: Path, exercises: list[object], students: int, half_wrong: bool = False) -> None:
    from grader.manifest import Exercise, load_kit

    kit = load_kit(ROOT)
    for index in range(students):
        folder = dest / f"student{index:03d}"
        (folder / "exercises").mkdir(parents=True)
        for exercise in exercises:
            assert isinstance(exercise, Exercise)
            target = folder / "exercises" / exercise.filename
            shutil.copyfile(kit.solutions_dir / exercise.filename, target)
            if half_wrong:  # every other student: a classic wrong answer, a different one each time
                mutants = sorted((kit.mutants_dir / exercise.module).glob("*.py"))
                if index % 2 == 1 and mutants:
                    shutil.copyfile(mutants[(index // 2) % len(mutants)], target)
                continue
            if index % 10 == 3:  # a syntax error
                target.write_text(target.read_text() + "\ndef broken(:\n", encoding="utf-8")
            elif index % 10 == 6:  # a classic wrong answer, when the kit has one
                mutants = sorted((kit.mutants_dir / exercise.module).glob("*.py"))
                if mutants:
                    shutil.copyfile(mutants[0], target)
            elif index % 10 == 9 and exercise is exercises[-1]:  # a missing file
                target.unlink()


def timed_batch(
    grade: list[str], folder: Path, out: Path, ids: list[str], jobs: int
) -> tuple[float, dict[str, object]]:
    cmd = [*grade, "batch", str(folder), *ids, "--jobs", str(jobs), "--out", str(out), "--format", "json"]
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode not in (0, 3):
        sys.exit(f"grade batch failed ({done.returncode}): {done.stderr[-2000:]}")
    account: dict[str, object] = json.loads(done.stdout)
    return elapsed, account


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=50)
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--scenario", choices=["ex01", "all", "both"], default="both")
    parser.add_argument("--half-wrong", action="store_true",
                        help="half the students correct, half a classic wrong answer (kept mutants, in turn)")
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT))
    from grader.manifest import load_kit

    kit = load_kit(ROOT)
    available = [
        e for e in kit.exercises
        if e.supported() and (kit.solutions_dir / e.filename).is_file() and kit.checks_path(e).is_file()
    ]  # fmt: skip
    scenarios = {"ex01": [kit.resolve("ex01")], "all": available}
    chosen = ["ex01", "all"] if args.scenario == "both" else [args.scenario]
    grade = [sys.executable, "-m", "grader"]
    machine = {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()}
    print(f"{args.students} students; {machine['cpus']} CPUs; Python {machine['python']}")
    with tempfile.TemporaryDirectory(prefix="awaitlings-bench-") as tmp:
        for name in chosen:
            exercises = scenarios[name]
            ids = [e.id for e in exercises]
            folder = Path(tmp) / name / "class"
            build_class(folder, list(exercises), args.students, args.half_wrong)
            print(f"\n{name}: {', '.join(ids)} ({args.students * len(ids)} exercise gradings per batch)")
            base: float | None = None
            out = Path(tmp) / name / "out"
            for jobs in args.jobs:
                shutil.rmtree(out, ignore_errors=True)
                elapsed, account = timed_batch(grade, folder, out, ids, jobs)
                base = base or elapsed
                per = elapsed / (args.students * len(ids))
                print(f"  --jobs {jobs}: {elapsed:7.1f} s  ({per * 1000:5.0f} ms per grading, "
                      f"speed-up x{base / elapsed:.2f}, mean total {account['mean_total']})")  # fmt: skip
                _record({"benchmark": "batch_scaling", "scenario": name, "exercises": ids, "students": args.students,
                         "jobs": jobs, "seconds": round(elapsed, 2), "half_wrong": args.half_wrong,
                         **machine})  # fmt: skip
            elapsed, account = timed_batch(grade, folder, out, ids, args.jobs[-1])
            skipped = f"{account['resumed']} of {account['students']} skipped"
            print(f"  resumed (nothing to grade): {elapsed:.1f} s, {skipped}")


def _record(entry: dict[str, object]) -> None:
    entry["when"] = time.strftime("%Y-%m-%dT%H:%M:%S")
    with open(ROOT / "benchmarks" / "results.jsonl", "a", encoding="utf-8") as fh:
        fh.write(json.dumps(entry) + "\n")


if __name__ == "__main__":
    main()
