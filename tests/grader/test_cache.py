"""The verdict cache: an unchanged file keeps its verdict; anything a verdict depends on
changing grades it again; only machine-independent verdicts are kept; `grade` uses it on
the learner's own files only, and `--no-cache` and course mode never do."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from click.testing import CliRunner

from grader import cli as cli_module
from grader.cache import VerdictCache, keepable, key
from grader.grading import grade_target
from grader.manifest import KIT_ENV, Kit
from grader.results import CheckResult, CheckStatus, ExerciseResult, ExerciseStatus
from grader.sandbox import Limits

GOOD_ADD = "def add(a, b):\n    return a + b\n"


def _result(*statuses: CheckStatus, timing: bool = False) -> ExerciseResult:
    checks = tuple(
        CheckResult(id=f"c{i}", name=f"check {i}", status=s, weight=1.0, timing=timing and i == 0,
                    score=1.0 if s is CheckStatus.PASSED else 0.0, max_score=1.0, message="why", hint=2)
        for i, s in enumerate(statuses)
    )  # fmt: skip
    passed = all(s is CheckStatus.PASSED for s in statuses)
    return ExerciseResult(
        id="ex02", slug="adder", title="Adder", status=ExerciseStatus.PASSED if passed else ExerciseStatus.FAILED,
        max_score=4.0, score=sum(c.score for c in checks), duration_s=0.4, checks=checks, flags=("note",),
    )  # fmt: skip


class TestWhatIsKept:
    """Pure rules: what a verdict depends on, and which verdicts may be served again."""

    def test_passed_and_failed_verdicts_are_kept(self) -> None:
        """checks that passed or failed decide the same way on any machine"""
        assert keepable(_result(CheckStatus.PASSED, CheckStatus.FAILED))

    @pytest.mark.parametrize("status", [CheckStatus.TIMEOUT, CheckStatus.ERROR])
    def test_a_timeout_or_error_is_not_kept(self, status: CheckStatus) -> None:
        """a check stopped at its limit (or by the grader) may pass on a quieter machine"""
        assert not keepable(_result(CheckStatus.PASSED, status))

    def test_a_timing_check_is_never_kept(self) -> None:
        """a check marked timing depends on the real clock, even when it passed"""
        assert not keepable(_result(CheckStatus.PASSED, CheckStatus.PASSED, timing=True))

    def test_every_input_changes_the_key(self, kit: Kit) -> None:
        """the learner's bytes, the checks, the manifest entry and the limits each change it"""
        ex02 = kit.resolve("ex02")
        base = key(kit, ex02, GOOD_ADD.encode(), Limits())
        assert key(kit, ex02, GOOD_ADD.encode(), Limits()) == base
        assert key(kit, ex02, GOOD_ADD.encode() + b"\n", Limits()) != base
        assert key(kit, ex02, GOOD_ADD.encode(), Limits(drop_uid=False)) != base
        assert key(kit, dataclasses.replace(ex02, limit=ex02.limit + 1), GOOD_ADD.encode(), Limits()) != base
        checks = kit.checks_path(ex02)
        checks.write_text(checks.read_text(encoding="utf-8") + "\n# changed\n", encoding="utf-8")
        assert key(kit, ex02, GOOD_ADD.encode(), Limits()) != base

    def test_a_kept_verdict_reads_back_whole(self, tmp_path: Path, kit: Kit) -> None:
        """every field, hints and weights included, and only for its own key"""
        cache, ex02 = VerdictCache(tmp_path / "verdicts"), kit.resolve("ex02")
        result = _result(CheckStatus.PASSED, CheckStatus.FAILED)
        cache.put(ex02, "k1", result)
        assert cache.get(ex02, "k1") == result
        assert cache.get(ex02, "k2") is None
        (tmp_path / "verdicts" / "ex02.json").write_text("{not json", encoding="utf-8")
        assert cache.get(ex02, "k1") is None  # unreadable: graded again, never an error

    def test_a_verdict_not_kept_leaves_nothing(self, tmp_path: Path, kit: Kit) -> None:
        """a timed-out run writes no entry"""
        cache = VerdictCache(tmp_path / "verdicts")
        cache.put(kit.resolve("ex02"), "k1", _result(CheckStatus.TIMEOUT))
        assert not (tmp_path / "verdicts").exists()


@pytest.mark.slow
class TestGrading:
    """Real gradings of the test kit: a kept verdict costs no child, a change costs one."""

    def test_unchanged_then_changed(self, kit: Kit) -> None:
        """the second grading is served from the cache, equal to the first; an edit is graded"""
        target = kit.exercises_dir
        (target / "ex02_adder.py").write_text(GOOD_ADD, encoding="utf-8")
        cache = VerdictCache.of(kit)
        ex02 = (kit.resolve("ex02"),)
        first = grade_target(kit, ex02, target, cache=cache).exercises[0]
        second = grade_target(kit, ex02, target, cache=cache).exercises[0]
        assert not first.from_cache and second.from_cache
        assert dataclasses.replace(second, from_cache=False) == first
        (target / "ex02_adder.py").write_text("def add(a, b):\n    return a - b\n", encoding="utf-8")
        third = grade_target(kit, ex02, target, cache=cache).exercises[0]
        assert not third.from_cache and third.score == 0.0

    def test_a_timing_check_is_graded_every_time(self, kit: Kit) -> None:
        """a checks file with a check marked timing: its exercise is never served from the cache"""
        checks = kit.checks_path(kit.resolve("ex02"))
        text = checks.read_text(encoding="utf-8").replace(
            "def test_adds_ints(ex):", "@pytest.mark.timing\ndef test_adds_ints(ex):"
        )
        checks.write_text(text, encoding="utf-8")
        (kit.exercises_dir / "ex02_adder.py").write_text(GOOD_ADD, encoding="utf-8")
        cache, ex02 = VerdictCache.of(kit), (kit.resolve("ex02"),)
        first = grade_target(kit, ex02, kit.exercises_dir, cache=cache).exercises[0]
        second = grade_target(kit, ex02, kit.exercises_dir, cache=cache).exercises[0]
        assert first.full_marks and first.checks[0].timing
        assert not second.from_cache


@pytest.mark.slow
class TestTheCommand:
    """`grade` says which verdicts it kept; --no-cache and --strict grade everything."""

    @pytest.fixture
    def runner(self, kit: Kit, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
        monkeypatch.setenv(KIT_ENV, str(kit.root))
        monkeypatch.setattr(cli_module, "_KIT", None)
        (kit.exercises_dir / "ex02_adder.py").write_text(GOOD_ADD, encoding="utf-8")
        return CliRunner()

    def test_second_grade_keeps_the_verdict_and_says_so(self, runner: CliRunner) -> None:
        """the same report both times; the second names the kept verdict on stderr"""
        first = runner.invoke(cli_module.cli, ["ex02", "--format", "json"])
        second = runner.invoke(cli_module.cli, ["ex02", "--format", "json"])
        assert first.exit_code == second.exit_code == 0, first.output
        assert "verdicts kept" not in first.stderr
        assert "Unchanged since their last grade, verdicts kept: ex02 (--no-cache grades them again)." in second.stderr
        assert first.stdout.replace(_duration(first.stdout), "") == second.stdout.replace(_duration(second.stdout), "")

    def test_no_cache_grades_again(self, runner: CliRunner) -> None:
        """--no-cache: graded, nothing said about kept verdicts"""
        runner.invoke(cli_module.cli, ["ex02", "--format", "json"])
        again = runner.invoke(cli_module.cli, ["ex02", "--no-cache", "--format", "json"])
        assert again.exit_code == 0 and "verdicts kept" not in again.stderr

    def test_another_target_is_never_cached(self, runner: CliRunner, kit: Kit, tmp_path: Path) -> None:
        """--target elsewhere (a submission, say) is graded every time and leaves no entry"""
        other = tmp_path / "elsewhere"
        other.mkdir()
        (other / "ex02_adder.py").write_text(GOOD_ADD, encoding="utf-8")
        for _ in range(2):
            done = runner.invoke(cli_module.cli, ["ex02", "--target", str(other), "--format", "json"])
            assert done.exit_code == 0 and "verdicts kept" not in done.stderr
        assert not (kit.state_dir / "verdicts").exists()


def _duration(report: str) -> str:
    """The one line of a JSON report that differs between two gradings of the same file."""
    return next((line for line in report.splitlines() if '"duration_s"' in line), "")
