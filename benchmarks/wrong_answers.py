"""How long does a wrong answer take to grade, compared with the right one?

Learners mostly grade wrong answers, so a classic mistake must be judged as fast as the
reference solution is (from evidence, never by waiting out a time limit). For every
exercise this grades, in one run and one after another (so no two share the cores):

- its reference solution (``solutions/``), ``--runs`` times, keeping the median;
- each of its mutants (``tests/mutants/<module>/*.py``, the classic wrong answers), once;

and prints each mutant's time as a ratio to its exercise's solution, the slowest first
per exercise, then the worst ratio overall. Run from the kit's root:

    python benchmarks/wrong_answers.py [ex04 ...] [--runs 3]

Results are appended to benchmarks/results.jsonl. Speed is measured here, never asserted
in tests.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("exercises", nargs="*", help="exercise ids (default: all)")
    parser.add_argument("--runs", type=int, default=3, help="gradings of each solution (median)")
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT))
    from grader.manifest import load_kit
    from grader.reporters.terminal import points
    from grader.verify import find_mutants, grade_file

    kit = load_kit(ROOT)
    chosen = [kit.resolve(e) for e in args.exercises] if args.exercises else list(kit.exercises)
    rows: list[dict[str, object]] = []
    started = time.perf_counter()
    for exercise in chosen:
        if not exercise.supported():
            continue
        solution = kit.solutions_dir / exercise.filename
        times = []
        for _ in range(max(1, args.runs)):
            t0 = time.perf_counter()
            grade_file(kit, exercise, solution)
            times.append(time.perf_counter() - t0)
        reference = statistics.median(times)
        print(f"{exercise.id}  solution {reference:6.2f} s")
        measured = []
        for mutant in find_mutants(kit, exercise):
            t0 = time.perf_counter()
            result = grade_file(kit, exercise, mutant.path)
            elapsed = time.perf_counter() - t0
            measured.append((elapsed, mutant.path.stem, f"{points(result.score)}/{points(result.max_score)}"))
        for elapsed, name, score in sorted(measured, reverse=True):
            ratio = elapsed / reference
            print(f"      {ratio:6.1f}x  {elapsed:6.2f} s  {score:>7}  {name}")
            rows.append({"exercise": exercise.id, "mutant": name, "seconds": round(elapsed, 3),
                         "solution_seconds": round(reference, 3), "ratio": round(ratio, 2)})
        sys.stdout.flush()
    if not rows:
        return
    worst = max(rows, key=lambda r: float(str(r["ratio"])))
    over = [r for r in rows if float(str(r["ratio"])) > 3]
    print(f"\n{len(rows)} wrong answers in {time.perf_counter() - started:.0f} s; worst "
          f"{worst['ratio']}x ({worst['exercise']}/{worst['mutant']}); {len(over)} over 3x")
    record = {"benchmark": "wrong_answers", "when": time.strftime("%Y-%m-%dT%H:%M:%S"),
              "python": platform.python_version(), "machine": platform.machine(),
              "worst_ratio": worst["ratio"], "over_3x": len(over), "rows": rows}
    with (ROOT / "benchmarks" / "results.jsonl").open("a", encoding="utf-8") as out:
        out.write(json.dumps(record) + "\n")


if __name__ == "__main__":
    main()
