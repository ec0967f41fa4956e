"""`grade watch` in a real terminal: tmux runs it in an 80-column pane, the test edits
the exercise file, types keys and reads the screen, like a learner would.

Each test starts its own tmux server (its own socket), on a copy of the test kit
(``AWAITLINGS_KIT`` points the grader at it), and kills that server at the end.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from grader.manifest import Kit

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]

ROOT = Path(__file__).resolve().parents[2]
SOLUTION = ROOT / "solutions" / "ex01_hello_run.py"
#: A classic wrong answer: greets one after another, not concurrently.
SEQUENTIAL = ROOT / "tests" / "mutants" / "ex01_hello_run" / "one_after_another.py"


class Tmux:
    """One tmux server with one 80x50 window running one command."""

    def __init__(self, folder: Path) -> None:
        self.socket = folder / "tmux.sock"

    def run(self, *args: str) -> str:
        done = subprocess.run(["tmux", "-f", "/dev/null", "-S", str(self.socket), *args],
                              capture_output=True, text=True, timeout=10, check=True)  # fmt: skip
        return done.stdout

    def start(self, command: str, *, width: int = 80, height: int = 50) -> None:
        self.run("new-session", "-d", "-s", "w", "-x", str(width), "-y", str(height), command,
                 ";", "set-option", "-t", "w", "remain-on-exit", "on")  # fmt: skip

    def screen(self) -> str:
        """The pane's text, scrollback included, wrapped lines joined, without colours."""
        return self.run("capture-pane", "-p", "-J", "-t", "w", "-S", "-500")

    def visible(self) -> str:
        """Only what the pane shows now (no scrollback)."""
        return self.run("capture-pane", "-p", "-J", "-t", "w")

    def keys(self, *keys: str) -> None:
        self.run("send-keys", "-t", "w", *keys)

    def dead(self) -> bool:
        return self.run("display-message", "-p", "-t", "w", "#{pane_dead}").strip() == "1"

    def wait_for(self, condition: Callable[[str], bool], what: str, timeout: float = 40) -> str:
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if condition(screen):
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; the screen:\n{screen}")
            time.sleep(0.1)

    def wait_text(self, text: str, timeout: float = 40) -> str:
        return self.wait_for(lambda screen: text in screen, repr(text), timeout)

    def kill(self) -> None:
        subprocess.run(["tmux", "-S", str(self.socket), "kill-server"], capture_output=True, timeout=10, check=False)


@pytest.fixture
def tmux() -> Iterator[Tmux]:
    folder = Path(tempfile.mkdtemp(prefix="aw-tmux-"))  # short: socket paths are limited
    server = Tmux(folder)
    try:
        yield server
    finally:
        server.kill()
        shutil.rmtree(folder, ignore_errors=True)


def watch_command(kit: Kit, cwd: Path, *options: str) -> str:
    """`grade watch [options]` on the kit, then its exit status and the terminal settings.

    Run from ``cwd``, not from the kit: ``python -m`` puts the current folder first on
    ``sys.path``, and the test kit's ``grader/stubs`` folder would shadow the package.
    """
    grade = shlex.join([sys.executable, "-m", "grader", "watch", *options])
    return (
        f"cd {shlex.quote(str(cwd))} && env AWAITLINGS_KIT={shlex.quote(str(kit.root))} {grade}; "
        'echo "exit=$?"; stty -a'
    )


def terminal_restored(screen: str) -> bool:
    """`stty -a` after the watch shows canonical mode and echo back on."""
    return bool(re.search(r"(?<![-\w])icanon\b", screen) and re.search(r"(?<![-\w])echo\b", screen))


def save(path: Path, source: Path) -> None:
    path.write_text(source.read_text(encoding="utf-8"), encoding="utf-8")


class TestWatchInATerminal:
    """What the learner sees and types."""

    def test_edit_regrade_congratulate_hint_quit(self, tmux: Tmux, kit: Kit) -> None:
        """start: ex01 not started; a wrong save: its first failing check; the solution:
        congratulations and ex02 next; h: ex02's first hint; q: clean exit, terminal restored"""
        exercise_file = kit.stub_path(kit.exercises[0])
        tmux.start(watch_command(kit, tmux.socket.parent))
        screen = tmux.wait_text("awaitlings watch: grading exercises/ on every save")
        screen = tmux.wait_text("edit exercises/ex01_hello_run.py and save")
        assert "ex01 Your first coroutine  · not started" in screen
        assert "keys: h hint · l list · n next · r re-grade · q quit" in screen

        save(exercise_file, SEQUENTIAL)
        screen = tmux.wait_text("✘ ex01 Your first coroutine: failing")
        assert "main runs all greetings at once on one event loop" in screen
        assert "At most 1 greeting(s) ran at the same time; all 3 should." in screen
        assert "(4 of 5 checks pass)" in screen

        save(exercise_file, SOLUTION)
        screen = tmux.wait_text("Well done!")
        assert "✔ ex01 Your first coroutine: done, 10/10. Well done!" in screen
        assert "Next: ex02 Add two things" in screen

        tmux.keys("h")
        tmux.wait_text("Hint 1/2 for ex02: Use +.")
        tmux.keys("l")
        screen = tmux.wait_text("1/2 exercises done")
        assert re.search(r"ex01\s+Your first coroutine\s+✔ done\s+10/10", screen)

        tmux.keys("q")
        screen = tmux.wait_for(lambda s: "exit=" in s and "icanon" in s, "the watch to end")
        assert "Stopped watching." in screen and "exit=0" in screen
        assert terminal_restored(screen), screen
        for line in screen.split("Stopped watching.")[0].splitlines():
            assert len(line) <= 80 or "https://" in line, line

    def test_poll_grades_each_save(self, tmux: Tmux, kit: Kit) -> None:
        """--poll: the banner says so, a save is graded, q ends it cleanly"""
        tmux.start(watch_command(kit, tmux.socket.parent, "--poll"))
        tmux.wait_text("awaitlings watch: grading exercises/ on every save (polling)")
        tmux.wait_text("edit exercises/ex01_hello_run.py and save")
        save(kit.stub_path(kit.exercises[0]), SOLUTION)
        tmux.wait_text("✔ ex01 Your first coroutine: done, 10/10. Well done!")
        tmux.keys("q")
        screen = tmux.wait_for(lambda s: "exit=" in s and "icanon" in s, "the watch to end")
        assert "Stopped watching." in screen and "exit=0" in screen

    def test_keys_redraw_instead_of_piling_up(self, tmux: Tmux, kit: Kit) -> None:
        """l five times, then h three times, in a 24-line pane: the pane shows one course map,
        then one screen with the exercise and hints 1 to 3, and the keys at the bottom"""
        tmux.start(watch_command(kit, tmux.socket.parent), height=24)
        tmux.wait_text("edit exercises/ex01_hello_run.py and save")
        for _ in range(5):
            tmux.keys("l")
        tmux.wait_for(lambda s: s.count("exercises done") >= 5, "five course maps")
        visible = tmux.visible()
        assert visible.count("exercises done") == 1, visible
        assert "keys: h hint" in visible.strip().splitlines()[-1]
        for _ in range(3):
            tmux.keys("h")
        tmux.wait_for(lambda _s: "Hint 3/3 for ex01" in tmux.visible(), "the third hint")
        visible = tmux.visible()
        assert visible.count("ex01 Your first coroutine") == 1, visible
        assert all(f"Hint {n}/3 for ex01" in visible for n in (1, 2, 3)), visible
        assert "exercises done" not in visible and "keys: h hint" in visible.strip().splitlines()[-1]
        tmux.keys("q")
        tmux.wait_for(lambda s: "exit=" in s, "the watch to end")

    def test_ctrl_c_exits_cleanly(self, tmux: Tmux, kit: Kit) -> None:
        """Ctrl-C: no traceback, exit status 0, terminal restored"""
        tmux.start(watch_command(kit, tmux.socket.parent))
        tmux.wait_text("edit exercises/ex01_hello_run.py and save")
        tmux.keys("C-c")
        screen = tmux.wait_for(lambda s: "exit=" in s and "icanon" in s, "the watch to end")
        assert "Stopped watching." in screen and "exit=0" in screen
        assert "Traceback" not in screen
        assert terminal_restored(screen), screen
