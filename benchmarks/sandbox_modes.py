"""What does each way of containing the child cost, for the same correct solutions?

Grades the reference solution of each chosen exercise (default ex01 ex04 ex06 ex12) in
every mode this machine offers, N times each, alternating modes within each round to
share any machine noise, and prints each mode's median and its ratio to "limits only":

- root:            uid drop, namespaces and allow-list root (only when run as root)
- user namespace:  the same namespaces built in a user namespace (what a grader that is
                   not root does; taken as root too through ``Limits(user_namespace=True)``)
- landlock:        Landlock alone, no namespace (where user namespaces are refused)
- limits only:     resource limits, no namespace, no Landlock

Run from the kit's root, as the user who will grade (root or not):

    python benchmarks/sandbox_modes.py --runs 5
    python benchmarks/sandbox_modes.py ex04 --runs 9

Results are appended to benchmarks/results.jsonl with the machine and Python versions.
Speed is measured here, never asserted in tests.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("exercises", nargs="*", default=["ex01", "ex04", "ex06", "ex12"])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT))
    from grader.manifest import load_kit
    from grader.sandbox import Limits, grade_exercise
    from grader.sandbox.isolation import CLONE_NEWUSER
    from grader.sandbox.landlock import abi

    kit = load_kit(ROOT)
    modes: dict[str, Limits] = {}
    if os.getuid() == 0:
        modes["root"] = Limits()
    probe = f"from grader.sandbox.isolation import unshare; unshare({CLONE_NEWUSER})"
    if os.system(f'{sys.executable} -c "{probe}" 2>/dev/null') == 0:
        modes["user namespace"] = Limits(user_namespace=True)
    if abi() >= 1:
        modes["landlock"] = Limits(landlock_only=True, drop_uid=False)
    modes["limits only"] = Limits(drop_uid=False, isolate=False)

    rows = []
    for name in args.exercises:
        exercise = kit.resolve(name)
        times: dict[str, list[float]] = {mode: [] for mode in modes}
        for _ in range(args.runs):
            for mode, limits in modes.items():
                start = time.perf_counter()
                result = grade_exercise(kit, exercise, kit.solutions_dir, limits=limits, skip_untouched=False)
                times[mode].append(time.perf_counter() - start)
                if result.score != result.max_score:
                    sys.exit(f"{name} in {mode}: {result.score}/{result.max_score}, not full marks")
        base = statistics.median(times["limits only"])
        medians = {mode: round(statistics.median(values), 3) for mode, values in times.items()}
        ratios = {mode: round(median / base, 2) for mode, median in medians.items()}
        rows.append({"exercise": name, "seconds": medians, "ratio_to_limits_only": ratios})
        print(f"{name}: " + ", ".join(f"{mode} {medians[mode]:.3f} s (x{ratios[mode]})" for mode in modes))

    record = {
        "benchmark": "sandbox_modes",
        "when": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "uid": os.getuid(),
        "runs": args.runs,
        "rows": rows,
    }
    with open(ROOT / "benchmarks" / "results.jsonl", "a", encoding="utf-8") as out:
        out.write(json.dumps(record) + "\n")


if __name__ == "__main__":
    main()
