"""How much does the sandboxed grader cost over running the same checks with plain pytest?

For one exercise (default ex04) this times, N times each, alternating to share any
machine noise:

- plain:  python -m pytest -c <the child's ini> -p grader.plugin --awaitlings-target solutions
          tests/checks/<file> (the same checks, plugin and ini, one process, no sandbox)
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
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def timed(cmd: list[str], env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, check=False)
    if done.returncode not in (0, 1):  # 1: some check failed (still a full run)
        sys.exit(f"{cmd[0]} exited {done.returncode}:\n{(done.stdout + done.stderr).decode(errors='replace')[-2000:]}")
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
    beside = Path(sys.executable).parent / "grade"  # the venv this script runs in, activated or not
    found = str(beside) if beside.is_file() else shutil.which("grade")
    grade = found or sys.exit("install the kit first: pip install -e .")
    # The same ini as the sandbox's child (not the kit's pyproject, whose addopts run the
    # kit's own suite under xdist): only the grader's machinery differs between the two.
    from grader.sandbox import CHILD_INI

    ini = Path(tempfile.mkdtemp(prefix="awaitlings-bench-")) / "pytest.ini"
    ini.write_text(CHILD_INI, encoding="utf-8")
    plain_cmd = [
        sys.executable, "-m", "pytest", "-c", str(ini), "--rootdir", str(ROOT), "-q", "-p", "no:cacheprovider",
        "-p", "grader.plugin", "-p", "pytest_asyncio.plugin", "-p", "pytest_timeout",
        "--awaitlings-target", str(kit.solutions_dir), "--awaitlings-limit", str(exercise.timeout), str(checks),
    ]  # fmt: skip
    grade_cmd = [grade, "--target", str(kit.solutions_dir), exercise.id, "--format", "json"]
    # Plugins named explicitly, none auto-loaded: as the child runs pytest.
    plain_env = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    timed(plain_cmd, plain_env), timed(grade_cmd)  # warm the file cache
    plain, graded = [], []
    for _ in range(args.runs):
        plain.append(timed(plain_cmd, plain_env))
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
