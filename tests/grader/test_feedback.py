"""Feedback that teaches: asyncio failure shapes explained once per exercise, with a
docs link, and checks that point to a hint. Pure parts directly; the plugin's part in
a real pytest process, the sandbox's part end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from grader import explain
from grader.manifest import Kit
from grader.reporters import terminal
from grader.results import CheckResult, CheckStatus, RunResult, exercise_result
from grader.sandbox import CHILD_INI

BLOCKING = explain.EXPLANATIONS["blocking"]


def run_of(*checks: CheckResult) -> RunResult:
    ex = exercise_result(id="ex04", slug="echo_server", title="Write the echo server", points=10, checks=checks)
    return RunResult(target="exercises", python="3.11", exercises=(ex,))


class TestSplit:
    """Explanations are found in any message, so reporters can show each once."""

    def test_message_and_keys(self) -> None:
        """the message without the paragraphs, the keys in order of appearance"""
        message = f"time.sleep at ex.py:3. {BLOCKING}\n{explain.EXPLANATIONS['unclosed']}"
        assert explain.split(message) == ("time.sleep at ex.py:3.", ("blocking", "unclosed"))

    def test_plain_message(self) -> None:
        """no explanation: the message, stripped"""
        assert explain.split("  just a message \n") == ("just a message", ())

    def test_each_text_has_a_title_and_a_docs_link(self) -> None:
        """every explanation: one paragraph, a short title, a Python docs link"""
        assert set(explain.TEXTS) == set(explain.TITLES) == set(explain.EXPLANATIONS)
        for key, (text, link) in explain.TEXTS.items():
            assert "\n" not in text and len(text) < 520, key
            assert link.startswith("https://docs.python.org/3/library/"), key

    @pytest.mark.parametrize(
        "key",
        ["never_awaited", "never_retrieved", "blocking", "cancelled_swallowed", "async_with_writer",
         "loop_closed", "unclosed", "deadlock"],
    )  # fmt: skip
    def test_the_common_failure_shapes_are_covered(self, key: str) -> None:
        """the shapes the course teaches against each have an explanation"""
        assert key in explain.EXPLANATIONS

    def test_event_loop_is_closed_as_a_warning(self) -> None:
        """'Event loop is closed' in an unraisable warning is explained too"""
        text = "Exception ignored in: <function BaseSubprocessTransport.__del__>\nRuntimeError: Event loop is closed"
        assert explain.classify(text) == "loop_closed"

    def test_hygiene_note_skips_what_the_message_has(self) -> None:
        """an explanation already in the message is not appended again"""
        message = "bad. " + explain.EXPLANATIONS["never_awaited"]
        note = explain.hygiene_note(["coroutine 'f' was never awaited", "unclosed <socket>"], already=message)
        assert note == explain.EXPLANATIONS["unclosed"]


class TestStuckShape:
    """A hang is named a deadlock only when tasks wait for each other."""

    @pytest.mark.parametrize(
        ("waiting", "shape"),
        [
            (["StreamReader._wait_for_data", "FlowControlMixin._drain_helper"], "deadlock"),
            (["test_reply", "Event.wait", "Event.wait"], "deadlock"),
            (["Event.wait"], None),
            (["StreamReader._wait_for_data", "sleep"], None),
            (["main", "Server.serve_forever"], None),
        ],
    )
    def test_shapes(self, waiting: list[str], shape: str | None) -> None:
        """two or more tasks waiting on streams or sync primitives, none sleeping"""
        assert explain.stuck_shape(waiting) == shape

    def test_timeout_texts(self) -> None:
        """each shape keeps the 'Did not finish' start and adds its explanation"""
        blocked = explain.timeout(1, None, "blocked", "ex.py:3: time.sleep(5)")
        assert blocked.startswith("Did not finish within 1s. The event loop never got control back")
        assert "(at ex.py:3: time.sleep(5))" in blocked and BLOCKING in blocked
        swallowed = explain.timeout(1, "task t: waiting at ex.py:9: await x", "swallowed")
        assert swallowed.startswith("Did not finish within 1s. It was still waiting: task t")
        assert explain.EXPLANATIONS["cancelled_swallowed"] in swallowed
        assert explain.EXPLANATIONS["deadlock"] in explain.timeout(2, "a; b", "deadlock")
        assert "Your code was running at ex.py:4: x += 1." in explain.timeout(1, None, None, "ex.py:4: x += 1")


class TestTerminalDetail:
    """`grade ex04` shows each explanation once per exercise, and the hint a check names."""

    def test_explained_once_then_referred_to(self) -> None:
        """the second check with the same mistake gets a one-line reminder"""
        run = run_of(
            CheckResult("t::a", "echoes bytes", CheckStatus.FAILED, message=f"time.sleep at ex.py:3. {BLOCKING}"),
            CheckResult("t::b", "serves many", CheckStatus.FAILED, message=f"time.sleep at ex.py:3. {BLOCKING}"),
        )
        text = terminal.render_detail(run, width=80)
        assert text.count("why: A blocking call ran on the event loop's thread") == 1
        assert text.count("https://docs.python.org/3/library/asyncio-dev.html#running-blocking-code") == 1
        assert "why: a blocking call on the loop, explained above" in text

    def test_links_are_never_cut(self) -> None:
        """a docs link longer than the width stays whole on its own line"""
        link = explain.TEXTS["never_awaited"][1]
        run = run_of(CheckResult("t::a", "a", CheckStatus.FAILED, message=explain.EXPLANATIONS["never_awaited"]))
        assert f"    {link}" in terminal.render_detail(run, width=60).splitlines()

    def test_points_to_the_hint(self) -> None:
        """a failing check with hint 2 says where to look"""
        run = run_of(
            CheckResult("t::a", "half-closes", CheckStatus.FAILED, message="Never got EOF.", hint=2),
            CheckResult("t::b", "closes", CheckStatus.PASSED, hint=3),
        )
        text = terminal.render_detail(run, width=80)
        assert "    see `grade hint ex04` (hint 2)" in text.splitlines()
        assert "(hint 3)" not in text

    def test_paragraphs_stay_short(self) -> None:
        """message and explanation are separate paragraphs, wrapped to the width"""
        run = run_of(CheckResult("t::a", "a", CheckStatus.FAILED, message=f"It blocked. {BLOCKING}"))
        lines = terminal.render_detail(run, width=80).splitlines()
        assert "    It blocked." in lines
        assert all(len(line) <= 80 or "https://" in line for line in lines)


# --- the plugin, in a real pytest process ----------------------------------------------


def run_plugin(
    tmp_path: Path, module: str, checks: str, *args: str, until: str | None = None
) -> dict[str, dict[str, Any]]:
    """Run ``checks`` against ``module`` with the plugin as the sandbox does (without the
    sandbox); return the messages by type ("collected", "stuck") and the results by
    check name. With ``until`` (a message type), the run is killed as soon as such a
    message arrives: the parent's deadline, for checks the child cannot stop."""
    (tmp_path / "target").mkdir()
    (tmp_path / "target" / "mod.py").write_text(textwrap.dedent(module), encoding="utf-8")
    (tmp_path / "test_mod.py").write_text(textwrap.dedent(checks), encoding="utf-8")
    (tmp_path / "pytest.ini").write_text(CHILD_INI, encoding="utf-8")
    channel = tmp_path / "channel.jsonl"
    fd = os.open(channel, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "pytest", "-c", "pytest.ini", "--rootdir", str(tmp_path), "--noconftest",
             "-p", "grader.plugin", "-p", "pytest_asyncio.plugin", "-p", "pytest_timeout", "-p", "no:cacheprovider",
             "--awaitlings-target", str(tmp_path / "target"), "--awaitlings-fd", str(fd), *args, "test_mod.py"],
            cwd=tmp_path, pass_fds=(fd,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            env={**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"},
        )  # fmt: skip
    finally:
        os.close(fd)
    deadline = time.monotonic() + 90
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            if until is not None and f'"type":"{until}"' in channel.read_text(encoding="utf-8"):
                break
            time.sleep(0.05)
    finally:
        proc.kill()
        proc.wait()
    found: dict[str, dict[str, Any]] = {}
    for line in channel.read_text(encoding="utf-8").splitlines():
        message = json.loads(line.partition(" ")[2])
        if message["type"] == "collected":
            found["collected"] = {c["id"].split("::")[-1]: c for c in message["checks"]}
        elif message["type"] == "stuck":
            found["stuck"] = message
        elif message["type"] == "result":
            found[message["id"].split("::")[-1]] = message
    return found


class TestHintMarker:
    """`@pytest.mark.hint(n)` travels with the collected checks."""

    def test_hint_in_the_collected_message(self, tmp_path: Path) -> None:
        """hint(2) is sent as 2; no marker, or a bad one, as null"""
        found = run_plugin(
            tmp_path,
            "def f():\n    return 1\n",
            """
            import pytest

            @pytest.mark.hint(2)
            def test_points(ex):
                assert ex.f() == 2

            def test_plain(ex):
                pass

            @pytest.mark.hint("two")
            def test_bad(ex):
                pass
            """,
        )
        collected = found["collected"]
        assert (collected["test_points"]["hint"], collected["test_plain"]["hint"]) == (2, None)
        assert collected["test_bad"]["hint"] is None
        assert found["test_points"]["status"] == "failed"


@pytest.mark.slow
class TestTimeoutShapes:
    """A check that runs out of time says why, when the watchdog can tell."""

    STUBBORN = """
        import asyncio

        async def stubborn():
            while True:
                try:
                    await asyncio.sleep(10)
                except asyncio.CancelledError:
                    pass
        """

    def test_swallowed_cancellation_is_reported_before_the_kill(self, tmp_path: Path) -> None:
        """cancelled at the limit and still running: the child tells the parent why"""
        found = run_plugin(tmp_path, self.STUBBORN, "async def test_stop(ex):\n    await ex.stubborn()\n",
                           "--awaitlings-limit", "0.5", until="stuck")  # fmt: skip
        assert "test_stop" not in found  # no verdict: it cannot be stopped from inside
        stuck = found["stuck"]
        assert stuck["id"].endswith("::test_stop")
        assert stuck["message"].startswith("Stopped by the grader. Did not finish within 0.5s.")
        assert "It was cancelled at the time limit and went on running." in stuck["message"]
        assert explain.EXPLANATIONS["cancelled_swallowed"] in stuck["message"]

    def test_swallowed_cancellation_through_the_sandbox(self, make_kit: Any) -> None:
        """the parent kills the check at its deadline and shows the child's account"""
        from grader.sandbox import grade_exercise

        kit = make_kit(timeout=1)
        ex02 = kit.exercises[1]
        checks = kit.checks_path(ex02)
        checks.write_text(checks.read_text(encoding="utf-8")
                          + "\n\nasync def test_stops(ex):\n    \"\"\"stops when cancelled\"\"\"\n"
                          + "    await ex.stubborn()\n", encoding="utf-8")  # fmt: skip
        kit.stub_path(ex02).write_text(textwrap.dedent(self.STUBBORN) + "\ndef add(a, b):\n    return a + b\n",
                                       encoding="utf-8")  # fmt: skip
        result = grade_exercise(kit, ex02, kit.exercises_dir)
        stops = next(c for c in result.checks if c.name == "stops when cancelled")
        assert stops.status is CheckStatus.TIMEOUT
        assert stops.message is not None and explain.EXPLANATIONS["cancelled_swallowed"] in stops.message
        assert [c.status for c in result.checks if c is not stops] == [CheckStatus.PASSED, CheckStatus.PASSED]

    def test_blocked_loop_names_the_line(self, tmp_path: Path) -> None:
        """time.sleep on the loop: the thread sleeps in the kernel, named at the learner's line"""
        found = run_plugin(
            tmp_path,
            "import time\n\nasync def nap():\n    time.sleep(30)\n",
            "async def test_nap(ex):\n    await ex.nap()\n",
            "--awaitlings-limit", "20",
        )  # fmt: skip
        message = found["test_nap"]["message"]
        assert found["test_nap"]["status"] == "failed"
        assert "slept on the event loop's thread" in message
        assert "(at mod.py:4: time.sleep(30))" in message and BLOCKING in message

    def test_read_loop_spinning_at_eof_is_named(self, tmp_path: Path) -> None:
        """a read loop with no stop at b'' never yields: the watchdog names the line and why"""
        found = run_plugin(
            tmp_path,
            "async def echo_all(reader):\n    while True:\n        data = await reader.read(100)\n",
            "import asyncio\n\nasync def test_eof(ex):\n    reader = asyncio.StreamReader()\n"
            "    reader.feed_eof()\n    await ex.echo_all(reader)\n",
            "--awaitlings-limit", "30", until="stuck",
        )  # fmt: skip
        # Found from the CPU it used without yielding (about half a second of it), long
        # before the limit however loaded the machine is.
        message = found["stuck"]["message"]
        assert "The event loop never got control back" in message
        assert "(at mod.py:3: data = await reader.read(100))" in message
        assert "At end of file `read()` and `readline()` return b'' at once" in message

    def test_deadlock(self, tmp_path: Path) -> None:
        """two tasks each waiting for the other: explained as a deadlock"""
        found = run_plugin(
            tmp_path,
            """
            import asyncio

            async def handshake():
                a, b = asyncio.Event(), asyncio.Event()

                async def left():
                    await a.wait()
                    b.set()

                async def right():
                    await b.wait()
                    a.set()

                await asyncio.gather(left(), right())
            """,
            "async def test_shake(ex):\n    await ex.handshake()\n",
            "--awaitlings-limit", "30",
        )  # fmt: skip
        result = found["test_shake"]
        # Named as soon as the loop would wait with nothing that could wake it, not at the limit.
        assert result["status"] == "failed"
        assert "could never happen" in result["message"]
        assert explain.EXPLANATIONS["deadlock"] in result["message"]


@pytest.mark.slow
def test_hint_reaches_the_check_result(kit: Kit) -> None:
    """through the real sandbox: the failing check's result carries its hint"""
    from grader.sandbox import grade_exercise

    checks = kit.checks_path(kit.exercises[1])
    checks.write_text(checks.read_text(encoding="utf-8").replace(
        "def test_adds_ints(ex):", "@pytest.mark.hint(2)\ndef test_adds_ints(ex):"), encoding="utf-8")  # fmt: skip
    kit.stub_path(kit.exercises[1]).write_text("def add(a, b):\n    return a - b\n", encoding="utf-8")
    result = grade_exercise(kit, kit.exercises[1], kit.exercises_dir)
    by_name = {c.name: c for c in result.checks}
    assert by_name["adds two ints"].hint == 2 and by_name["adds two strings"].hint is None
    text = terminal.render_detail(RunResult("exercises", "3", (result,)))
    assert "see `grade hint ex02` (hint 2)" in text
