"""What the grader may use (grader.resources), read from fake cgroup trees."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader import resources
from grader.resources import CHILD_MEMORY, Resources, default_jobs


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text + "\n", encoding="utf-8")


class TestCgroups:
    """Quotas and limits are found where the kernel keeps them, v2 and v1."""

    def test_v2_half_a_cpu_and_a_memory_limit(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """a Gradescope-like container: cpu.max 50000/100000, memory.max 1 GiB"""
        monkeypatch.setattr(resources, "_own_cgroup", lambda base: {"": "/"})
        write(tmp_path / "cpu.max", "50000 100000")
        write(tmp_path / "memory.max", str(1024**3))
        found = resources.current(tmp_path)
        assert found.cpu_quota == 0.5 and found.memory_limit == 1024**3
        assert found.cpus == 0.5
        assert default_jobs(found) == 1

    def test_v2_limit_on_an_ancestor_applies(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """the process's own cgroup has no limit, its parent has two CPUs' worth"""
        monkeypatch.setattr(resources, "_own_cgroup", lambda base: {"": "/kubepods/pod1/box"})
        write(tmp_path / "kubepods" / "pod1" / "box" / "cpu.max", "max 100000")
        write(tmp_path / "kubepods" / "pod1" / "cpu.max", "200000 100000")
        assert resources.current(tmp_path).cpu_quota == 2.0

    def test_v1_quota_and_no_limit_markers(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """v1: cfs quota/period is the share; -1 and the huge memory number mean no limit"""
        monkeypatch.setattr(resources, "_own_cgroup", lambda base: {"cpu": "/", "memory": "/"})
        write(tmp_path / "cpu" / "cpu.cfs_quota_us", "150000")
        write(tmp_path / "cpu" / "cpu.cfs_period_us", "100000")
        write(tmp_path / "memory" / "memory.limit_in_bytes", "9223372036854771712")
        found = resources.current(tmp_path)
        assert found.cpu_quota == 1.5 and found.memory_limit is None
        write(tmp_path / "cpu" / "cpu.cfs_quota_us", "-1")
        assert resources.current(tmp_path).cpu_quota is None

    def test_nothing_readable_means_no_limit(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """an empty tree (no cgroup fs): only the cores count"""
        monkeypatch.setattr(resources, "_own_cgroup", lambda base: {})
        found = resources.current(tmp_path / "absent")
        assert found.cpu_quota is None and found.memory_limit is None and found.cores >= 1


class TestDefaultJobs:
    """One child per usable CPU, rounded up, never more than memory allows, at least one."""

    @pytest.mark.parametrize(
        ("cores", "quota", "memory", "jobs"),
        [
            (8, None, None, 8),
            (8, 0.5, None, 1),
            (8, 2.5, None, 3),
            (2, 4.0, None, 2),
            (8, None, 3 * CHILD_MEMORY, 3),
            (8, None, CHILD_MEMORY // 2, 1),
        ],
    )
    def test_jobs(self, cores: int, quota: float | None, memory: int | None, jobs: int) -> None:
        """cores, quota and memory give the expected number of children"""
        assert default_jobs(Resources(cores, quota, memory, None)) == jobs
