"""``grade doctor``: what this machine gives the sandbox, and whether course mode can run.

Each finding is measured, not assumed: a child is started exactly as grading starts one
and reports what it achieved (uid, namespaces, the paths it sees, limits, environment).
"""

from __future__ import annotations

import os
import platform
import sys
from dataclasses import dataclass
from importlib import metadata

from grader.manifest import Kit
from grader.sandbox import Limits, probe

PACKAGES = ("awaitlings", "pytest", "pytest-asyncio", "pytest-timeout", "blockbuster", "click", "rich", "watchfiles")


@dataclass(frozen=True)
class Finding:
    name: str
    ok: bool
    detail: str
    required_in_course_mode: bool = False


def versions() -> dict[str, str]:
    found = {"python": platform.python_version(), "platform": platform.platform()}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def diagnose(kit: Kit, limits: Limits | None = None) -> list[Finding]:
    limits = limits or Limits()
    report = probe(kit, limits)
    if "error" in report:
        unreadable = report.get("unreadable") or []
        why = f"; its uid cannot read {', '.join(unreadable)}: {_UNREADABLE}" if unreadable else ""
        return [Finding("sandbox child", False, f"could not start: {report['error']}{why}", True)]
    root = os.getuid() == 0
    findings = [
        Finding(
            "dedicated uid",
            root and report.get("uid") not in (0, None) and report.get("uid") == report.get("expected_uid"),
            f"child runs as uid {report.get('uid')}"
            + (
                ""
                if root
                else " (the grader is not root: your own uid"
                + (", in a user namespace of the child's own)" if report.get("user_ns") else ")")
            ),
            True,
        ),
        Finding(
            "mount namespace",
            bool(report.get("mount_ns")),
            f"an allow-list root: {len(report.get('visible', []))} system, interpreter and work paths, nothing else"
            if report.get("mount_ns")
            else "; ".join(report.get("problems", [])) or "unavailable",
            True,
        ),
        Finding(
            "file allow-list",
            bool(report.get("mount_ns")) or bool(report.get("landlock")),
            "the mount namespace's root"
            if report.get("mount_ns")
            else f"Landlock (ABI {report.get('landlock')}): {len(report.get('visible', []))} system, interpreter and"
            " work paths, nothing else"
            + ("; no signal or abstract socket out of the sandbox" if report.get("landlock_scoped") else "")
            if report.get("landlock")
            else "none: the child reads what your user can read",
        ),
        Finding(
            "network namespace",
            bool(report.get("net_ns")) and report.get("interfaces") == ["lo"] and bool(report.get("loopback_up")),
            f"interfaces: {', '.join(report.get('interfaces', []))}",
            True,
        ),
        Finding(
            "PID namespace",
            bool(report.get("pid_ns")) and report.get("pid") == 2,
            "the kernel ends everything a run starts when the run ends"
            if report.get("pid_ns")
            else "none: what a run starts stays in its process group (seccomp), killed at once when the run"
            " ends; a process that escaped the group otherwise would be found by sweeps, a race"
            if report.get("one_group")
            else "none: processes a run leaves are found and killed by sweeps, a race a determined process can win",
            True,
        ),
    ]
    unreadable = report.get("unreadable", [])
    findings.append(
        Finding(
            "interpreter readable",
            not unreadable,
            "the child reads the standard library and the installed packages"
            if not unreadable
            else f"the child's uid cannot read {', '.join(unreadable)}: {_UNREADABLE}",
            True,
        )
    )
    lim = report.get("limits", {})
    findings.append(
        Finding(
            "resource limits",
            all(lim.get(k, -1) > -1 for k in ("RLIMIT_AS", "RLIMIT_CPU", "RLIMIT_NOFILE", "RLIMIT_FSIZE"))
            and lim.get("RLIMIT_CORE") == 0,
            ", ".join(f"{k.removeprefix('RLIMIT_').lower()}={v}" for k, v in lim.items()),
            True,
        )
    )
    # The sandbox's own cap, not any finite one: a child that was not given one still has
    # the `ulimit -u` it inherited, which counts the grader's processes too.
    capped = lim.get("RLIMIT_NPROC") == limits.processes
    findings.append(
        Finding(
            "process limit",
            capped,
            f"{limits.processes} per sandbox uid" if capped else "only under a dedicated uid (run as root)",
            True,
        )
    )
    findings.append(
        Finding("no new privileges", report.get("no_new_privs") == "1", "setuid programs cannot regain root")
    )
    held = str(report.get("capabilities", ""))
    findings.append(
        Finding(
            "no capabilities",
            bool(held) and int(held, 16) == 0,
            "the child holds none, in any namespace" if held and int(held, 16) == 0 else f"effective set {held or '?'}",
            True,
        )
    )
    unwatched = report.get("sleep_watch")
    findings.append(
        Finding(
            "kernel sleep count",
            unwatched == "",
            "the checker counts each time.sleep of the learner's code (seccomp), whatever it reports"
            if unwatched == ""
            else f"unavailable ({unwatched or 'not reported'}): blocking sleeps rest on the learner's process's report",
        )
    )
    leaked = [name for name in report.get("environment", []) if name not in _ALLOWED_ENV]
    findings.append(Finding("environment", not leaked, "allow-listed" if not leaked else f"unexpected: {leaked}", True))
    from grader import resources
    from grader.sandbox import warm

    why_not = warm.available()
    findings.append(
        Finding(
            "warm child",
            why_not is None,
            "each run forks from a process that has imported pytest and the grader"
            if why_not is None
            else f"each run starts a fresh interpreter: {why_not}",
        )
    )
    usable = resources.current()
    findings.append(
        Finding("parallel grading", True, f"{usable.describe()}: --jobs {resources.default_jobs(usable)} by default")
    )
    return findings


_UNREADABLE = (
    "a run fails to import what it needs. Install Python where every user can read it (not in "
    "a private home folder), or grade where the namespaces are available (their root shows it)"
)

_ALLOWED_ENV = {
    "AWAITLINGS_SANDBOX", "HOME", "LANG", "LC_ALL", "MALLOC_ARENA_MAX", "NO_COLOR", "PATH",
    "PYTEST_DISABLE_PLUGIN_AUTOLOAD", "TMPDIR", "LC_CTYPE",
}  # fmt: skip


def course_mode_problems(findings: list[Finding]) -> list[str]:
    """Required defenses that are missing: course mode refuses to grade while any is."""
    return [f"{f.name}: {f.detail}" for f in findings if f.required_in_course_mode and not f.ok]


def python_line() -> str:
    return f"Python {sys.version.split()[0]} at {sys.executable}"
