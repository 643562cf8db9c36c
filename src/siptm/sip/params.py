"""Ordered, case-insensitive parameter lists (``;name=value``) with change tracking.

Rules of this module: pure string work, no I/O. Every parsed part of a message keeps
the exact text it was parsed from and a ``dirty`` flag; an untouched part renders as
its original text, so a proxy re-emits what it did not change byte for byte.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, MutableMapping
from typing import Any, Final, TypeVar, overload

from ..errors import ParseError

# RFC 3261 §25.1 token characters.
TOKEN_CHARS: Final = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.!%*_+`'~")
_TOKEN_RE: Final = re.compile(r"[A-Za-z0-9.!%*_+`'~-]+\Z")


_T = TypeVar("_T")


def is_token(text: str) -> bool:
    return _TOKEN_RE.match(text) is not None


class Params(MutableMapping[str, "str | None"]):
    """``;name[=value]`` parameters in their original order.

    Names compare case-insensitively and keep the spelling they were written with.
    A flag parameter (``;lr``) has the value ``None``.
    """

    __slots__ = ("_items", "dirty")

    def __init__(
        self, items: Iterable[tuple[str, str | None]] = (), parsed: list[list[Any]] | None = None
    ) -> None:
        """``parsed``: the parsers' ``[[name, value], ...]``, taken as is (``items`` unused)."""
        self._items: list[list[Any]] = (
            [[name, value] for name, value in items] if parsed is None else parsed)
        self.dirty = False

    def _find(self, key: str) -> int:
        """Where the first parameter called ``key`` (any case) is, or -1."""
        low = None
        for i, item in enumerate(self._items):
            name = item[0]
            if name == key:  # (the usual spelling: no lowering)
                return i
            if low is None:
                low = key.lower()
            if name.lower() == low:
                return i
        return -1

    @overload  # type: ignore[override]
    def get(self, key: str) -> str | None: ...
    @overload
    def get(self, key: str, default: _T) -> str | _T | None: ...

    def get(self, key: str, default: Any = None) -> Any:
        """Fast path of Mapping.get (no exception on a miss); names compare lowercased.
        ``default`` may be any object (a caller's sentinel: the compiled build checks
        argument types, so it is not declared ``str | None``)."""
        i = self._find(key)
        return default if i < 0 else self._items[i][1]

    def __getitem__(self, key: str) -> str | None:
        i = self._find(key)
        if i < 0:
            raise KeyError(key)
        return self._items[i][1]

    def __setitem__(self, key: str, value: str | None) -> None:
        i = self._find(key)
        if i < 0:
            self._items.append([key, value])
        else:
            self._items[i][1] = value
        self.dirty = True

    def __delitem__(self, key: str) -> None:
        i = self._find(key)
        if i < 0:
            raise KeyError(key)
        del self._items[i]
        self.dirty = True

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self._find(key) >= 0

    def __iter__(self) -> Iterator[str]:
        return (item[0] for item in self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"Params({[tuple(i) for i in self._items]!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Params):
            return self.lowered() == other.lowered()
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def lowered(self) -> dict[str, str | None]:
        return {name.lower(): value for name, value in self._items}

    def render(self) -> str:
        return "".join(
            f";{name}" if value is None else f";{name}={value}" for name, value in self._items
        )


def parse_uri_params(text: str) -> Params:
    """``;a=b;lr`` inside a URI (no quoting, no whitespace allowed)."""
    params = Params((), [])
    items = params._items
    for part in text.split(";")[1:]:
        name, eq, value = part.partition("=")
        if not name:
            raise ParseError("empty URI parameter")
        items.append([name, value if eq else None])
    return params


# A header parameter: `;` name [ `=` ( token | quoted-string | host ) ], LWS allowed around.
# A quoted-string holds no bare CR or LF (RFC 3261 §25.1 qdtext / quoted-pair).
_HPARAM_RE: Final = re.compile(
    r"""[ \t]*;[ \t]*([^\s;=,"<>]+)[ \t]*"""
    r"""(?:=[ \t]*("(?>(?:[^"\\\r\n]|\\[^\r\n])*)"|[^\s;,"<>]*))?[ \t]*"""
)


def parse_header_params(text: str, pos: int = 0) -> tuple[Params, int]:
    """Parse header parameters starting at ``pos``; returns them and where they end.

    Parsing stops at the end of the text or at a character that cannot continue a
    parameter list (the caller decides whether that is an error).
    """
    params = Params((), [])
    items = params._items
    end = len(text)
    match = _HPARAM_RE.match
    while pos < end:
        m = match(text, pos)
        if m is None:
            break
        items.append([m.group(1), m.group(2)])
        pos = m.end()
    return params, pos


def split_commas(value: str) -> list[str]:
    """Split a header value on the commas that separate values (outside quotes and <>)."""
    if "," not in value:
        return [value]
    if '"' not in value and "<" not in value:
        return value.split(",")  # e.g. several Via values on one line: nothing to skip
    parts: list[str] = []
    start = 0
    in_quotes = False
    in_angle = False
    escaped = False
    for i, ch in enumerate(value):
        if escaped:
            escaped = False
        elif in_quotes:
            if ch == "\\":
                escaped = True
            elif ch == '"':
                in_quotes = False
        elif ch == '"':
            in_quotes = True
        elif ch == "<":
            in_angle = True
        elif ch == ">":
            in_angle = False
        elif ch == "," and not in_angle:
            parts.append(value[start:i])
            start = i + 1
    parts.append(value[start:])
    return parts


def unquote(text: str) -> str:
    """The content of a quoted-string, with quoted-pairs resolved."""
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        inner = text[1:-1]
        if "\\" in inner:
            return re.sub(r"\\(.)", r"\1", inner, flags=re.S)
        return inner
    return text
