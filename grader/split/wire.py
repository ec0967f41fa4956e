"""The checker↔worker wire: length-prefixed JSON frames, and a codec for the values they carry.

Only plain data crosses: ``None``, booleans, numbers, strings, bytes, lists, tuples, sets,
dicts, and exceptions by value. Anything else stays where it lives and crosses as a
*reference* (a number in its owner's table, a kind and a short repr); the other side holds
a proxy for it, and a proxy sent back arrives as the very object it stands for. That is
how a fake fetch the checker passes in stays in the checker (the worker gets a stub that
calls back), and how ``result[i] is page`` and ``raised is boom`` still hold after a
round trip through the learner's code.

The checker never evaluates anything the worker sends beyond decoding it: a frame is
bounded in size and nesting, a type name only ever selects a built-in ``Exception``
subclass or a fresh class that derives from ``Exception``, so a worker cannot raise
``SystemExit`` in the checker or make it import anything.
"""

from __future__ import annotations

import asyncio
import base64
import builtins
import inspect
import json
import socket
import struct
import threading
from collections.abc import Callable
from typing import Any

#: The largest frame either side accepts (a bigger one is a broken conversation): room
#: for ex05's 32 MiB payload and its echo, base64 in JSON.
MAX_FRAME = 64 * 1024 * 1024

#: How deep values may nest.
MAX_DEPTH = 64

#: Characters of a repr or an exception's text that cross (the rest is cut).
TEXT_CAP = 2000

_HEADER = struct.Struct(">I")
_LENGTH = struct.Struct(">I")


class WireError(Exception):
    """The other side broke the conversation (closed, oversized or malformed frame)."""


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number this conversation carries")


#: Bytes values this long or longer cross out of line, raw, after the frame's JSON
#: (base64 in JSON costs a third more bytes and a second each way for ex05's 32 MiB).
BLOB_MIN = 64 * 1024

#: The blobs this thread's encoder set aside for the next frame it packs.
_pending = threading.local()


_by_name: dict[str, Any] | None = None


def _named() -> dict[str, Any]:
    """Functions that cross by name, not as references: a process pool pickles the
    function it runs (by module and name), and a reference to the other side's object
    cannot be pickled. Each side looks a name it receives up in this table, never
    imports by it."""
    global _by_name
    if _by_name is None:
        import math

        from grader import workerprobes

        found = {"math.factorial": math.factorial}
        for name in ("report_pid", "call_switchboard"):
            found[f"grader.workerprobes.{name}"] = getattr(workerprobes, name)
        _by_name = found
    return _by_name


def _blobs() -> list[bytes]:
    blobs: list[bytes] | None = getattr(_pending, "blobs", None)
    if blobs is None:
        blobs = _pending.blobs = []
    return blobs


def pack(message: dict[str, Any]) -> bytes:
    """One frame: its length, its JSON's length, the JSON, then the raw blobs the JSON
    refers to (``{"$": "blob", "i": k}``), their lengths listed in ``"$blobs"``."""
    blobs = _blobs()
    _pending.blobs = []
    if blobs:
        message = {**message, "$blobs": [len(b) for b in blobs]}
    body = json.dumps(message, separators=(",", ":"), allow_nan=True).encode()
    size = _LENGTH.size + len(body) + sum(len(b) for b in blobs)
    if size > MAX_FRAME:
        raise WireError(f"a message of {size} bytes is over the {MAX_FRAME}-byte limit")
    return b"".join([_HEADER.pack(size), _LENGTH.pack(len(body)), body, *blobs])


class FrameReader:
    """Frames from a socket, read whole or not at all (a buffer keeps partial ones)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = bytearray()
        self.closed = False

    def take(self) -> dict[str, Any] | None:
        """The next complete frame already received, if any."""
        if len(self.buffer) < _HEADER.size:
            return None
        (size,) = _HEADER.unpack_from(self.buffer)
        if size > MAX_FRAME:
            raise WireError(f"a message of {size} bytes announced, over the {MAX_FRAME}-byte limit")
        if len(self.buffer) < _HEADER.size + size:
            return None
        frame = bytes(self.buffer[_HEADER.size : _HEADER.size + size])
        del self.buffer[: _HEADER.size + size]
        if size < _LENGTH.size:
            raise WireError("a frame too short to hold a message")
        (length,) = _LENGTH.unpack_from(frame)
        if _LENGTH.size + length > size:
            raise WireError("a frame shorter than its message")
        body = frame[_LENGTH.size : _LENGTH.size + length]
        try:
            message = json.loads(body, parse_constant=_no_constant)
        except (ValueError, RecursionError, MemoryError) as exc:
            raise WireError(f"a malformed message ({type(exc).__name__})") from None
        if not isinstance(message, dict) or not isinstance(message.get("op"), str):
            raise WireError("a message without an operation")
        rest = memoryview(frame)[_LENGTH.size + length :]
        lengths = message.pop("$blobs", [])
        if rest or lengths:
            if not isinstance(lengths, list) or not all(type(n) is int and n >= 0 for n in lengths):
                raise WireError("a malformed list of blobs")
            if sum(lengths) != len(rest):
                raise WireError("blobs that do not fill their frame")
            blobs, at = [], 0
            for n in lengths:
                blobs.append(bytes(rest[at : at + n]))
                at += n
            message = dict(_with_blobs(message, blobs, 0))
        return message

    def fill(self, block: bool, timeout: float | None = None) -> bool:
        """Receive what is there (waiting up to ``timeout`` if ``block``); False if nothing came."""
        if self.closed:
            raise WireError("the other side has closed the conversation")
        try:
            if block:
                self.sock.settimeout(timeout)
                data = self.sock.recv(1 << 20)
            else:
                data = self.sock.recv(1 << 20, socket.MSG_DONTWAIT)
        except (BlockingIOError, TimeoutError, InterruptedError):
            return False
        except OSError as exc:
            self.closed = True
            raise WireError(f"the conversation broke ({exc})") from None
        if not data:
            self.closed = True
            raise WireError("the other side has closed the conversation")
        self.buffer += data
        return True


def _with_blobs(data: Any, blobs: list[bytes], depth: int) -> Any:
    """``data`` with each blob reference replaced by ``{"$": "raw", "v": the bytes}``."""
    if depth > MAX_DEPTH + 4:
        raise WireError("a value nested too deeply")
    if isinstance(data, list):
        return [_with_blobs(item, blobs, depth + 1) for item in data]
    if isinstance(data, dict):
        if data.get("$") == "blob":
            index = data.get("i")
            if type(index) is not int or not 0 <= index < len(blobs):
                raise WireError("a reference to a blob the frame does not hold")
            return {"$": "raw", "v": blobs[index]}
        return {key: _with_blobs(value, blobs, depth + 1) for key, value in data.items()}
    return data


def send(sock: socket.socket, message: dict[str, Any]) -> None:
    sock.settimeout(None)
    sock.sendall(pack(message))


def crop(text: str, limit: int = TEXT_CAP) -> str:
    return text if len(text) <= limit else text[: limit - 20] + f"... [{len(text) - limit + 20} more]"


def safe_repr(value: Any) -> str:
    """A short repr to stand for ``value`` on the other side: asyncio's tasks, futures and
    coroutines by their name and state, without the file paths their own reprs show."""
    try:
        return crop(_plain_repr(value))
    except Exception as exc:  # a learner's __repr__ may raise
        return f"<{type(value).__name__} object (repr raised {type(exc).__name__})>"


def _plain_repr(value: Any) -> str:
    if isinstance(value, asyncio.Task):
        coro = value.get_coro()
        name = getattr(coro, "__qualname__", None) or value.get_name()
        return f"<Task {_state(value)} {name}()>"
    if isinstance(value, asyncio.Future):
        return f"<Future {_state(value)}>"
    if inspect.iscoroutine(value):
        return f"<coroutine object {value.__qualname__}>"
    return repr(value)


def _state(future: Any) -> str:
    if not future.done():
        return "pending"
    return "cancelled" if future.cancelled() else "finished"


class Codec:
    """Encodes this side's values and decodes the other side's, keeping both tables.

    ``make_proxy(id, kind, repr, name)`` builds this side's stand-in for the other side's
    object ``id``; ``mirror_exception(type_name, message, args, remote_id)`` builds an
    exception of the other side (the checker's and the worker's choices differ).
    """

    def __init__(
        self,
        make_proxy: Callable[[int, str, str, str], Any],
        kind_of: Callable[[Any], str],
        mirror_exception: Callable[[str, str, list[Any], int | None], BaseException],
    ) -> None:
        self._make_proxy = make_proxy
        self._kind_of = kind_of
        self._mirror_exception = mirror_exception
        self.local: dict[int, Any] = {}
        self._local_ids: dict[int, int] = {}
        self.proxies: dict[int, Any] = {}
        self._proxy_ids: dict[int, int] = {}
        self._kept: list[Any] = []  # every proxy lives as long as the codec: ids stay unique

    # -- this side's objects -------------------------------------------------------------

    def register(self, value: Any) -> int:
        key = id(value)
        number = self._local_ids.get(key)
        if number is None:
            number = len(self.local) + 1
            self.local[number] = value
            self._local_ids[key] = number
        return number

    def adopt(self, proxy: Any, number: int) -> None:
        """``proxy`` stands for the other side's object ``number`` from now on."""
        self.proxies[number] = proxy
        self._proxy_ids[id(proxy)] = number
        self._kept.append(proxy)

    def encode(self, value: Any, depth: int = 0) -> Any:
        if depth > MAX_DEPTH:
            raise WireError("a value nested too deeply to send")
        if value is None or isinstance(value, bool | str):
            return value
        if type(value) is int or type(value) is float:
            return value
        back = self._proxy_ids.get(id(value))
        if back is not None:
            return {"$": "back", "id": back}
        if type(value) is bytes or type(value) is bytearray:
            if len(value) >= BLOB_MIN:
                blobs = _blobs()
                blobs.append(bytes(value))
                return {"$": "blob", "i": len(blobs) - 1}
            return {"$": "bytes", "b64": base64.b64encode(bytes(value)).decode()}
        if type(value) is list:
            return [self.encode(item, depth + 1) for item in value]
        if type(value) is tuple:
            return {"$": "tuple", "items": [self.encode(item, depth + 1) for item in value]}
        if type(value) in (set, frozenset):
            return {"$": "set", "items": [self.encode(item, depth + 1) for item in value]}
        if type(value) is dict:
            return {
                "$": "dict",
                "items": [[self.encode(k, depth + 1), self.encode(v, depth + 1)] for k, v in value.items()],
            }
        if isinstance(value, BaseException):
            return self._encode_exception(value, depth)
        if callable(value):
            for name, named in _named().items():
                if value is named:
                    return {"$": "named", "name": name}
        kind = self._kind_of(value)
        return {
            "$": "ref",
            "id": self.register(value),
            "kind": kind,
            "repr": safe_repr(value),
            "name": crop(str(getattr(value, "__qualname__", type(value).__qualname__)), 200),
        }

    def _encode_exception(self, exc: BaseException, depth: int) -> dict[str, Any]:
        group = None
        if isinstance(exc, BaseExceptionGroup):
            group = [self.encode(inner, depth + 1) for inner in exc.exceptions]
        try:
            args = [self.encode(arg, depth + 1) for arg in exc.args]
        except WireError:
            raise
        except Exception:
            args = []
        try:
            text = str(exc.message) if isinstance(exc, BaseExceptionGroup) else str(exc)
        except Exception:
            text = "?"
        return {
            "$": "exc",
            "id": self.register(exc),
            "type": crop(type(exc).__name__, 200),
            "text": crop(text),
            "args": args,
            "group": group,
        }

    # -- the other side's objects --------------------------------------------------------

    def decode(self, data: Any, depth: int = 0) -> Any:
        if depth > MAX_DEPTH:
            raise WireError("a value nested too deeply")
        if data is None or isinstance(data, bool | int | float | str):
            return data
        if isinstance(data, list):
            return [self.decode(item, depth + 1) for item in data]
        if not isinstance(data, dict):
            raise WireError(f"an unknown value {type(data).__name__}")
        tag = data.get("$")
        if tag == "back":
            number = data.get("id")
            if number not in self.local:
                raise WireError("a reference to an object this side never sent")
            return self.local[number]
        if tag == "bytes":
            return base64.b64decode(str(data.get("b64", "")))
        if tag == "raw":
            raw = data.get("v")
            if type(raw) is not bytes:  # only a frame's blob is ever bytes here
                raise WireError("a malformed blob")
            return raw
        if tag in ("tuple", "set", "dict"):
            items = data.get("items")
            if not isinstance(items, list):
                raise WireError("a collection without items")
            if tag == "tuple":
                return tuple(self.decode(item, depth + 1) for item in items)
            if tag == "set":
                try:
                    return {self.decode(item, depth + 1) for item in items}
                except TypeError:
                    raise WireError("a set of unhashable items") from None
            pairs = {}
            for pair in items:
                if not isinstance(pair, list) or len(pair) != 2:
                    raise WireError("a malformed dict item")
                try:
                    pairs[self.decode(pair[0], depth + 1)] = self.decode(pair[1], depth + 1)
                except TypeError:
                    raise WireError("a dict with an unhashable key") from None
            return pairs
        if tag == "named":
            named = _named().get(str(data.get("name")))
            if named is None:
                raise WireError("a function by a name this side does not send by name")
            return named
        if tag == "ref":
            number = data.get("id")
            if not isinstance(number, int):
                raise WireError("a reference without a number")
            proxy = self.proxies.get(number)
            if proxy is None:
                kind, text = str(data.get("kind", "object")), crop(str(data.get("repr", "")))
                proxy = self._make_proxy(number, kind, text, crop(str(data.get("name", "")), 200))
                self.adopt(proxy, number)
            return proxy
        if tag == "exc":
            number = data.get("id")
            if isinstance(number, int) and number in self.proxies:
                return self.proxies[number]
            args = data.get("args")
            exc = self._mirror_exception(
                crop(str(data.get("type", "Exception")), 200),
                crop(str(data.get("text", ""))),
                self.decode(args, depth + 1) if isinstance(args, list) else [],
                number if isinstance(number, int) else None,
            )
            group = data.get("group")
            if isinstance(group, list) and group:
                inner = [self.decode(item, depth + 1) for item in group]
                inner = [e if isinstance(e, Exception) else RuntimeError(repr(e)) for e in inner]
                exc = _group(crop(str(data.get("type", ""))), crop(str(data.get("text", ""))), inner)
            if isinstance(number, int):
                self.adopt(exc, number)
            return exc
        raise WireError(f"an unknown tag {tag!r}")


def _group(type_name: str, text: str, inner: list[Exception]) -> BaseException:
    try:
        return ExceptionGroup(text, inner)
    except (TypeError, ValueError):
        return RuntimeError(f"{type_name}: {text}")


def builtin_exception(type_name: str) -> type[Exception] | None:
    """A built-in ``Exception`` subclass named ``type_name`` (never a BaseException beyond)."""
    candidate = getattr(builtins, type_name, None)
    if isinstance(candidate, type) and issubclass(candidate, Exception):
        return None if issubclass(candidate, BaseExceptionGroup) else candidate
    return None
