"""How much does the sandboxed grader cost over running the same checks with plain pytest?

For one exercise (default ex04) this times, N times each, alternating to share any
machine noise:

- plain:  python -m pytest -p grader.plugin --awaitlings-target solutions tests/checks/<file>
          (the same checks, the same plugin, one process, no sandbox)
- grade:  grade --target solutions <exercise> --format json
          (copy, isolation, limits, authenticated pipe, parent scoring, rendering)

and prints the medians and their ratio. Run from the kit's root:

    python benchmarks/grade_overhead.py ex04 --runs 15

Results are appended to benchmarks/results.jsonl with the machine and Python versions.
Speed is measured here, never asserted in tests.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def timed(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("exercise", nargs="?", default="ex04")
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT))
    from grader.manifest import load_kit

    kit = load_kit(ROOT)
    exercise = kit.resolve(args.exercise)
    checks = kit.checks_path(exercise)
    grade = shutil.which("grade") or sys.exit("install the kit first: pip install -e .")
    plain_cmd = [
        sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "grader.plugin",
        "--awaitlings-target", str(kit.solutions_dir), "--awaitlings-limit", str(exercise.timeout), str(checks),
    ]  # fmt: skip
    grade_cmd = [grade, "--target", str(kit.solutions_dir), exercise.id, "--format", "json"]
    timed(plain_cmd), timed(grade_cmd)  # warm the file cache
    plain, graded = [], []
    for _ in range(args.runs):
        plain.append(timed(plain_cmd))
        graded.append(timed(grade_cmd))
    result = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "exercise": exercise.id,
        "runs": args.runs,
        "plain_median_s": round(statistics.median(plain), 3),
        "grade_median_s": round(statistics.median(graded), 3),
        "ratio": round(statistics.median(graded) / statistics.median(plain), 2),
        "python": platform.python_version(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "as_root": os.getuid() == 0,
    }
    print(json.dumps(result, indent=2))
    with open(ROOT / "benchmarks" / "results.jsonl", "a", encoding="utf-8") as fh:
        fh.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
