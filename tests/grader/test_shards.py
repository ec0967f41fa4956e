"""Past one machine: ``grade batch DIR --shard K/N`` grades a deterministic share of a class,
``grade batch merge`` joins the shares into the gradebook an unsharded run writes, byte for
byte; the GitHub Actions matrix workflow in ``course/batch/`` does the same, its commands
run here as separate processes."""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from coursekit import ADDER_INTS_ONLY, ADDER_OK, EX01_SYNTAX_ERROR, course_kit, ex01_solution, write

from grader import batch
from grader.cli import cli
from grader.doctor import course_mode_problems, diagnose
from grader.errors import UsageError
from grader.manifest import load_kit
from grader.shards import SHARD_FILE, Shard, merge, share_of

ROOT = Path(__file__).resolve().parents[2]
COURSE = ROOT / "course" / "batch"
WORKFLOW = COURSE / "grade-class.yml"
REPORTS = ("gradebook.csv", "summary.json", "summary.html")
#: 2024-01-01 00:00 UTC: every process writes the same date into the report.
EPOCH = "1704067200"


class TestShares:
    """A student's share depends on the id alone."""

    @pytest.mark.parametrize(
        ("text", "error"),
        [("3", "is not K/N"), ("0/4", "between 1 and N"), ("5/4", "between 1 and N"), ("a/b", "is not K/N")],
    )
    def test_bad_specs_say_what_to_write(self, text: str, error: str) -> None:
        """--shard takes K/N with 1 <= K <= N, and says so"""
        with pytest.raises(ValueError, match=error):
            Shard.parse(text)

    def test_every_student_in_exactly_one_share(self) -> None:
        """the shares partition any class, and are the same on every call"""
        ids = [f"student{i:03d}" for i in range(200)] + ["k\\xe9vin", "=cmd"]
        for count in (1, 2, 3, 7):
            shares = [Shard(k, count) for k in range(1, count + 1)]
            assert all(sum(s.holds(i) for s in shares) == 1 for i in ids)
            assert [share_of(i, count) for i in ids] == [share_of(i, count) for i in ids]
        sizes = [sum(Shard(k, 4).holds(i) for i in ids) for k in range(1, 5)]
        assert min(sizes) >= 30, sizes  # a hash spreads a class: no share is left nearly empty

    def test_listing_order_and_output_folders_do_not_move_anyone(self, tmp_path: Path) -> None:
        """a share is the same whatever else DIR holds: output folders are never students"""
        root = tmp_path / "subs"
        for name in ("zoe", "amy", "bo"):
            (root / name).mkdir(parents=True)
        before = {s.student: share_of(s.student, 3) for s in batch.discover(root)[0]}
        (root / "old-gradebook" / "students").mkdir(parents=True)
        write(root / "old-gradebook" / batch.MARKER, "")
        found, ignored = batch.discover(root)
        assert {s.student: share_of(s.student, 3) for s in found} == before
        assert ignored == ["old-gradebook: a gradebook folder of grade batch, not a submission"]


class TestCommandLine:
    """`grade batch` takes --shard K/N; `grade batch merge` is a command beside it."""

    def test_a_bad_share_is_a_usage_error(self, tmp_path: Path) -> None:
        """--shard 5/4 exits 2 and says what K/N means"""
        result = CliRunner().invoke(cli, ["batch", str(tmp_path), "--shard", "5/4"])
        assert result.exit_code == 2 and "K must be between 1 and N" in result.output

    def test_a_folder_called_merge_is_still_graded(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """only the first word `merge` is the command: `grade batch ./merge` grades that folder"""
        (tmp_path / "merge").mkdir()
        monkeypatch.chdir(tmp_path)
        result = CliRunner().invoke(cli, ["batch", "./merge"])
        assert result.exit_code != 0 and "no submissions under" in str(result.exception)

    def test_merge_needs_shards(self, tmp_path: Path) -> None:
        """`grade batch merge OUT` without shard folders is a usage error naming them"""
        result = CliRunner().invoke(cli, ["batch", "merge", str(tmp_path / "out")])
        assert result.exit_code == 2 and "SHARD_DIR..." in result.output


def _record(folder: Path, **changes: object) -> None:
    path = folder / SHARD_FILE
    record = json.loads(path.read_text())
    record.update(changes)
    path.write_text(json.dumps(record))


# --- a small class, graded for real, sharded and not ---------------------------------------


def _class(subs: Path) -> None:
    """Four students: right, partly wrong with a syntax error, near-miss names, empty."""
    write(subs / "alice" / "exercises" / "ex01_hello_run.py", ex01_solution())
    write(subs / "alice" / "exercises" / "ex02_adder.py", ADDER_OK)
    write(subs / "bob" / "ex01_hello_run.py", EX01_SYNTAX_ERROR)
    write(subs / "bob" / "ex02_adder.py", ADDER_INTS_ONLY)
    write(subs / "carol" / "Ex01_Hello_Run (1).py", ex01_solution())
    write(subs / "carol" / "adder.py", ADDER_INTS_ONLY)
    (subs / "dave").mkdir()


def _env(kit_root: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "AWAITLINGS_KIT": str(kit_root), "SOURCE_DATE_EPOCH": EPOCH, **extra}


def _grade(*args: str | Path, env: dict[str, str]) -> subprocess.Popen[str]:
    cmd = [sys.executable, "-m", "grader", "batch", *map(str, args), "--jobs", "1"]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finish(*procs: subprocess.Popen[str]) -> None:
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, (proc.args, out, err)


Graded = tuple[Path, Path, Path]  # kit root, submissions, the unsharded output


@pytest.fixture(scope="module")
def unsharded(tmp_path_factory: pytest.TempPathFactory) -> Graded:
    base = tmp_path_factory.mktemp("shards")
    kit = course_kit(base / "kit")
    _class(base / "submissions")
    _finish(_grade(base / "submissions", "--out", base / "whole", env=_env(kit.root)))
    return kit.root, base / "submissions", base / "whole"


@pytest.fixture(scope="module")
def two_shards(unsharded: Graded) -> list[Path]:
    """The class graded as shards 1/2 and 2/2, by two processes side by side."""
    kit_root, subs, whole = unsharded
    outs = [whole.parent / f"shard-{k}-of-2" for k in (1, 2)]
    _finish(*[_grade(subs, "--shard", f"{k}/2", "--out", out, env=_env(kit_root)) for k, out in enumerate(outs, 1)])
    return outs


def _same_reports(merged: Path, whole: Path) -> None:
    for name in REPORTS:
        assert (merged / name).read_bytes() == (whole / name).read_bytes(), name
    assert sorted(p.name for p in (merged / "students").iterdir()) == sorted(
        p.name for p in (whole / "students").iterdir()
    )


@pytest.mark.slow
class TestShardedBatch:
    """Shards graded by separate processes merge into the unsharded gradebook, byte for byte."""

    def test_the_unsharded_gradebook(self, unsharded: Graded) -> None:
        """(what the merges are compared with) scores, near-miss and syntax-error notes"""
        _kit, _subs, whole = unsharded
        rows = (whole / "gradebook.csv").read_text().splitlines()
        assert [row.split(",")[:4] for row in rows[1:]] == [
            ["alice", "10", "4", "14"], ["bob", "0", "2", "2"], ["carol", "10", "2", "12"], ["dave", "0", "0", "0"],
        ]  # fmt: skip
        assert "ex01: ex01_hello_run.py has a syntax error at line 1" in rows[2]
        assert "graded Ex01_Hello_Run (1).py (its name differs: a copy suffix and letter case)" in rows[3]

    def test_cli_shards_merge_to_the_same_bytes(
        self, unsharded: Graded, two_shards: list[Path], tmp_path: Path
    ) -> None:
        """`grade batch --shard 1/2` and `2/2` in two processes side by side, then `grade batch merge`"""
        kit_root, _subs, whole = unsharded
        held = [set(json.loads((out / SHARD_FILE).read_text())["students"]) for out in two_shards]
        assert sorted(s for share in held for s in share) == ["alice", "bob", "carol", "dave"]
        assert all(held), "each share holds someone (else this test would not test a merge)"
        cmd = [sys.executable, "-m", "grader", "batch", "merge", str(tmp_path / "merged"), *map(str, two_shards[::-1])]
        merged = subprocess.run(cmd, env=_env(kit_root), capture_output=True, text=True, check=False)
        assert merged.returncode == 0, merged.stderr
        assert "merged: 4 submissions" in merged.stdout
        _same_reports(tmp_path / "merged", whole)

    def test_the_github_actions_workflow(self, unsharded: Graded, tmp_path: Path) -> None:
        """the workflow's matrix jobs, run as separate processes, then its merge job"""
        kit_root, subs, whole = unsharded
        workflow = WORKFLOW.read_text()
        shards = [int(k) for k in re.findall(r"^\s+shard: \[([\d, ]+)\]$", workflow, re.M)[0].split(",")]
        grade, merge_step = _run_block(workflow, "Grade"), _run_block(workflow, "Merge")
        env = _env(kit_root, SUBMISSIONS=str(subs), STRICT=_strict(kit_root), PATH=_path(tmp_path),
                   GITHUB_STEP_SUMMARY=str(tmp_path / "summary.md"))  # fmt: skip
        scripts = [grade.replace("${{ matrix.shard }}", str(k)).replace("${{ strategy.job-total }}", str(len(shards)))
                   for k in shards]  # fmt: skip
        assert not any("${{" in script for script in scripts)
        _finish(*[_bash(script, tmp_path, env) for script in scripts])
        # download-artifact puts each artifact in shards/<name>: the jobs wrote exactly there
        assert sorted(p.name for p in (tmp_path / "shards").iterdir()) == [f"shard-{k}" for k in shards]
        _finish(_bash(merge_step, tmp_path, env))
        _same_reports(tmp_path / "gradebook", whole)
        assert "## Class report" in (tmp_path / "summary.md").read_text()

    def test_the_slurm_array_job(self, unsharded: Graded, tmp_path: Path) -> None:
        """the array script as tasks 1 and 2 of 2 (separate processes), then the documented merge"""
        kit_root, subs, whole = unsharded
        script = (COURSE / "grade-class.slurm").read_text()
        merge_cmd = re.findall(r"^#\s+sbatch --dependency=\S+ --wrap '(.+)'$", script, re.M)[0]
        env = _env(kit_root, SUBMISSIONS=str(subs), STRICT=_strict(kit_root), PATH=_path(tmp_path),
                   SLURM_ARRAY_TASK_COUNT="2", SLURM_CPUS_PER_TASK="1")  # fmt: skip
        tasks = [_bash(script, tmp_path, {**env, "SLURM_ARRAY_TASK_ID": str(k)}) for k in (1, 2)]
        _finish(*tasks)
        _finish(_bash(merge_cmd, tmp_path, env))
        _same_reports(tmp_path / "gradebook", whole)

    def test_the_kubernetes_indexed_job(self, unsharded: Graded, tmp_path: Path) -> None:
        """the Indexed Job's pods as indexes 0 and 1 of 2 (separate processes), then the merge Job's command"""
        kit_root, subs, whole = unsharded
        manifest = (COURSE / "grade-class-k8s.yaml").read_text()
        n = re.findall(r'name: SHARDS\n\s+value: "(\d+)"', manifest)[0]
        assert re.findall(r"^  (completions|parallelism): (\d+)$", manifest, re.M) == [("completions", n),
                                                                                     ("parallelism", n)]  # fmt: skip
        grade, merge_cmd = (block.replace("/class/", f"{tmp_path}/class/") for block in _blocks(manifest, "- |"))
        shutil.copytree(subs, tmp_path / "class" / "submissions")
        env = _env(kit_root, SHARDS="2", STRICT=_strict(kit_root), PATH=_path(tmp_path))
        _finish(*[_bash(grade, tmp_path, {**env, "JOB_COMPLETION_INDEX": str(k)}) for k in (0, 1)])
        _finish(_bash(merge_cmd, tmp_path, env))
        merged = tmp_path / "class" / "gradebook"
        for name in ("gradebook.csv", "summary.html"):
            assert (merged / name).read_bytes() == (whole / name).read_bytes(), name
        # summary.json also names the folder graded, here the volume's copy of it
        summary = json.loads((merged / "summary.json").read_text())
        expected = json.loads((whole / "summary.json").read_text())
        assert summary.pop("submissions") == str(tmp_path / "class" / "submissions")
        assert summary == {k: v for k, v in expected.items() if k != "submissions"}

    def test_merge_refuses_what_does_not_add_up(self, two_shards: list[Path], tmp_path: Path) -> None:
        """a missing or repeated share, or shards graded differently, are refused with the fix"""
        one, two = (shutil.copytree(out, tmp_path / out.name) for out in two_shards)
        with pytest.raises(UsageError, match=r"shard\(s\) 2 of 2 are missing"):
            merge(tmp_path / "m", [one])
        with pytest.raises(UsageError, match="are both shard 1/2"):
            merge(tmp_path / "m", [one, one, two])
        _record(two, python="3.99.0")
        with pytest.raises(UsageError, match="differ in python"):
            merge(tmp_path / "m", [one, two])
        (two / SHARD_FILE).unlink()
        with pytest.raises(UsageError, match="did not finish"):
            merge(tmp_path / "m", [one, two])


def _strict(kit_root: Path) -> str:
    """The runners grade in course mode; where this machine cannot, the tests grade without it."""
    return "" if course_mode_problems(diagnose(load_kit(kit_root))) else "--strict"


def _path(tmp_path: Path) -> str:
    return f"{_tools(tmp_path / 'bin')}{os.pathsep}{os.environ['PATH']}"


def _bash(script: str, cwd: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(["bash", "-e", "-c", script], cwd=cwd, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip


def _blocks(text: str, opener: str) -> list[str]:
    """Every literal block (``run: |``, ``- |``) opened by a line that is exactly ``opener``."""
    lines = text.splitlines()
    blocks = []
    for start, line in enumerate(lines):
        if line.strip() != opener:
            continue
        indent = len(lines[start + 1]) - len(lines[start + 1].lstrip())
        block = []
        for inner in lines[start + 1 :]:
            if inner.strip() and len(inner) - len(inner.lstrip()) < indent:
                break
            block.append(inner[indent:])
        blocks.append("\n".join(block).strip() + "\n")
    return blocks


def _run_block(workflow: str, step: str) -> str:
    """The ``run: |`` block of the step named ``step`` (a literal block, as the workflow writes them)."""
    lines = workflow.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == f"- name: {step}")
    run = next(i for i in range(start + 1, len(lines)) if lines[i].strip() == "run: |")
    indent = len(lines[run + 1]) - len(lines[run + 1].lstrip())
    block = []
    for line in lines[run + 1 :]:
        if line.strip() and len(line) - len(line.lstrip()) < indent:
            break
        block.append(line[indent:])
    return "\n".join(block) + "\n"


def _tools(folder: Path) -> Path:
    """``grade`` as this interpreter runs it, and ``sudo`` as the runner has it (here we may be root already)."""
    folder.mkdir()
    scripts = {
        "grade": f'#!/bin/sh\nexec {sys.executable} -m grader "$@"\n',
        "sudo": '#!/bin/sh\nwhile [ "${1#-}" != "$1" ]; do shift; done\nexec "$@"\n',
    }
    for name, text in scripts.items():
        if name == "sudo" and shutil.which("sudo") and os.geteuid() != 0:
            continue  # a real sudo (asking for no password, as on GitHub's runners) is used
        path = folder / name
        path.write_text(text)
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return folder
