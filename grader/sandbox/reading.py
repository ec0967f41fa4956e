"""Reading a child: its verified messages and its output, until both end, it lingers, or
the parent's deadline for the current step passes."""

from __future__ import annotations

import os
import selectors
import subprocess
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from grader import channel
from grader.manifest import Exercise
from grader.sandbox import config, warm
from grader.sandbox.config import LINGER_S, STARTUP_S, Limits

#: Error messages kept from one child (each cropped by the channel): a flood of them
#: must not grow the parent's memory.
MAX_ERRORS = 20


@dataclass
class Run:
    """What one child told us (authenticated lines only) and how it ended."""

    collected: list[channel.CollectedCheck] = field(default_factory=list)
    results: dict[str, channel.Result] = field(default_factory=dict)
    in_progress: str | None = None
    importing: bool = False
    done: bool = False
    tampered: bool = False
    errors: list[str] = field(default_factory=list)
    returncode: int | None = None
    killed_for: str | None = None  # "deadline" | "linger"
    output: bytes = b""
    output_cut: int = 0
    isolation: dict[str, Any] = field(default_factory=dict)
    #: Why a check is still running, as the child saw it first (check id -> its account).
    stuck: dict[str, channel.Stuck] = field(default_factory=dict)


def read_child(
    proc: subprocess.Popen[bytes] | warm.WarmProcess,
    read_fd: int,
    key: bytes,
    run: Run,
    exercise: Exercise,
    limits: Limits,
    cancel: threading.Event | None = None,
) -> None:
    """Read results and output until both close, the child lingers, or a deadline passes."""
    assert proc.stdout is not None
    check_limits: dict[str, float] = {}
    deadline = time.monotonic() + STARTUP_S
    exited_at: float | None = None
    sel = selectors.DefaultSelector()
    sel.register(read_fd, selectors.EVENT_READ, "results")
    sel.register(proc.stdout.fileno(), selectors.EVENT_READ, "output")
    open_streams = 2
    reader = channel.Reader(key)
    try:
        while open_streams:
            now = time.monotonic()
            if now >= deadline:
                run.killed_for = "deadline"
                return
            if cancel is not None and cancel.is_set():
                run.killed_for = "cancelled"
                return
            if exited_at is None and proc.poll() is not None:
                exited_at = now
                deadline = min(deadline, now + 1.0)  # a grandchild may hold the pipes open
            for sel_key, _ in sel.select(timeout=min(0.5, deadline - now)):
                chunk = os.read(sel_key.fd, 65536)
                if not chunk:
                    sel.unregister(sel_key.fd)
                    open_streams -= 1
                    continue
                if sel_key.data == "output":
                    room = limits.output_bytes - len(run.output)
                    run.output += chunk[: max(room, 0)]
                    run.output_cut += max(len(chunk) - max(room, 0), 0)
                    continue
                try:
                    for message in reader.feed(chunk):
                        deadline = _handle(message, run, check_limits, exercise, deadline)
                except channel.Tampered as exc:
                    run.tampered = True
                    run.errors.append(str(exc))
                    return
                run.tampered |= reader.rejected > 0
    finally:
        sel.close()


def _handle(
    message: channel.Message, run: Run, check_limits: dict[str, float], exercise: Exercise, deadline: float
) -> float:
    """Apply one verified message; return the new hard deadline."""
    now = time.monotonic()
    match message:
        case channel.Hello(isolation=isolation):
            run.isolation = dict(isolation)
        case channel.Collected(checks=checks):
            run.collected = list(checks)
            for check in checks:
                check_limits[check.id] = check.limit if check.limit is not None else exercise.limit
            return now + STARTUP_S
        case channel.Start(id=check_id):
            run.in_progress = check_id
            run.importing = False
            return now + check_limits.get(check_id, exercise.limit) + config.HARD_MARGIN_S
        case channel.Importing():
            run.importing = True
        case channel.Imported():
            run.importing = False
        case channel.Result(id=check_id):
            run.results[check_id] = message
            run.in_progress = None
            run.importing = False
            return now + config.BETWEEN_CHECKS_S
        case channel.Error(message=text):
            if len(run.errors) < MAX_ERRORS:  # each is cropped by the channel; so is their number
                run.errors.append(text)
        case channel.Stuck(id=check_id):
            run.stuck.setdefault(check_id, message)  # the first account is the cause
        case channel.Done():
            run.done = True
            return now + LINGER_S
    return deadline
