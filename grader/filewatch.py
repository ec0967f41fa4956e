"""Which exercise files changed: file-system events (watchfiles), with polling as both
the safety net and the fallback.

A cheap poller (one ``stat`` per exercise file, twice a second) always runs. While
events work, it stays quiet: it only reports a change that no event reported within
a grace period, and after two such misses it concludes that events do not arrive
here (network, container and WSL file systems often drop them), stops the event
watcher and says so. With ``poll=True``, or when the event watcher fails to start
(an inotify limit, say), only the poller runs. Each change is reported once, as the
file's name, from a background thread: the caller hands it over to its own thread.

The poller is what notices that events went missing, so it is also the one polling
mode: watchfiles is asked for events only (``force_polling=False``), never for a
second poller of its own (it would start one on WSL, or with WATCHFILES_FORCE_POLLING).
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Collection, Iterator
from pathlib import Path
from typing import Any

import watchfiles

#: (mtime in ns, size, inode): any save changes one of them, an atomic rename the inode.
Signature = tuple[int, int, int]
#: ``events(folder, names, stop)`` yields sets of changed file names until ``stop`` is set.
EventSource = Callable[[Path, frozenset[str], threading.Event], Iterator[set[str]]]

POLL_INTERVAL_S = 0.5
#: How long the poller lets events be late before it reports a change itself.
GRACE_S = 1.0
#: Changes events missed before the watcher switches to polling for good.
MISSES_BEFORE_FALLBACK = 2


def signature(path: Path) -> Signature | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def watchfiles_events(folder: Path, names: frozenset[str], stop: threading.Event) -> Iterator[set[str]]:
    """File-system events for ``names`` in ``folder``, through watchfiles."""
    for changes in watchfiles.watch(
        folder,
        watch_filter=lambda _change, path: os.path.basename(path) in names,
        debounce=400,
        step=30,
        stop_event=stop,
        rust_timeout=500,
        raise_interrupt=False,
        recursive=False,
        force_polling=False,
    ):
        yield {os.path.basename(path) for _change, path in changes}


class FileWatcher:
    """Calls ``on_change(name)`` when one of ``names`` in ``folder`` changes (created,
    saved, replaced or deleted), and ``on_notice(text)`` when it switches to polling."""

    def __init__(
        self,
        folder: Path,
        names: Collection[str],
        on_change: Callable[[str], None],
        *,
        poll: bool = False,
        on_notice: Callable[[str], None] | None = None,
        events: EventSource | None = None,
        interval: float = POLL_INTERVAL_S,
        grace: float = GRACE_S,
    ) -> None:
        self.folder = folder
        self.names = frozenset(names)
        self._on_change = on_change
        self._on_notice = on_notice or (lambda _text: None)
        self._events = events or watchfiles_events
        self._interval = interval
        self._grace = grace
        self._lock = threading.Lock()
        self._seen: dict[str, Signature | None] = {}
        self._late: dict[str, tuple[Signature | None, float]] = {}
        self._misses = 0
        self._stop = threading.Event()
        self._stop_events = threading.Event()
        self._threads: list[threading.Thread] = []
        #: ``events`` while file-system events are trusted, else ``polling``.
        self.mode = "polling" if poll else "events"

    def start(self) -> None:
        """Take the current state of every file as the baseline, then start watching."""
        self._seen = {name: signature(self.folder / name) for name in self.names}
        if self.mode == "events":
            self._spawn(self._watch_events, "awaitlings-events")
        self._spawn(self._poll, "awaitlings-poll")

    def stop(self) -> None:
        self._stop.set()
        self._stop_events.set()
        for thread in self._threads:
            thread.join(timeout=2)

    # --- threads ----------------------------------------------------------------------

    def _spawn(self, target: Callable[[], None], name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _watch_events(self) -> None:
        try:
            for changed in self._events(self.folder, self.names, self._stop_events):
                for name in changed & self.names:
                    self._report(name)
        except Exception as exc:  # inotify limits, a vanished folder: poll instead
            if not self._stop.is_set():
                self._fall_back(f"file-system events are unavailable ({type(exc).__name__}: {exc})")

    def _poll(self) -> None:
        while not self._stop.wait(self._interval):
            now = time.monotonic()
            for name in sorted(self.names):
                current = signature(self.folder / name)
                with self._lock:
                    if current == self._seen.get(name):
                        self._late.pop(name, None)
                        continue
                    if self.mode == "events":
                        noticed = self._late.get(name)
                        if noticed is None or noticed[0] != current:
                            self._late[name] = (current, now)
                            continue
                        if now - noticed[1] < self._grace:
                            continue
                        self._misses += 1
                    self._late.pop(name, None)
                    missed_enough = self.mode == "events" and self._misses >= MISSES_BEFORE_FALLBACK
                self._report(name, current)
                if missed_enough:
                    self._fall_back("file-system events are not arriving (a network, container or WSL file system?)")

    # --- helpers ----------------------------------------------------------------------

    def _report(self, name: str, current: Any = ...) -> None:
        sig = signature(self.folder / name) if current is ... else current
        with self._lock:
            if sig == self._seen.get(name):
                return  # already reported (by the other thread), or no real change
            self._seen[name] = sig
            self._late.pop(name, None)
        with contextlib.suppress(Exception):
            self._on_change(name)

    def _fall_back(self, why: str) -> None:
        with self._lock:
            if self.mode == "polling":
                return
            self.mode = "polling"
        self._stop_events.set()
        self._on_notice(f"{why}: checking the files every {self._interval:g}s instead")
