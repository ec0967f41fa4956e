"""The pytest plugin (grader.plugin), run with ``pytester`` in a real pytest subprocess.

Each test writes a tiny learner module into ``target/`` and a checks file next to it,
runs pytest with the plugin exactly as the sandbox configures it (its ini, ``--noconftest``,
plugins named explicitly), and reads what the plugin reported on its result channel: a
plain file handed over as ``--awaitlings-fd``, decoded and authenticated like the parent
does (the key is empty when ``grader.sandbox.child`` does not set one).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from typing import Any

import pytest

from grader import explain
from grader.plugin import OUTPUT_CAP
from grader.sandbox import CHILD_INI


@dataclass
class PluginRun:
    """What one pytest run with the plugin reported."""

    messages: list[dict[str, Any]]
    output: str
    returncode: int

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m["type"] == kind]

    @property
    def collected(self) -> dict[str, dict[str, Any]]:
        (message,) = self.of_type("collected")
        return {c["id"].split("::")[-1]: c for c in message["checks"]}

    @property
    def results(self) -> dict[str, dict[str, Any]]:
        return {m["id"].split("::")[-1]: m for m in self.of_type("result")}

    def result(self, check: str) -> dict[str, Any]:
        return self.results[check]


@pytest.fixture
def run_checks(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> Any:
    """``run_checks(module_source, checks_source, *pytest_args)`` -> :class:`PluginRun`.

    The learner module is ``target/mod.py`` (``None``: no file); the checks are
    ``test_mod.py``, so the ``ex`` fixture loads ``mod``.
    """
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    pytester.makefile(".ini", pytest=CHILD_INI)
    target = pytester.path / "target"
    target.mkdir()

    def run(module: str | None, checks: str, *args: str) -> PluginRun:
        if module is not None:
            (target / "mod.py").write_text(textwrap.dedent(module), encoding="utf-8")
        pytester.makepyfile(test_mod=textwrap.dedent(checks))
        channel = pytester.path / "channel.jsonl"
        fd = os.open(channel, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        try:
            proc = pytester.popen(
                [
                    sys.executable, "-m", "pytest", "-c", "pytest.ini", "--rootdir", str(pytester.path),
                    "--noconftest", "-p", "grader.plugin", "-p", "pytest_asyncio.plugin", "-p", "pytest_timeout",
                    "-p", "no:cacheprovider", "--awaitlings-target", str(target), "--awaitlings-fd", str(fd),
                    *args, "test_mod.py",
                ],
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, pass_fds=(fd,),
            )  # fmt: skip
        finally:
            os.close(fd)
        out, _ = proc.communicate(timeout=120)
        messages = []
        for expected_seq, line in enumerate(channel.read_bytes().splitlines(), start=1):
            mac, _, body = line.partition(b" ")
            assert hmac.compare_digest(mac, hmac.new(b"", body, hashlib.sha256).hexdigest().encode())
            message = json.loads(body)
            assert message["seq"] == expected_seq
            messages.append(message)
        return PluginRun(messages, out.decode("utf-8", "replace"), proc.returncode)

    return run


def LINE_OF(source: str, text: str) -> int:
    """The line number of the first line of (dedented) ``source`` that contains ``text``."""
    return next(n for n, line in enumerate(textwrap.dedent(source).splitlines(), start=1) if text in line)


class TestChannel:
    """The plugin reports hello, the collected checks, one verdict per check, then done."""

    def test_message_sequence(self, run_checks: Any) -> None:
        """messages are numbered and authenticated, in protocol order"""
        run = run_checks(
            "X = 1\n",
            """
            def test_one(ex):
                assert ex.X == 1

            def test_two():
                pass
            """,
        )
        kinds = [m["type"] for m in run.messages]
        assert kinds == ["hello", "collected", "start", "importing", "imported", "result", "start", "result", "done"]
        assert run.messages[0]["python"] == sys.version.split()[0]
        assert [r["status"] for r in run.results.values()] == ["passed", "passed"]

    def test_markers_and_names_are_reported(self, run_checks: Any) -> None:
        """weight, hidden, limit and the docstring's first line reach the parent"""
        run = run_checks(
            None,
            """
            import pytest

            @pytest.mark.weight(3)
            @pytest.mark.hidden
            @pytest.mark.limit(2.5)
            def test_marked():
                '''Serves many clients.

                More detail that is not part of the name.
                '''

            def test_plain():
                pass
            """,
            "--awaitlings-limit", "4",
        )  # fmt: skip
        marked, plain = run.collected["test_marked"], run.collected["test_plain"]
        assert (marked["name"], marked["weight"], marked["hidden"], marked["limit"]) == (
            "Serves many clients", 3.0, True, 2.5,
        )  # fmt: skip
        assert (plain["name"], plain["weight"], plain["hidden"], plain["limit"]) == ("test_plain", 1.0, False, 4.0)

    def test_output_is_captured_and_cropped(self, run_checks: Any) -> None:
        """what a check prints is sent with its verdict, cut to a bounded size"""
        run = run_checks(
            None,
            """
            def test_small():
                print("hello from the check")

            def test_huge():
                print("x" * 100_000)
            """,
        )
        assert run.result("test_small")["output"] == "hello from the check\n"
        huge = run.result("test_huge")["output"]
        assert len(huge) < OUTPUT_CAP + 100 and "characters cut" in huge

    def test_failure_messages(self, run_checks: Any) -> None:
        """probes.fail text, assertions and learner exceptions each read clearly"""
        module = """\
            def crash():
                return {}["missing"]
            """
        run = run_checks(
            module,
            """
            import pytest
            from grader.probes import fail

            def test_teaching():
                fail("greet must be async: use `async def`.")

            def test_assertion():
                assert 1 + 1 == 3

            def test_learner_raises(ex):
                ex.crash()

            def test_skipped():
                pytest.skip("not today")

            @pytest.fixture
            def unavailable():
                pytest.skip("no such thing here")

            def test_skipped_in_setup(unavailable):
                pass
            """,
        )
        in_setup = run.result("test_skipped_in_setup")
        assert (in_setup["status"], in_setup["message"]) == ("error", "the check was skipped: no such thing here")
        assert run.result("test_teaching")["message"] == "greet must be async: use `async def`."
        assert run.result("test_assertion")["message"].startswith("Assertion failed: assert (1 + 1) == 3")
        line = LINE_OF(module, '{}["missing"]')
        assert run.result("test_learner_raises")["message"] == (
            f"Your code raised KeyError: 'missing' (at mod.py:{line}: return {{}}[\"missing\"])."
        )
        skipped = run.result("test_skipped")
        assert (skipped["status"], skipped["message"]) == ("error", "the check was skipped: not today")
        skips = {"test_skipped", "test_skipped_in_setup"}
        assert {r["status"] for n, r in run.results.items() if n not in skips} == {"failed"}


class TestLearnerModule:
    """The `ex` fixture imports the learner's file lazily and afresh for every check."""

    def test_ids_are_sent_before_learner_code_runs(self, run_checks: Any) -> None:
        """the collected message precedes the first import; checks without `ex` import nothing"""
        run = run_checks(
            "print('imported!')\n",
            """
            def test_no_module():
                pass

            def test_module(ex):
                pass
            """,
        )
        kinds = [m["type"] for m in run.messages]
        assert kinds.index("collected") < kinds.index("importing")
        assert kinds.count("importing") == 1
        assert kinds.index("importing") > kinds.index("result")  # after test_no_module's verdict
        assert run.result("test_module")["output"] == "imported!\n"

    def test_each_check_gets_a_fresh_module(self, run_checks: Any) -> None:
        """module state never leaks from one check into the next"""
        run = run_checks(
            "STATE = []\n",
            """
            SEEN = []

            def test_first(ex):
                ex.STATE.append(1)
                SEEN.append(ex)

            def test_second(ex):
                assert ex.STATE == [], "state leaked from the previous check"
                assert ex is not SEEN[0]
                assert ex.__name__ == "mod"
            """,
        )
        assert [r["status"] for r in run.results.values()] == ["passed", "passed"]
        assert len(run.of_type("importing")) == 2

    def test_import_error_fails_every_check_with_one_message(self, run_checks: Any) -> None:
        """the import is tried once; every check fails with the same pointed message"""
        module = """\
            import asyncio

            LIMIT = int("ten")
            """
        run = run_checks(
            module,
            """
            def test_a(ex):
                pass

            def test_b(ex):
                pass

            def test_c(ex):
                pass
            """,
        )
        expected = (
            "Importing mod.py raised ValueError: invalid literal for int() with base 10: 'ten' at "
            f"mod.py:{LINE_OF(module, 'int(')}: LIMIT = int(\"ten\"). Fix that before anything else can be checked."
        )
        for name in ("test_a", "test_b", "test_c"):
            result = run.result(name)
            assert (result["status"], result["message"], result["import_error"]) == ("error", expected, True)
        assert len(run.of_type("importing")) == 1

    def test_missing_file(self, run_checks: Any) -> None:
        """no learner file: each check says to create it"""
        run = run_checks(None, "def test_a(ex):\n    pass\n")
        result = run.result("test_a")
        assert result["status"] == "error" and result["import_error"] is True
        assert result["message"].startswith("mod.py is missing: create it")

    def test_sys_exit_at_import(self, run_checks: Any) -> None:
        """sys.exit() in module code is caught and explained, the run goes on"""
        run = run_checks("import sys\nsys.exit(3)\n", "def test_a(ex):\n    pass\n\ndef test_b():\n    pass\n")
        assert run.result("test_a")["message"].startswith("Importing mod.py called sys.exit()")
        assert run.result("test_b")["status"] == "passed"
        assert run.of_type("done")

    def test_target_folder_does_not_shadow_the_stdlib(self, run_checks: Any, pytester: pytest.Pytester) -> None:
        """a learner file named like a stdlib module is not imported in its place"""
        (pytester.path / "target" / "json.py").write_text("raise RuntimeError('shadowed!')\n", encoding="utf-8")
        run = run_checks(
            "import json\nVALUE = json.dumps([1])\n",
            "def test_a(ex):\n    assert ex.VALUE == '[1]'\n",
        )
        assert run.result("test_a")["status"] == "passed"


class TestAsyncHygiene:
    """A check whose assertions pass but whose code left async mistakes behind fails."""

    def test_coroutine_never_awaited(self, run_checks: Any) -> None:
        """a passing check that leaves a coroutine never awaited fails with the explanation"""
        run = run_checks(
            """\
            import asyncio

            async def save(log):
                log.append("saved")

            def run_pipeline(log):
                save(log)  # the missing await
                return "ok"
            """,
            """
            def test_returns_ok(ex):
                assert ex.run_pipeline([]) == "ok"
            """,
        )
        result = run.result("test_returns_ok")
        assert result["status"] == "failed"
        assert result["message"].startswith(
            "The result was right, but the code left a problem behind: coroutine 'save' was never awaited."
        )
        assert explain.EXPLANATIONS["never_awaited"] in result["message"]

    def test_task_exception_never_retrieved(self, run_checks: Any) -> None:
        """a fire-and-forget task that fails turns a passing async check into a failure"""
        run = run_checks(
            """\
            import asyncio

            async def boom():
                raise ValueError("lost in a task")

            async def start():
                asyncio.get_running_loop().create_task(boom())
                await asyncio.sleep(0.01)
                return "started"
            """,
            """
            async def test_start(ex):
                assert await ex.start() == "started"
            """,
        )
        result = run.result("test_start")
        assert result["status"] == "failed"
        assert "Task exception was never retrieved: ValueError: lost in a task" in result["message"]
        assert explain.EXPLANATIONS["never_retrieved"] in result["message"]

    def test_failing_check_gets_the_hygiene_note(self, run_checks: Any) -> None:
        """a check that fails anyway keeps its message and adds the explanation"""
        run = run_checks(
            "async def work():\n    return 1\n\ndef compute():\n    return work()\n",
            """
            from grader.probes import fail

            def test_compute(ex):
                value = ex.compute()
                del value
                fail("compute() returned a coroutine, not 1")
            """,
        )
        message = run.result("test_compute")["message"]
        assert message.startswith("compute() returned a coroutine, not 1\n")
        assert explain.EXPLANATIONS["never_awaited"] in message

    def test_clean_code_passes(self, run_checks: Any) -> None:
        """awaited coroutines and tasks leave nothing to report"""
        run = run_checks(
            """\
            import asyncio

            async def work():
                task = asyncio.get_running_loop().create_task(asyncio.sleep(0, "done"))
                return await task
            """,
            "async def test_work(ex):\n    assert await ex.work() == 'done'\n",
        )
        assert run.result("test_work")["status"] == "passed"


class TestWatchdog:
    """A stuck check is cancelled in its loop and told where the learner's code waited."""

    # A reply that never comes on an open connection: the loop cannot tell that nothing will
    # arrive (the peer's end is open), so only the time limit ends it. (An await nothing can
    # ever complete is named at once: TestStalledLoop.)
    STUCK = textwrap.dedent(
        """\
        import asyncio
        import socket

        async def wait_for_reply():
            mine, peer = socket.socketpair()
            reader, writer = await asyncio.open_connection(sock=mine)
            try:
                await reader.read(100)
            finally:
                writer.close()
                peer.close()
        """
    )

    def test_stuck_async_check(self, run_checks: Any) -> None:
        """the watchdog cancels the check at its limit and names file:line"""
        run = run_checks(
            self.STUCK,
            """
            async def test_reply(ex):
                await ex.wait_for_reply()
            """,
            "--awaitlings-limit", "1",
        )  # fmt: skip
        result = run.result("test_reply")
        assert result["status"] == "timeout"
        line = LINE_OF(self.STUCK, "await reader.read(100)")
        assert result["message"].startswith(
            f"Did not finish within 1s. It was still waiting: task wait_for_reply: waiting at mod.py:{line}: "
            "await reader.read(100)."
        )
        assert result["duration"] >= 1

    def test_stuck_asyncio_run_in_a_sync_check(self, run_checks: Any) -> None:
        """asyncio.run inside learner code is watched too"""
        run = run_checks(
            self.STUCK + "\ndef main():\n    asyncio.run(wait_for_reply())\n",
            "def test_main(ex):\n    ex.main()\n",
            "--awaitlings-limit", "1",
        )  # fmt: skip
        result = run.result("test_main")
        assert result["status"] == "timeout"
        assert f"mod.py:{LINE_OF(self.STUCK, 'await reader.read(100)')}: await reader.read(100)" in result["message"]

    def test_limit_marker_overrides_the_default(self, run_checks: Any) -> None:
        """@pytest.mark.limit(0.5) stops that check at 0.5 s"""
        run = run_checks(
            self.STUCK,
            """
            import pytest

            @pytest.mark.limit(0.5)
            async def test_reply(ex):
                await ex.wait_for_reply()

            async def test_after(ex):
                pass
            """,
            "--awaitlings-limit", "30",
        )  # fmt: skip
        result = run.result("test_reply")
        assert result["status"] == "timeout" and result["message"].startswith("Did not finish within 0.5s.")
        assert result["duration"] < 10  # not the 30 s default
        assert run.result("test_after")["status"] == "passed"

    def test_a_loop_that_never_yields_is_stopped_from_its_cpu_time(self, run_checks: Any) -> None:
        """a busy loop is named from the CPU time it used, long before the time limit"""
        run = run_checks(
            "async def spin():\n    while True:\n        pass\n",
            "async def test_spin(ex):\n    await ex.spin()\n\ndef test_after():\n    pass\n",
            "--awaitlings-limit", "30",
        )  # fmt: skip
        result = run.result("test_spin")
        assert result["status"] == "failed"
        assert result["duration"] < 30  # decided by evidence, not by the limit
        assert "The event loop never got control back" in result["message"]
        assert "s of CPU without yielding (at mod.py:2: while True:)" in result["message"]
        assert run.result("test_after")["status"] == "passed"

    def test_a_swallowed_interruption_still_fails_the_check(self, run_checks: Any) -> None:
        """learner code that catches everything cannot turn a held loop into a pass"""
        run = run_checks(
            "import time\n\nasync def nap():\n    try:\n        time.sleep(30)\n"
            "    except BaseException:\n        return 'fine'\n",
            "async def test_nap(ex):\n    assert await ex.nap() == 'fine'\n",
            "--awaitlings-limit", "30",
        )  # fmt: skip
        result = run.result("test_nap")
        assert result["status"] == "failed"
        assert "slept on the event loop's thread (at mod.py:5: time.sleep(30))" in result["message"]


class TestBlockingDetection:
    """`no_blocking` names the blocking call and the learner's line."""

    def test_time_sleep_is_named_with_its_line(self, run_checks: Any) -> None:
        """time.sleep on the loop fails the check at the learner's line"""
        module = """\
            import time

            async def greet(name):
                time.sleep(0.01)
                return name
            """
        run = run_checks(module, "async def test_greet(ex, no_blocking):\n    await ex.greet('Ada')\n")
        result = run.result("test_greet")
        assert result["status"] == "failed"
        assert "time.sleep" in result["message"]
        assert f"mod.py:{LINE_OF(module, 'time.sleep(')}: time.sleep(0.01)" in result["message"]

    def test_swallowed_error_is_still_reported(self, run_checks: Any) -> None:
        """`except Exception` around the call does not hide it"""
        module = """\
            import time

            async def greet(name):
                try:
                    time.sleep(0.01)
                except Exception:
                    pass
                return name
            """
        run = run_checks(module, "async def test_greet(ex, no_blocking):\n    assert await ex.greet('A') == 'A'\n")
        message = run.result("test_greet")["message"]
        assert message.startswith(
            f"Blocking call on the event loop: time.sleep at mod.py:{LINE_OF(module, 'time.sleep(')}: time.sleep(0.01)."
        )

    def test_names_imported_before_activation(self, run_checks: Any) -> None:
        """`from time import sleep` is caught too"""
        module = "from time import sleep\n\nasync def greet():\n    sleep(0.01)\n"
        run = run_checks(module, "async def test_greet(ex, no_blocking):\n    await ex.greet()\n")
        assert "mod.py:4: sleep(0.01)" in run.result("test_greet")["message"]

    def test_non_blocking_code_passes(self, run_checks: Any) -> None:
        """awaiting asyncio.sleep is fine"""
        run = run_checks(
            "import asyncio\n\nasync def greet():\n    await asyncio.sleep(0.01)\n",
            "async def test_greet(ex, no_blocking):\n    await ex.greet()\n",
        )
        assert run.result("test_greet")["status"] == "passed"


class TestVirtualTimeMarker:
    """`virtual_time` runs a check, and asyncio.run inside it, on the fast-forwarding loop."""

    MODULE = """\
        import asyncio

        async def nap(seconds):
            await asyncio.sleep(seconds)

        def main(seconds):
            async def run():
                loop = asyncio.get_running_loop()
                start = loop.time()
                await nap(seconds)
                return type(loop).__name__, loop.time() - start
            return asyncio.run(run())
        """

    def test_async_check(self, run_checks: Any) -> None:
        """an hour of asyncio.sleep is an hour of loop time and no real time"""
        run = run_checks(
            self.MODULE,
            """
            import asyncio
            import time
            import pytest

            @pytest.mark.virtual_time
            async def test_nap(ex):
                loop = asyncio.get_running_loop()
                assert type(loop).__name__ == "VirtualTimeLoop"
                start, real = loop.time(), time.monotonic()
                await ex.nap(3600)
                assert loop.time() - start == pytest.approx(3600, abs=1e-6)
                assert time.monotonic() - real < 5
            """,
        )
        assert run.result("test_nap")["status"] == "passed", run.result("test_nap")["message"]

    def test_asyncio_run_in_sync_check(self, run_checks: Any) -> None:
        """asyncio.run inside the learner's code gets the virtual loop too"""
        run = run_checks(
            self.MODULE,
            """
            import pytest
            from grader.probes import current_loop
            from grader.loops import VirtualTimeLoop

            @pytest.mark.virtual_time
            def test_main(ex):
                kind, elapsed = ex.main(3600)
                assert kind == "VirtualTimeLoop"
                assert elapsed == pytest.approx(3600, abs=1e-6)
                assert isinstance(current_loop(), VirtualTimeLoop)
            """,
        )
        assert run.result("test_main")["status"] == "passed", run.result("test_main")["message"]

    def test_without_marker_time_is_real(self, run_checks: Any) -> None:
        """unmarked checks run on the recording loop, in real time"""
        run = run_checks(
            self.MODULE,
            """
            import asyncio

            async def test_loop(ex):
                assert type(asyncio.get_running_loop()).__name__ == "GraderLoop"

            def test_main(ex):
                kind, elapsed = ex.main(0.05)
                assert kind == "GraderLoop"
                assert elapsed >= 0.05
            """,
        )
        assert {r["status"] for r in run.results.values()} == {"passed"}


class TestLoopMonitor:
    """Code that holds the loop's thread is named from kernel evidence, long before the
    limit; code that does not is never blamed."""

    def test_input_on_the_loop_is_named_at_its_line(self, run_checks: Any) -> None:
        """input() in a coroutine waits on an idle terminal: named, with its line, not pytest's capture error"""
        run = run_checks(
            "async def ask():\n    return input('name? ')\n",
            "async def test_ask(ex):\n    await ex.ask()\n",
            "--awaitlings-limit", "30",
        )  # fmt: skip
        result = run.result("test_ask")
        assert result["status"] == "failed" and result["duration"] < 30
        assert "`input()` blocks the whole loop" in result["message"]
        assert "(at mod.py:2: return input('name? '))" in result["message"]
        assert "-s" not in result["message"] and "captured" not in result["message"]

    def test_waiting_for_a_future_on_the_loop_is_named(self, run_checks: Any) -> None:
        """future.result() on the loop's thread: blocked, waiting for another thread"""
        run = run_checks(
            "import concurrent.futures, time\n\nPOOL = concurrent.futures.ThreadPoolExecutor(1)\n\n"
            "async def work():\n    return POOL.submit(time.sleep, 20).result()\n",
            "async def test_work(ex):\n    await ex.work()\n",
            "--awaitlings-limit", "30",
        )  # fmt: skip
        result = run.result("test_work")
        assert result["status"] == "failed" and result["duration"] < 20
        assert "waiting for another thread or process" in result["message"]
        assert "(at mod.py:6: return POOL.submit(time.sleep, 20).result())" in result["message"]

    def test_correct_offloading_and_a_pool_closed_on_the_loop_pass(self, run_checks: Any) -> None:
        """awaiting executor work, then closing the pool with `with` on the loop, is not a hold"""
        run = run_checks(
            "import asyncio, concurrent.futures, time\n\n"
            "async def work():\n    loop = asyncio.get_running_loop()\n"
            "    with concurrent.futures.ThreadPoolExecutor(2) as pool:\n"
            "        await loop.run_in_executor(pool, time.sleep, 0.8)\n"
            "        pool.submit(time.sleep, 0.8)  # still running when `with` closes the pool\n"
            "    return 'done'\n",
            "async def test_work(ex):\n    assert await ex.work() == 'done'\n",
            "--awaitlings-limit", "30",
        )  # fmt: skip
        assert run.result("test_work")["status"] == "passed", run.result("test_work")["message"]

    def test_the_checks_own_cpu_is_not_blamed_on_the_learner(self, run_checks: Any) -> None:
        """a second of CPU in the check's own code, outside the learner's file, is no hold"""
        run = run_checks(
            "async def noop():\n    return 1\n",
            "import time\n\nasync def test_busy(ex):\n    end = time.thread_time() + 1.0\n"
            "    while time.thread_time() < end:\n        pass\n    assert await ex.noop() == 1\n",
            "--awaitlings-limit", "30",
        )  # fmt: skip
        assert run.result("test_busy")["status"] == "passed", run.result("test_busy")["message"]

    def test_a_spin_seen_once_is_named_at_once_when_entered_again(self, run_checks: Any) -> None:
        """the second check entering the same spinning loop is named for what the first measured"""
        run = run_checks(
            "async def spin():\n    while True:\n        pass\n",
            "async def test_first(ex):\n    await ex.spin()\n\nasync def test_again(ex):\n    await ex.spin()\n",
            "--awaitlings-limit", "30",
        )  # fmt: skip
        first, again = run.result("test_first"), run.result("test_again")
        assert first["status"] == again["status"] == "failed"
        assert "your code ran for" in first["message"] and "(at mod.py:" in first["message"]
        # Named from the first check's measurement (not measured again): the message says so.
        # (Their durations are not compared: under load that is a wall-clock race.)
        assert "entered again the loop that an earlier check saw run for" in again["message"]

    def test_a_hold_cancels_the_other_spinning_tasks_at_once(self, run_checks: Any) -> None:
        """fifty tasks that would each spin in turn are cancelled where they wait, not stopped one by one"""
        run = run_checks(
            "import asyncio\n\nSPUN = []\n\nasync def one(event):\n    await event.wait()\n"
            "    SPUN.append(1)\n    while True:\n        pass\n\n"
            "async def many():\n    event = asyncio.Event()\n"
            "    tasks = [asyncio.create_task(one(event)) for _ in range(50)]\n"
            "    await asyncio.sleep(0)\n    event.set()\n    await asyncio.gather(*tasks)\n",
            "async def test_many(ex):\n    try:\n        await ex.many()\n    finally:\n"
            "        print('spun', len(ex.SPUN))\n",
            "--awaitlings-limit", "30",
        )  # fmt: skip
        result = run.result("test_many")
        assert result["status"] == "failed" and "never got control back" in result["message"]
        assert "spun 1\n" in result["output"], result["output"]



class TestStalledLoop:
    """A loop about to wait for what nothing can bring is named at once, not at the limit."""

    def test_run_forever_with_nothing_left_is_named(self, run_checks: Any) -> None:
        """run_forever after the tasks are done: named at its line, long before the limit"""
        run = run_checks(
            "import asyncio\n\ndef main():\n    loop = asyncio.new_event_loop()\n    loop.run_forever()\n",
            "def test_main(ex):\n    ex.main()\n",
            "--awaitlings-limit", "30",
        )  # fmt: skip
        result = run.result("test_main")
        assert result["status"] == "failed" and result["duration"] < 10
        assert "(at mod.py:5: loop.run_forever())" in result["message"]

    def test_tasks_waiting_on_each_other_are_a_deadlock(self, run_checks: Any) -> None:
        """two tasks each waiting for the other's event, no timer: where each waits"""
        run = run_checks(
            "import asyncio\n\nasync def both():\n    a, b = asyncio.Event(), asyncio.Event()\n\n"
            "    async def first():\n        await b.wait()\n        a.set()\n\n"
            "    async def second():\n        await a.wait()\n        b.set()\n\n"
            "    await asyncio.gather(first(), second())\n",
            "async def test_both(ex):\n    await ex.both()\n",
            "--awaitlings-limit", "30",
        )  # fmt: skip
        result = run.result("test_both")
        assert result["status"] == "failed" and result["duration"] < 10
        assert "could never happen" in result["message"]
        assert "task both.<locals>.first: waiting at mod.py:7: await b.wait()" in result["message"]
