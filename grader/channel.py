"""The protocol between the sandboxed child and the grader: one module for both ends.

The child (the plugin) writes numbered, authenticated JSON lines to an inherited pipe:

    <hex HMAC-SHA256 of the body, keyed with a secret the parent sent on stdin> <body>

where the body carries the message, its ``seq`` and a random ``nonce``. The parent reads
them with :class:`Reader`, which accepts a line only if its MAC is right, its ``seq`` is
the next one and its nonce is new: a line the learner's code forges, replays or reorders
is dropped and counted as tampering. Every message is one of the frozen dataclasses
below, parsed and validated here once (a check's weight, time limit and hint are numbers
in range by the time the sandbox reads them).

The honest conversation, which the Reader enforces (anything else raises
:class:`Tampered`): :class:`Hello`; :class:`Collected`; then per check :class:`Start`
(a collected check not started before), :class:`Importing`/:class:`Imported` (around
the learner's import), any :class:`Stuck` (the watchdog's account of the check it could
not stop), one :class:`Result` for that check; :class:`Error` (a checks file that cannot
be collected) at any time; :class:`Done` last, even with a check cut short (a pytest
internal error ends the session), and nothing after it.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import secrets
import signal
import threading
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

#: A line longer than this is no honest plugin's: the channel is being flooded.
MAX_LINE = 8 * 1024 * 1024
#: Random bytes in each line's nonce (sent as twice as many hex digits).
NONCE_BYTES = 16


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
#: What a stuck check's account may become if the child must be killed: never a pass.
_STUCK_STATUSES = frozenset({"failed", "timeout"})
#: Characters kept of any text a message carries (a verdict's message, its output, an
#: error): the plugin crops well below this; whatever else arrives is cut, so the parent's
#: memory and every report stay bounded whatever the child sends.
TEXT_CAP = 8000
#: A verdict's message is a few sentences: an exception's text beyond this is cut.
MESSAGE_CAP = 4000


def encode(message: Message) -> dict[str, Any]:
    """The JSON object for ``message`` (without its sequence number)."""
    body = asdict(message)
    if isinstance(message, Collected):
        body["checks"] = [asdict(check) for check in message.checks]
    return {"type": _NAMES[type(message)], **body}


def _crop(text: str, cap: int = TEXT_CAP) -> str:
    return text if len(text) <= cap else text[:cap] + f"… ({len(text) - cap} characters cut)"


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
                message=None if message is None else _crop(str(message), MESSAGE_CAP),
                output=_crop(str(raw.get("output") or "")),
                duration=float(raw.get("duration") or 0.0),
                import_error=raw.get("import_error") is True,
            )
        if kind is Stuck:
            status = str(raw.get("status", "timeout"))
            text = str(raw.get("message", ""))[:4000]
            return Stuck(str(raw["id"]), text, status if status in _STUCK_STATUSES else "timeout")
        if kind is Error:
            return Error(_crop(str(raw.get("message", ""))))
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
        self._check: str | None = None  # started, its result not sent yet
        self._lock = threading.Lock()

    def send(self, message: Message) -> None:
        with self._lock:
            if isinstance(message, Stuck) and message.id != self._check:
                # The watchdog and the loop monitor decide from their own threads; the main
                # thread may have sent the check's verdict (or done) in between. Such a late
                # account is owed to no one, and would break the conversation the Reader
                # enforces; only here, under the lock, is the check-then-send race-free.
                return
            if isinstance(message, Start):
                self._check = message.id
            elif isinstance(message, Result | Done):
                self._check = None
            self._seq += 1
            nonce = secrets.token_hex(NONCE_BYTES)
            body = json.dumps({"seq": self._seq, "nonce": nonce, **encode(message)}, separators=(",", ":")).encode()
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
    """The channel carried something no honest child sends: a flood, or an authenticated
    message out of the honest conversation (only code holding the key writes one)."""


class Reader:
    """The parent's end: feed it what the pipe gives, get verified messages in order.

    ``rejected`` counts lines dropped for a bad MAC, a wrong sequence number, a nonce seen
    before or a shape that is no message: any of them means the learner's code wrote to the
    channel. A verified message out of the honest conversation (the module docstring)
    raises :class:`Tampered` saying what was seen: a result after done, a second result for
    a check, a result for a check that never started...
    """

    def __init__(self, key: bytes) -> None:
        self._key = key
        self._pending = b""
        self._next = 1
        self._nonces: set[str] = set()
        self.rejected = 0
        # Where the conversation stands.
        self._hello = False
        self._collected: frozenset[str] | None = None
        self._started: set[str] = set()
        self._check: str | None = None  # started, no result yet
        self._importing = False
        self._done = False

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
            self._follow(message)
            yield message

    def _verify(self, line: bytes) -> Message | None:
        mac, _, body = line.partition(b" ")
        if not hmac.compare_digest(mac, sign(self._key, body)):
            return None
        try:
            raw = json.loads(body)
        except (ValueError, RecursionError):  # nested too deep to parse is no message either
            return None
        if not isinstance(raw, dict) or raw.get("seq") != self._next:
            return None
        nonce = raw.get("nonce")
        if not isinstance(nonce, str) or len(nonce) != 2 * NONCE_BYTES or nonce in self._nonces:
            return None
        self._nonces.add(nonce)
        return decode(raw)

    def _follow(self, message: Message) -> None:
        """Advance the conversation by ``message``, or raise :class:`Tampered` if no honest
        child sends it here."""
        if self._done:
            raise Tampered(f"the result channel carried {_what(message)} after done")
        if not self._hello:
            if not isinstance(message, Hello):
                raise Tampered(f"the result channel carried {_what(message)} before hello")
            self._hello = True
            return
        # An Error (a checks file that cannot be collected) may come at any time.
        match message:
            case Hello():
                raise Tampered("the result channel carried a second hello")
            case Collected(checks=checks):
                if self._collected is not None:
                    raise Tampered("the result channel carried a second list of collected checks")
                self._collected = frozenset(check.id for check in checks)
            case Start(id=check_id):
                if self._collected is None:
                    raise Tampered(f"the result channel started {check_id!r} before the checks were collected")
                if self._check is not None:
                    raise Tampered(f"the result channel started {check_id!r} while {self._check!r} was running")
                if check_id not in self._collected:
                    raise Tampered(f"the result channel started {check_id!r}, which was not collected")
                if check_id in self._started:
                    raise Tampered(f"the result channel started {check_id!r} a second time")
                self._started.add(check_id)
                self._check = check_id
            case Importing():
                if self._check is None:
                    raise Tampered("the result channel carried an importing message while no check was running")
                if self._importing:
                    raise Tampered("the result channel carried a second importing message before imported")
                self._importing = True
            case Imported():
                if not self._importing:
                    raise Tampered("the result channel carried an imported message without importing before it")
                self._importing = False
            case Stuck(id=check_id):
                if check_id != self._check:
                    raise Tampered(f"the result channel carried a stuck account of {check_id!r}, which was not running")
            case Result(id=check_id):
                if check_id != self._check:
                    raise Tampered(f"the result channel carried {_result_out_of_turn(check_id, self._started)}")
                self._check = None
                self._importing = False
            case Done():
                self._done = True


def _what(message: Message) -> str:
    match message:
        case Start(id=check_id):
            return f"the start of {check_id!r}"
        case Stuck(id=check_id):
            return f"a stuck account of {check_id!r}"
        case Result(id=check_id):
            return f"a result for {check_id!r}"
    return f"a {_NAMES[type(message)]} message"


def _result_out_of_turn(check_id: str, started: set[str]) -> str:
    if check_id in started:
        return f"a second result for {check_id!r}"
    return f"a result for {check_id!r}, which never started"
