"""Unit tests of grader.explain: observations in, teaching paragraphs out."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from grader import explain
from grader.loops import GraderLoop
from grader.probes import BlockingCall


def raised_in(path: Path, source: str) -> BaseException:
    """Run ``source`` as if it were the file at ``path`` and return what it raised."""
    path.write_text(source, encoding="utf-8")
    try:
        exec(compile(source, str(path), "exec"), {"__name__": path.stem})
    except BaseException as exc:
        return exc
    raise AssertionError("the source did not raise")


class TestClassify:
    """Warning and loop texts map to the mistake they reveal, on every supported Python."""

    @pytest.mark.parametrize(
        ("text", "key"),
        [
            ("coroutine 'fetch' was never awaited", "never_awaited"),
            ("coroutine 'Ticker._run' was never awaited\nCoroutine created at ...", "never_awaited"),
            ("Task exception was never retrieved", "never_retrieved"),
            ("Task was destroyed but it is pending!", "destroyed_pending"),
            ("unclosed transport <_SelectorSocketTransport fd=7>", "unclosed"),
            ("unclosed <socket.socket fd=9, family=2, type=1, proto=6>", "unclosed"),
            ("Unclosed client session", "unclosed"),
            ("Exception in callback Handle._run()", "callback_error"),
            ("Unhandled exception in client_connected_cb", "callback_error"),
        ],
    )
    def test_known_texts(self, text: str, key: str) -> None:
        """each known text has its explanation"""
        assert explain.classify(text) == key
        assert key in explain.EXPLANATIONS

    def test_unknown_text(self) -> None:
        """other texts are not ours to explain"""
        assert explain.classify("DeprecationWarning: something old") is None

    @pytest.mark.parametrize(
        ("category", "text", "expected"),
        [
            (RuntimeWarning, "coroutine 'f' was never awaited", True),
            (ResourceWarning, "unclosed <socket.socket fd=3>", True),
            (RuntimeWarning, "invalid value encountered in divide", False),
            (DeprecationWarning, "coroutine 'f' was never awaited", False),
            (UserWarning, "unclosed file", False),
            (pytest.PytestUnraisableExceptionWarning, "Exception ignored in: <coroutine object f at 0x7f>\n"
             "RuntimeWarning: coroutine 'f' was never awaited", True),
        ],
    )
    def test_hygiene_warnings(self, category: type[Warning], text: str, expected: bool) -> None:
        """only runtime, resource and unraisable warnings with a known text count"""
        assert explain.is_hygiene_warning(category, text) is expected


class TestHygieneMessages:
    """A check that passed but left async mistakes behind fails with one clear paragraph."""

    def test_failure_names_the_first_problem_and_counts_the_rest(self) -> None:
        """the first observation's first line, how many more, and each explanation once"""
        message = explain.hygiene_failure(
            [
                "coroutine 'fetch' was never awaited\nCoroutine created at (most recent call last)",
                "coroutine 'store' was never awaited",
                "Task exception was never retrieved",
            ]
        )
        first_line = message.splitlines()[0]
        assert first_line == (
            "The result was right, but the code left a problem behind: "
            "coroutine 'fetch' was never awaited (and 2 more)."
        )
        assert message.count(explain.EXPLANATIONS["never_awaited"]) == 1
        assert explain.EXPLANATIONS["never_retrieved"] in message

    def test_note_is_empty_for_unknown_observations(self) -> None:
        """nothing to teach, no note"""
        assert explain.hygiene_note(["something unrelated"]) == ""

    def test_loop_problem_names_the_exception_and_where(self, tmp_path: Path) -> None:
        """a loop exception context becomes one line with the exception and its place"""
        exc = raised_in(tmp_path / "mod.py", "def boom():\n    raise ValueError('bad')\nboom()\n")
        line = explain.loop_problem({"message": "Task exception was never retrieved", "exception": exc})
        assert line.startswith("Task exception was never retrieved: ValueError: bad (")
        assert "mod.py:2: raise ValueError('bad')" in line

    def test_cancelled_error_is_not_a_loop_problem(self) -> None:
        """a cancelled connection handler is not the learner's mistake (3.11/3.12 noise)"""
        loop = GraderLoop()
        try:
            loop.call_exception_handler({"message": "Exception in callback", "exception": asyncio.CancelledError()})
            assert loop.problems == []
        finally:
            loop.close()

    def test_loop_problem_without_exception(self) -> None:
        """a context with only a message is that message"""
        assert explain.loop_problem({"message": "Task was destroyed but it is pending!"}) == (
            "Task was destroyed but it is pending!"
        )


class TestUnclosedResources:
    """A resource warning names what was left open, not its file descriptors or the
    grader's own classes."""

    def test_an_unclosed_loop_is_its_own_lesson(self) -> None:
        text = "unclosed event loop <VirtualTimeLoop running=False closed=False debug=False>"
        message = explain.hygiene_failure([text])
        assert explain.classify(text) == "unclosed_loop"
        assert "VirtualTimeLoop" not in message and "unclosed event loop <event loop>" in message
        assert "loop.close()" in message and "writer.close()" not in message

    def test_nested_reprs_are_cut_to_their_class(self) -> None:
        text = (
            "unclosed <StreamWriter transport=<_SelectorSocketTransport closing fd=18 read=idle "
            "write=<idle, bufsize=0>> reader=<StreamReader eof>>"
        )
        assert explain.plain_reprs(text) == "unclosed <StreamWriter>"
        message = explain.hygiene_failure([text])
        assert "fd=18" not in message and "writer.close()" in message

    def test_text_without_reprs_is_unchanged(self) -> None:
        assert explain.plain_reprs("a < b and c > d") == "a < b and c > d"


class TestImportFailure:
    """An import that fails says why and points at the line."""

    def test_exception_points_at_the_line(self, tmp_path: Path) -> None:
        """the message names the exception and file:line: source"""
        path = tmp_path / "ex01_hello_run.py"
        exc = raised_in(path, "import asyncio\n\nx = undefined_name\n")
        message = explain.import_failure(exc, path)
        assert message == (
            "Importing ex01_hello_run.py raised NameError: name 'undefined_name' is not defined at "
            "ex01_hello_run.py:3: x = undefined_name. Fix that before anything else can be checked."
        )

    def test_sys_exit(self, tmp_path: Path) -> None:
        """sys.exit() at import is explained, with the __main__ guard"""
        message = explain.import_failure(SystemExit(0), tmp_path / "m.py")
        assert "Importing m.py called sys.exit()" in message
        assert 'if __name__ == "__main__":' in message

    def test_timeout_during_import(self, tmp_path: Path) -> None:
        """pytest-timeout's Failed during import means module code never finished"""
        try:
            pytest.fail("Timeout (>5.0s) from pytest-timeout.")
        except pytest.fail.Exception as exc:
            message = explain.import_failure(exc, tmp_path / "m.py")
        assert message.startswith("Importing m.py did not finish")

    def test_failed_keeps_its_message(self, tmp_path: Path) -> None:
        """a teaching failure raised while importing is passed through"""
        try:
            pytest.fail("m.py is missing: create it")
        except pytest.fail.Exception as exc:
            assert explain.import_failure(exc, tmp_path / "m.py") == "m.py is missing: create it"


class TestUnexpectedException:
    """An exception nobody expected is named, with the learner's line when there is one."""

    def test_points_at_the_learner_frame(self, tmp_path: Path) -> None:
        """the innermost frame in the learner's file is shown"""
        path = tmp_path / "ex.py"
        exc = raised_in(path, "def f():\n    return {}['key']\nf()\n")
        message = explain.unexpected_exception(exc, exc.__traceback__, str(path))
        assert message == "Your code raised KeyError: 'key' (at ex.py:2: return {}['key'])."

    def test_without_learner_frame(self) -> None:
        """no frame in the learner's file: the exception alone"""
        message = explain.unexpected_exception(ValueError("x"), None, "/nowhere.py")
        assert message == "The check stopped on ValueError: x"

    def test_assertion(self) -> None:
        """a bare assertion in a check is reported as such"""
        assert explain.unexpected_exception(AssertionError("assert 1 == 2"), None, None) == (
            "Assertion failed: assert 1 == 2"
        )

    def test_async_with_writer(self) -> None:
        """`async with writer` gets its own explanation"""
        exc = TypeError("'StreamWriter' object does not support the asynchronous context manager protocol")
        message = explain.unexpected_exception(exc, None, None)
        assert explain.EXPLANATIONS["async_with_writer"] in message

    def test_loop_closed(self) -> None:
        """"Event loop is closed" gets its own explanation"""
        message = explain.unexpected_exception(RuntimeError("Event loop is closed"), None, None)
        assert explain.EXPLANATIONS["loop_closed"] in message

    def test_blocking_error_names_the_line(self, tmp_path: Path) -> None:
        """blockbuster's error is explained with the learner's line"""
        from blockbuster import BlockingError

        path = tmp_path / "ex.py"
        path.write_text("def f(e):\n    raise e\n", encoding="utf-8")
        namespace: dict[str, object] = {}
        exec(compile(path.read_text(), str(path), "exec"), namespace)
        try:
            namespace["f"](BlockingError("time.sleep"))  # type: ignore[operator]
        except BlockingError as exc:
            message = explain.unexpected_exception(exc, exc.__traceback__, str(path))
        assert message.startswith("Blocking call to time.sleep on the event loop (at ex.py:2: raise e).")
        assert explain.EXPLANATIONS["blocking"] in message


class TestOtherMessages:
    """Timeouts and blocking calls are explained in asyncio terms."""

    def test_timeout_with_place(self) -> None:
        """where the code was waiting is quoted"""
        message = explain.timeout(2, "task main: waiting at ex.py:4: await reader.read()")
        assert message.startswith(
            "Did not finish within 2s. It was still waiting: task main: waiting at ex.py:4: await reader.read()."
        )

    def test_timeout_without_place(self) -> None:
        """no place known: the limit and the advice"""
        assert explain.timeout(1.5, None).startswith("Did not finish within 1.5s. Code that awaits")

    def test_blocking_calls_names_at_most_three(self) -> None:
        """each call with its place; long lists are cut"""
        found = [BlockingCall("time.sleep", f"ex.py:{n}: time.sleep(1)") for n in range(1, 6)]
        message = explain.blocking_calls(found)
        assert message.startswith(
            "Blocking call on the event loop: time.sleep at ex.py:1: time.sleep(1); "
            "time.sleep at ex.py:2: time.sleep(1); time.sleep at ex.py:3: time.sleep(1). "
        )
        assert "ex.py:4" not in message

    def test_every_explanation_links_the_docs(self) -> None:
        """each paragraph ends with a link to the Python docs"""
        for key, text in explain.EXPLANATIONS.items():
            assert "https://docs.python.org/3/library/" in text, key

