"""``grade doctor``: every line is measured by a real sandbox child, started as grading
starts one; course mode refuses exactly when a required defense is missing."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from click.testing import CliRunner

from grader import cli as cli_module
from grader.doctor import PACKAGES, course_mode_problems, diagnose, versions
from grader.manifest import KIT_ENV, Kit
from grader.sandbox import Limits

ROOT = Path(__file__).resolve().parents[2]
NAMES = ["dedicated uid", "mount namespace", "file allow-list", "network namespace", "PID namespace",
         "interpreter readable", "resource limits", "process limit", "no new privileges", "no capabilities",
         "kernel sleep count", "environment", "warm child",
         "parallel grading"]  # fmt: skip

pytestmark = pytest.mark.slow


class TestDiagnose:
    """What the child reports, not what the grader meant to give it."""

    def test_the_limits_asked_for_are_the_limits_measured(self, kit: Kit) -> None:
        """the child's own resource limits are the ones asked for; no core files; its
        environment holds only allow-listed names"""
        limits = Limits(memory_bytes=3 * 1024**3, open_files=512, file_size_bytes=32 * 1024**2)
        findings = {f.name: f for f in diagnose(kit, limits)}
        assert list(findings) == NAMES
        assert findings["resource limits"].ok
        detail = findings["resource limits"].detail
        assert {"as=3221225472", "nofile=512", "fsize=33554432", "core=0"} <= set(detail.split(", ")), detail
        assert findings["environment"].ok and findings["environment"].detail == "allow-listed"
        assert findings["kernel sleep count"].ok, findings["kernel sleep count"].detail

    def test_defenses_switched_off_are_missing(self, kit: Kit) -> None:
        """no uid drop and no namespaces: those lines, the process limit that needs a
        dedicated uid and (as root) the capabilities given up with it are missing, and
        course mode names each of them"""
        findings = {f.name: f for f in diagnose(kit, Limits(drop_uid=False, isolate=False))}
        missing = ["dedicated uid", "mount namespace", "network namespace", "PID namespace", "process limit"]
        if os.getuid() == 0:  # a child left root keeps root's capabilities
            missing.append("no capabilities")
        assert [name for name in missing if findings[name].ok] == []
        problems = course_mode_problems(list(findings.values()))
        assert [p.split(":")[0] for p in problems] == missing
        assert findings["resource limits"].ok  # set by the child itself, uid or not

    def test_landlock_alone_is_an_allow_list_without_namespaces(self, kit: Kit) -> None:
        """no namespace (user namespaces refused): Landlock holds the child to the allow-list;
        the namespaces are still missing, so course mode still refuses"""
        from grader.sandbox import landlock

        if landlock.abi() < 1:
            pytest.skip("no Landlock in this kernel")
        findings = {f.name: f for f in diagnose(kit, Limits(landlock_only=True, drop_uid=False))}
        assert findings["file allow-list"].ok, findings["file allow-list"].detail
        assert findings["file allow-list"].detail.startswith("Landlock (ABI ")
        assert not findings["mount namespace"].ok and not findings["PID namespace"].ok
        assert "mount namespace" in [p.split(":")[0] for p in course_mode_problems(list(findings.values()))]

    def test_a_user_namespace_contains_but_is_your_uid(self, kit: Kit) -> None:
        """built in a user namespace (what a grader that is not root does): the namespaces
        and no capabilities are there; what needs a uid of its own is missing, and course
        mode names that and only that"""
        from grader.sandbox.isolation import CLONE_NEWUSER

        code = f"from grader.sandbox.isolation import unshare; unshare({CLONE_NEWUSER})"
        if subprocess.run([sys.executable, "-c", code], capture_output=True, check=False).returncode:
            pytest.skip("no user namespaces here")
        findings = {f.name: f for f in diagnose(kit, Limits(user_namespace=True))}
        contained = ["mount namespace", "network namespace", "PID namespace", "no capabilities"]
        assert [name for name in contained if not findings[name].ok] == [], [findings[n].detail for n in contained]
        assert findings["no capabilities"].detail == "the child holds none, in any namespace"
        problems = course_mode_problems(list(findings.values()))
        assert [p.split(":")[0] for p in problems] == ["dedicated uid", "process limit"], problems


class TestInterpreterLine:
    """Whether the child's uid can read the interpreter: without a mount namespace it sees
    the real file system, where a Python under a private home folder is out of its reach."""

    def test_readable_under_the_namespaces_root(self, kit: Kit) -> None:
        """with the namespaces (their root lays the interpreter out readable) the line is ok"""
        findings = {f.name: f for f in diagnose(kit)}
        if not findings["mount namespace"].ok:
            pytest.skip("no mount namespace here")
        assert findings["interpreter readable"].ok, findings["interpreter readable"].detail

    def test_without_namespaces_it_is_what_the_file_system_allows(self, kit: Kit) -> None:
        """a dropped uid without namespaces: ok exactly when every folder on the way to the
        standard library and the packages lets others in"""
        if os.getuid() != 0:
            pytest.skip("a dedicated uid needs root")
        from grader.sandbox.isolation import interpreter_paths

        def open_to_others(path: Path) -> bool:
            return all(os.stat(p).st_mode & 0o005 == 0o005 for p in [path, *path.parents])

        expected = all(open_to_others(Path(p)) for p in interpreter_paths())
        findings = {f.name: f for f in diagnose(kit, Limits(isolate=False))}
        # Out of reach, the probe itself may fail to start (a codec it cannot import).
        line = findings.get("interpreter readable") or findings["sandbox child"]
        assert line.ok is expected, line.detail
        assert line.ok or "cannot read /" in line.detail

    def test_grading_out_of_reach_says_why(self, kit: Kit) -> None:
        """grading on that path, when the interpreter is out of reach, fails with the reason,
        not only with the import that failed"""
        if os.getuid() != 0:
            pytest.skip("a dedicated uid needs root")
        from grader.errors import KitError
        from grader.sandbox import grade_exercise
        from grader.sandbox.verdicts import _closed_to_others

        if not _closed_to_others():
            pytest.skip("the interpreter is readable by every user here")
        # A module no run preloads (the warm child imports pytest's, the grader's and the
        # checks' usual ones as root): the checks must read it from the interpreter's folder.
        checks = kit.checks_path(kit.exercises[0])
        future = "from __future__ import annotations\n"
        text = checks.read_text(encoding="utf-8").replace(future, future + "import colorsys  # noqa: F401\n", 1)
        checks.write_text(text, encoding="utf-8")
        with pytest.raises(KitError, match="The sandbox's uid cannot read /"):
            grade_exercise(kit, kit.exercises[0], kit.solutions_dir, limits=Limits(isolate=False), skip_untouched=False)


class TestWarmChildLine:
    """Whether runs fork from the warm child, and why not."""

    def test_on_by_default_and_off_by_its_switch(self, kit: Kit, monkeypatch: pytest.MonkeyPatch) -> None:
        """on here (Linux); AWAITLINGS_WARM=0 turns it off and the line says so"""
        assert {f.name: f for f in diagnose(kit)}["warm child"].ok
        monkeypatch.setenv("AWAITLINGS_WARM", "0")
        line = {f.name: f for f in diagnose(kit)}["warm child"]
        assert not line.ok and line.detail == "each run starts a fresh interpreter: turned off (AWAITLINGS_WARM=0)"
        assert not course_mode_problems([line])  # a speed-up, not a defense


class TestVersions:
    """The versions line names what the grader runs on."""

    def test_every_dependency_is_named(self) -> None:
        """each of pyproject's dependencies, with its installed version"""
        pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
        required = {re.split(r"[<>=!~ \[;]", dep, maxsplit=1)[0] for dep in pyproject["project"]["dependencies"]}
        assert required <= set(PACKAGES), sorted(required - set(PACKAGES))
        found = versions()
        assert all(found[name] == metadata.version(name) for name in required)


class TestDoctorCommand:
    """`grade doctor` prints each finding and the course-mode verdict; --strict exits 3 on it."""

    @pytest.fixture
    def runner(self, kit: Kit, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
        monkeypatch.setenv(KIT_ENV, str(kit.root))
        monkeypatch.setattr(cli_module, "_KIT", None)
        return CliRunner()

    def test_report_and_strict_verdict(self, runner: CliRunner, kit: Kit) -> None:
        """one line per finding, marked ok or MISS; --strict exits 3 exactly when course
        mode would refuse to grade on this machine"""
        refused = bool(course_mode_problems(diagnose(kit)))
        result = runner.invoke(cli_module.cli, ["doctor", "--strict"])
        lines = result.output.splitlines()
        assert lines[0].startswith("Python ") and lines[2] == f"kit: {kit.root} (2 exercises)", result.output
        line_shape = re.compile(r"(ok  |MISS) ([A-Za-z -]+?)( \(course mode\))?: ")
        marked = [line_shape.match(line) for line in lines[3 : 3 + len(NAMES)]]
        assert [m.group(2) for m in marked if m] == NAMES, result.output
        assert result.exit_code == (3 if refused else 0), result.output
        verdict = "would refuse to grade here" if refused else "course mode (--strict) can grade here"
        assert verdict in lines[-1]

    def test_colour_only_on_a_terminal(self, runner: CliRunner) -> None:
        """output that is not a terminal: the ok/MISS marks carry no colour codes, even where
        click would keep them (the decision is the CLI's one rule, with NO_COLOR)"""
        result = runner.invoke(cli_module.cli, ["doctor"], color=True)
        assert result.exit_code == 0 and "resource limits" in result.output
        assert "\x1b[" not in result.output
