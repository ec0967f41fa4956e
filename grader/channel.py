"""The protocol between the sandboxed child and the grader: one module for both ends.

The child (the plugin) writes numbered, authenticated JSON lines to an inherited pipe:

    <hex HMAC-SHA256 of the body, keyed with a secret the parent sent on stdin> <body>

and the parent reads them with :class:`Reader`, which accepts a line only if its MAC is
right and its ``seq`` is the next one: a line the learner's code forges, replays or
reorders is dropped and counted as tampering. Every message is one of the frozen
dataclasses below, parsed and validated here once (a check's weight, time limit and hint
are numbers in range by the time the sandbox reads them).

In the order a child sends them: :class:`Hello`, :class:`Collected`, then per check
:class:`Start`, :class:`Importing`/:class:`Imported` (around the learner's import),
:class:`Stuck` (the watchdog's account of a check it could not stop), :class:`Result`;
:class:`Error` (a checks file that cannot be collected) at any time; :class:`Done`.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import signal
import threading
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

#: A line longer than this is no honest plugin's: the channel is being flooded.
MAX_LINE = 8 * 1024 * 1024


@dataclass(frozen=True)
class CollectedCheck:
    """One check as collected: what the parent needs before any learner code runs."""

    id: str
    name: str
    weight: float = 1.0
    hidden: bool = False
    limit: float | None = None  # its own time limit (seconds); None: the exercise's
    hint: int | None = None  # the manifest hint its failure points to (1-based)
    timing: bool = False  # its verdict depends on the real clock (never served from the cache)

    @classmethod
    def parse(cls, raw: object) -> CollectedCheck | None:
        if not isinstance(raw, dict) or not isinstance(raw.get("id"), str):
            return None
        weight, limit, hint = raw.get("weight", 1.0), raw.get("limit"), raw.get("hint")
        if type(weight) not in (int, float) or not 0 <= weight < 1e6:
            return None
        if limit is not None and (type(limit) not in (int, float) or not 0 < limit < 1e5):
            return None
        return cls(
            id=raw["id"],
            name=str(raw.get("name") or raw["id"]),
            weight=float(weight),
            hidden=raw.get("hidden") is True,
            limit=None if limit is None else float(limit),
            hint=hint if type(hint) is int and hint >= 1 else None,
            timing=raw.get("timing") is True,
        )


@dataclass(frozen=True)
class Hello:
    pid: int
    python: str
    isolation: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Collected:
    checks: tuple[CollectedCheck, ...]


@dataclass(frozen=True)
class Start:
    id: str


@dataclass(frozen=True)
class Importing:
    pass


@dataclass(frozen=True)
class Imported:
    pass


@dataclass(frozen=True)
class Result:
    id: str
    status: str
    message: str | None = None
    output: str = ""
    duration: float = 0.0
    import_error: bool = False


@dataclass(frozen=True)
class Stuck:
    """The child's account of a check it may not be able to finish: the verdict the parent
    gives if it must kill the child (``failed`` when the loop monitor proved why)."""

    id: str
    message: str
    status: str = "timeout"


@dataclass(frozen=True)
class Error:
    message: str


@dataclass(frozen=True)
class Done:
    pass


Message = Hello | Collected | Start | Importing | Imported | Result | Stuck | Error | Done

_TYPES: dict[str, type[Any]] = {
    "hello": Hello, "collected": Collected, "start": Start, "importing": Importing,
    "imported": Imported, "result": Result, "stuck": Stuck, "error": Error, "done": Done,
}  # fmt: skip
_NAMES = {cls: name for name, cls in _TYPES.items()}
_STATUSES = frozenset({"passed", "failed", "error", "timeout"})


def encode(message: Message) -> dict[str, Any]:
    """The JSON object for ``message`` (without its sequence number)."""
    body = asdict(message)
    if isinstance(message, Collected):
        body["checks"] = [asdict(check) for check in message.checks]
    return {"type": _NAMES[type(message)], **body}


def decode(raw: object) -> Message | None:
    """The message a JSON object stands for, or None if it is not a valid one."""
    if not isinstance(raw, dict):
        return None
    kind = _TYPES.get(str(raw.get("type")))
    try:
        if kind is Hello:
            iso = raw.get("isolation")
            return Hello(int(raw["pid"]), str(raw.get("python", "")), dict(iso) if isinstance(iso, dict) else {})
        if kind is Collected:
            checks = [CollectedCheck.parse(c) for c in raw.get("checks", [])]
            return None if any(c is None for c in checks) else Collected(tuple(c for c in checks if c is not None))
        if kind is Start:
            return Start(str(raw["id"]))
        if kind is Result:
            status = str(raw.get("status"))
            message = raw.get("message")
            return Result(
                id=str(raw["id"]),
                status=status if status in _STATUSES else "error",
                message=None if message is None else str(message),
                output=str(raw.get("output") or ""),
                duration=float(raw.get("duration") or 0.0),
                import_error=raw.get("import_error") is True,
            )
        if kind is Stuck:
            status = str(raw.get("status", "timeout"))
            text = str(raw.get("message", ""))[:4000]
            return Stuck(str(raw["id"]), text, status if status in _STATUSES else "timeout")
        if kind is Error:
            return Error(str(raw.get("message", "")))
        if kind in (Importing, Imported, Done):
            return kind()  # type: ignore[no-any-return]
    except (KeyError, TypeError, ValueError):
        return None
    return None


def sign(key: bytes, body: bytes) -> bytes:
    return hmac.new(key, body, hashlib.sha256).hexdigest().encode()


class Writer:
    """The child's end: numbered, authenticated lines on the result pipe. Thread-safe
    (the watchdog sends too); a parent that has gone away is not an error."""

    def __init__(self, fd: int, key: bytes) -> None:
        # Buffered: a write to a pipe interrupted by a signal is completed, never cut short.
        self._file = os.fdopen(fd, "wb", closefd=True)
        self._key = key
        self._seq = 0
        self._lock = threading.Lock()

    def send(self, message: Message) -> None:
        with self._lock:
            self._seq += 1
            body = json.dumps({"seq": self._seq, **encode(message)}, separators=(",", ":")).encode()
            line = sign(self._key, body) + b" " + body + b"\n"
            # No signal handler may raise halfway through a line (pytest-timeout's alarm, the
            # loop monitor's interruption): a cut line would read as tampering. Signals that
            # arrive meanwhile are delivered right after.
            blocked = _block_signals()
            try:
                # A parent that is gone (or a closed pipe) leaves nothing to tell.
                with contextlib.suppress(OSError):
                    self._file.write(line)
                    self._file.flush()
            finally:
                if blocked is not None:
                    signal.pthread_sigmask(signal.SIG_SETMASK, blocked)


def _block_signals() -> set[int | signal.Signals] | None:
    """Block every signal a handler may be set for in this thread; the previous mask."""
    try:
        return signal.pthread_sigmask(signal.SIG_BLOCK, set(signal.Signals) - {signal.SIGKILL, signal.SIGSTOP})
    except (OSError, ValueError):
        return None


class Tampered(Exception):
    """The channel carried something no honest child sends (a flood)."""


class Reader:
    """The parent's end: feed it what the pipe gives, get verified messages in order.
    ``rejected`` counts lines dropped for a bad MAC, a wrong sequence number or a shape
    that is no message: any of them means the learner's code wrote to the channel."""

    def __init__(self, key: bytes) -> None:
        self._key = key
        self._pending = b""
        self._next = 1
        self.rejected = 0

    def feed(self, chunk: bytes) -> Iterator[Message]:
        self._pending += chunk
        if len(self._pending) > MAX_LINE and b"\n" not in self._pending[-MAX_LINE:]:
            raise Tampered("the result channel was flooded")
        *lines, self._pending = self._pending.split(b"\n")
        for line in lines:
            message = self._verify(line)
            if message is None:
                self.rejected += 1
                continue
            self._next += 1
            yield message

    def _verify(self, line: bytes) -> Message | None:
        mac, _, body = line.partition(b" ")
        if not hmac.compare_digest(mac, sign(self._key, body)):
            return None
        try:
            raw = json.loads(body)
        except ValueError:
            return None
        if not isinstance(raw, dict) or raw.get("seq") != self._next:
            return None
        return decode(raw)
