"""What the kernel's count of a worker's sleeps costs (``grader.split.sleeps``).

Every split check's worker installs a seccomp filter that turns its sleeping system calls
into notifications the checker answers. This measures, in one run and alternating, a
fresh Python process that hands its listener over (or says it has none, as a worker on a
machine without seccomp does) and then calls ``time.sleep(0)`` N times: the hand-over's
time, and each sleep's, with the watch and without it, as ratios. Run from the kit's root:

    python benchmarks/sleep_watch.py [--runs 5] [--sleeps 2000]

Results are appended to benchmarks/results.jsonl. Speed is measured here, never asserted
in tests.
"""

from __future__ import annotations

import argparse
import json
import platform
import socket
import statistics
import subprocess
import sys
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def one(watch: bool, sleeps_n: int) -> tuple[float, float]:
    """Seconds to hand the listener over, and seconds per ``time.sleep(0)``."""
    from grader.split import sleeps

    ours, theirs = socket.socketpair()
    code = textwrap.dedent(
        f"""
        import socket, time
        from grader.split import sleeps
        link = socket.socket(fileno={theirs.fileno()})
        start = time.perf_counter()
        if {watch}:
            sleeps.hand_over(link)
        else:
            link.sendall(sleeps.WITHOUT)
        handed = time.perf_counter()
        for _ in range({sleeps_n}):
            time.sleep(0)
        done = time.perf_counter()
        link.sendall(b"%.9f %.9f" % (handed - start, (done - handed) / {sleeps_n}))
        link.recv(1)
        """
    )
    child = subprocess.Popen([sys.executable, "-c", code], pass_fds=[theirs.fileno()], cwd=ROOT)
    theirs.close()
    try:
        ours.settimeout(60)
        watcher = sleeps.take_over(ours)
        if watch and watcher is None:
            raise SystemExit("no sleep watch on this machine: nothing to measure")
        handover, per_sleep = map(float, ours.recv(64).split())
        ours.sendall(b"q")
        child.wait(60)
    finally:
        ours.close()
    return handover, per_sleep


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="processes of each kind (median)")
    parser.add_argument("--sleeps", type=int, default=2000, help="time.sleep(0) calls per process")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    samples: dict[str, list[tuple[float, float]]] = {"without": [], "with": []}
    for _ in range(args.runs):
        for kind in ("without", "with"):  # alternating: both see the same machine
            samples[kind].append(one(kind == "with", args.sleeps))
    rows = {
        kind: {
            "handover_ms": round(statistics.median(s[0] for s in found) * 1e3, 3),
            "per_sleep_us": round(statistics.median(s[1] for s in found) * 1e6, 1),
        }
        for kind, found in samples.items()
    }
    ratios = {
        "handover": round(rows["with"]["handover_ms"] / max(rows["without"]["handover_ms"], 1e-6), 2),
        "per_sleep": round(rows["with"]["per_sleep_us"] / max(rows["without"]["per_sleep_us"], 1e-6), 2),
    }
    for kind, row in rows.items():
        print(f"{kind:>8} the watch: hand-over {row['handover_ms']:.2f} ms, time.sleep(0) {row['per_sleep_us']:.1f} us")
    print(f"ratios with/without: hand-over {ratios['handover']}x, each sleep {ratios['per_sleep']}x")
    record = {
        "benchmark": "sleep_watch",
        "when": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "runs": args.runs,
        "sleeps": args.sleeps,
        "rows": rows,
        "ratios": ratios,
    }
    with (ROOT / "benchmarks" / "results.jsonl").open("a", encoding="utf-8") as out:
        out.write(json.dumps(record) + "\n")


if __name__ == "__main__":
    main()
