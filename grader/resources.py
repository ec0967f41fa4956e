"""What this process may really use: CPUs and memory, as the kernel will enforce them.

``os.cpu_count()`` is the machine's count, not this process's share. A container (a
Gradescope autograder has half a CPU; CI runners and Kubernetes pods have quotas) limits
a process three ways, all read here:

- CPU affinity (``sched_getaffinity``: the cores it may run on);
- the cgroup's CPU quota (cgroup v2 ``cpu.max``, v1 ``cpu.cfs_quota_us`` over
  ``cpu.cfs_period_us``): a share of CPU time, however many cores are visible;
- the cgroup's memory limit (v2 ``memory.max``, v1 ``memory.limit_in_bytes``) and the
  memory the system has available.

:func:`default_jobs` turns them into how many sandboxed children to run at once. Every
reader degrades to "no limit known" rather than raising.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

#: Where cgroup files are; tests point it at a folder of their own.
CGROUP_ROOT = Path("/sys/fs/cgroup")
#: Memory one grading child may come to use in practice (pytest, asyncio, the learner's
#: code and its buffers); the hard limit per child is higher and rarely reached.
CHILD_MEMORY = 512 * 1024**2


@dataclass(frozen=True)
class Resources:
    """What this process may use. ``None``: no limit of that kind was found."""

    cores: int  # cores it may run on (affinity)
    cpu_quota: float | None  # CPUs' worth of time per period the cgroup allows
    memory_limit: int | None  # bytes the cgroup allows
    memory_available: int | None  # bytes the system has available now

    @property
    def cpus(self) -> float:
        """CPUs' worth of time this process may use at once."""
        return min(float(self.cores), self.cpu_quota) if self.cpu_quota is not None else float(self.cores)

    def describe(self) -> str:
        """One line for `grade doctor`."""
        quota = f", a CPU quota of {self.cpu_quota:g}" if self.cpu_quota is not None else ""
        memory = [
            f"{what} {amount / 1024**3:.1f} GiB"
            for what, amount in (("memory limit", self.memory_limit), ("available", self.memory_available))
            if amount is not None
        ]
        return f"{self.cores} core(s){quota}" + (f"; {', '.join(memory)}" if memory else "")


def current(root: Path | None = None) -> Resources:
    """This process's resources, read now."""
    base = root or CGROUP_ROOT
    own = _own_cgroup(base)
    return Resources(
        cores=_cores(),
        cpu_quota=_cpu_quota(base, own),
        memory_limit=_memory_limit(base, own),
        memory_available=_memory_available(),
    )


def default_jobs(resources: Resources | None = None) -> int:
    """How many grading children to run at once: one per usable CPU (rounded up: a child
    mostly waits on the learner's sockets and timers), never more than memory allows."""
    found = resources or current()
    jobs = max(1, math.ceil(found.cpus - 1e-9))
    for memory in (found.memory_limit, found.memory_available):
        if memory is not None:
            jobs = min(jobs, max(1, memory // CHILD_MEMORY))
    return jobs


def _cores() -> int:
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def _own_cgroup(base: Path) -> dict[str, str]:
    """This process's cgroup path per controller (``""`` is cgroup v2's unified one),
    from ``/proc/self/cgroup``; ``/`` inside most containers."""
    try:
        lines = Path("/proc/self/cgroup").read_text(encoding="utf-8").splitlines()
    except OSError:
        return {}
    own: dict[str, str] = {}
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) == 3:
            for controller in parts[1].split(",") if parts[1] else [""]:
                own[controller] = parts[2] or "/"
    return own


def _candidates(folder: Path, own: str, name: str) -> list[Path]:
    """``name`` in this process's own cgroup under ``folder`` and in each ancestor up to
    the root (a limit set on any of them applies; in a cgroup namespace the root is its own)."""
    parts = [p for p in own.split("/") if p]
    return [(folder.joinpath(*parts[:depth]) if depth else folder) / name for depth in range(len(parts), -1, -1)]


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None


def _cpu_quota(base: Path, own: dict[str, str]) -> float | None:
    quotas: list[float] = []
    for path in _candidates(base, own.get("", "/"), "cpu.max"):  # v2: "50000 100000" or "max 100000"
        fields = (_read(path) or "").split()
        if len(fields) == 2 and fields[0].isdigit() and fields[1].isdigit() and int(fields[1]):
            quotas.append(int(fields[0]) / int(fields[1]))
    for folder in (base / "cpu", base / "cpu,cpuacct"):  # v1: quota -1 is no limit
        for quota_file in _candidates(folder, own.get("cpu", "/"), "cpu.cfs_quota_us"):
            quota, period = _read(quota_file), _read(quota_file.with_name("cpu.cfs_period_us"))
            if quota and period and quota.isdigit() and period.isdigit() and int(quota) > 0 and int(period):
                quotas.append(int(quota) / int(period))
    return min(quotas) if quotas else None


def _memory_limit(base: Path, own: dict[str, str]) -> int | None:
    limits: list[int] = []
    for path in _candidates(base, own.get("", "/"), "memory.max"):  # v2: bytes or "max"
        text = _read(path)
        if text and text.isdigit():
            limits.append(int(text))
    for path in _candidates(base / "memory", own.get("memory", "/"), "memory.limit_in_bytes"):
        text = _read(path)
        if text and text.isdigit() and int(text) < 2**60:  # v1 says "no limit" with a huge number
            limits.append(int(text))
    return min(limits) if limits else None


def _memory_available() -> int | None:
    text = _read(Path("/proc/meminfo"))
    for line in (text or "").splitlines():
        if line.startswith("MemAvailable:"):
            fields = line.split()
            if len(fields) >= 2 and fields[1].isdigit():
                return int(fields[1]) * 1024
    return None
