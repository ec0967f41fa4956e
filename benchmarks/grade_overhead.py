"""How much does the sandboxed grader cost over running the same checks with plain pytest?

For one exercise (default ex04), or ``all`` of them, this times, N times each,
alternating to share any machine noise:

- plain:  python -m pytest -c <the child's ini> -p grader.plugin --awaitlings-target solutions
          tests/checks/<file> (the same checks, plugin and ini, one process, no sandbox),
          once per exercise, in sequence
- grade:  grade --target solutions [<exercise>] --format json
          (copy, isolation, limits, authenticated pipe, parent scoring, rendering; runs
          forked from the warm child, exercises graded --jobs at a time)
- cold:   the same with AWAITLINGS_WARM=0 (a fresh interpreter per run)

and prints the medians and their ratios to plain. Run from the kit's root:

    python benchmarks/grade_overhead.py ex04 --runs 15
    python benchmarks/grade_overhead.py all --runs 5

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
    from grader import resources
    from grader.manifest import Exercise, load_kit

    kit = load_kit(ROOT)
    chosen = [e for e in kit.exercises if e.supported()] if args.exercise == "all" else [kit.resolve(args.exercise)]
    beside = Path(sys.executable).parent / "grade"  # the venv this script runs in, activated or not
    found = str(beside) if beside.is_file() else shutil.which("grade")
    grade = found or sys.exit("install the kit first: pip install -e .")
    # The same ini as the sandbox's child (not the kit's pyproject, whose addopts run the
    # kit's own suite under xdist): only the grader's machinery differs between the two.
    from grader.sandbox import CHILD_INI

    ini = Path(tempfile.mkdtemp(prefix="awaitlings-bench-")) / "pytest.ini"
    ini.write_text(CHILD_INI, encoding="utf-8")

    def plain_cmd(exercise: Exercise) -> list[str]:
        return [
            sys.executable, "-m", "pytest", "-c", str(ini), "--rootdir", str(ROOT), "-q", "-p", "no:cacheprovider",
            "-p", "grader.plugin", "-p", "pytest_asyncio.plugin", "-p", "pytest_timeout",
            "--awaitlings-target", str(kit.solutions_dir), "--awaitlings-limit", str(exercise.limit),
            str(kit.checks_path(exercise)),
        ]  # fmt: skip

    ids = [] if args.exercise == "all" else [chosen[0].id]
    grade_cmd = [grade, "--target", str(kit.solutions_dir), *ids, "--format", "json"]
    # Plugins named explicitly, none auto-loaded: as the child runs pytest.
    plain_env = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    cold_env = {**os.environ, "AWAITLINGS_WARM": "0"}

    def plain() -> float:  # one plain pytest per exercise, in sequence
        return sum(timed(plain_cmd(exercise), plain_env) for exercise in chosen)

    plain(), timed(grade_cmd), timed(grade_cmd, cold_env)  # warm the file cache
    plains, warms, colds = [], [], []
    for _ in range(args.runs):
        plains.append(plain())
        warms.append(timed(grade_cmd))
        colds.append(timed(grade_cmd, cold_env))
    base = statistics.median(plains)
    result = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "exercise": args.exercise,
        "runs": args.runs,
        "plain_median_s": round(base, 3),
        "grade_median_s": round(statistics.median(warms), 3),
        "ratio": round(statistics.median(warms) / base, 2),
        "grade_cold_median_s": round(statistics.median(colds), 3),
        "cold_ratio": round(statistics.median(colds) / base, 2),
        "jobs": resources.default_jobs(resources.current()) if args.exercise == "all" else 1,
        "python": platform.python_version(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "as_root": os.getuid() == 0,
    }
    print(json.dumps(result, indent=2))
    with open(ROOT / "benchmarks" / "results.jsonl", "a", encoding="utf-8") as fh:
        fh.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
