"""The header section: ordered, case-insensitive, multi-valued, compact forms understood.

Rules of this module: a header keeps the exact bytes it arrived with until it is
replaced or its parsed value is changed; names are matched by their canonical
lowercase long form (``v`` and ``VIA`` are both ``via``) but written as they came.
Values are text decoded as UTF-8 with undecodable bytes kept (surrogateescape), so
any header survives a round trip.
"""

from __future__ import annotations

import re
from bisect import insort
from collections.abc import Iterator
from typing import Any, Final

COMPACT_FORMS: Final = {
    "i": "call-id", "f": "from", "t": "to", "v": "via", "m": "contact", "l": "content-length",
    "c": "content-type", "s": "subject", "k": "supported", "e": "content-encoding",
    "o": "event", "u": "allow-events", "r": "refer-to", "x": "session-expires",
    "y": "identity", "b": "referred-by",
}
_FOLD_RE: Final = re.compile(rb"\r?\n[ \t]+")
ENCODING: Final = "utf-8"
ERRORS: Final = "surrogateescape"


_CANONICAL_CACHE: Final[dict[str, str]] = {}


def canonical_name(name: str) -> str:
    """The lookup key of a header name: lowercase long form."""
    key = _CANONICAL_CACHE.get(name)
    if key is None:
        low = name.strip().lower()
        key = COMPACT_FORMS.get(low, low)
        if len(_CANONICAL_CACHE) < 1024:
            _CANONICAL_CACHE[name] = key
    return key


_canonical: Final = _CANONICAL_CACHE.get  # the hot paths try the cache inline, then canonical_name


# A byte looked for with ``int in bytes``: CPython's ``bytes in bytes`` first tries its
# argument as an integer, raising and clearing a TypeError on every call.
LF: Final = 0x0A


def raw_value(line: bytes) -> str:
    """The value part of a raw header line, unfolded and stripped, as text."""
    value = line[line.index(b":") + 1:]
    if LF in value:
        value = _FOLD_RE.sub(b" ", value)
    return value.strip(b" \t").decode(ENCODING, ERRORS)


def _render_objects(objs: Any) -> str:
    if objs.__class__ is list:
        return ", ".join(map(str, objs))
    return str(objs)


def _objects_dirty(objs: Any) -> bool:
    cls = objs.__class__
    if cls is list:
        for o in objs:
            if o.dirty:
                return True
        return False
    if cls is int or cls is str:  # Content-Length, Max-Forwards, Call-ID: immutable
        return False
    return getattr(objs, "dirty", False) is True


class Headers:
    """The headers of one message, in order.

    ``headers["Via"]`` is the first value, ``get_all`` every value; ``add``, ``prepend``,
    ``insert``, ``set``, ``remove`` and ``remove_first`` edit. Iteration yields names
    as written; ``items()`` yields ``(name, value)`` pairs.
    """

    __slots__ = ("_keys", "_lines", "_objs", "_removed_spans", "modified")

    _keys: list[str]
    _lines: list[bytes]
    _objs: list[Any]
    _removed_spans: list[tuple[int, int]] | None

    def __init__(
        self,
        items: list[tuple[str, str]] | None = None,
        keys: list[str] | None = None,
        lines: list[bytes] | None = None,
        verbatim: bool = False,
        objs: list[Any] | None = None,
    ) -> None:
        """Headers from ``(name, value)`` pairs, or (the parsers' form) over parsed
        ``lines`` and their canonical ``keys``, taken as they are, with their parsed
        values ``objs`` (default: none yet). ``verbatim`` when ``lines`` joined with
        CRLF are the received header block byte for byte. Then, while removing whole
        lines is the only change, ``_removed_spans`` tells where the removed lines were
        in that block: sorted ``(start, end)`` byte offsets, each line with its CRLF
        (None once anything else changed, or for headers that were not verbatim)."""
        self.modified = False
        if keys is not None and lines is not None:
            self._keys = keys
            self._lines = lines
            self._objs = [None] * len(keys) if objs is None else objs
            self._removed_spans = [] if verbatim else None
            return
        self._keys = []
        self._lines = []
        self._objs = []
        self._removed_spans = None
        for name, value in items or ():
            self.add(name, value)

    # --- reading --------------------------------------------------------------------
    def _value(self, i: int) -> str:
        objs = self._objs[i]
        if objs is not None and _objects_dirty(objs):
            return _render_objects(objs)
        return raw_value(self._lines[i])

    def name_at(self, i: int) -> str:
        line = self._lines[i]
        return line[:line.index(b":")].strip().decode(ENCODING, ERRORS)

    def index(self, name: str, start: int = 0) -> int:
        """Position of the first header called ``name`` at or after ``start``, or -1."""
        key = _canonical(name) or canonical_name(name)
        keys = self._keys
        if key not in keys:
            return -1
        try:
            return keys.index(key, start)
        except ValueError:
            return -1

    def get(self, name: str, default: str | None = None) -> str | None:
        i = self.index(name)
        return default if i < 0 else self._value(i)

    def __getitem__(self, name: str) -> str:
        i = self.index(name)
        if i < 0:
            raise KeyError(name)
        return self._value(i)

    def get_all(self, name: str) -> list[str]:
        key = _canonical(name) or canonical_name(name)
        keys = self._keys
        if key not in keys:
            return []
        return [self._value(i) for i, k in enumerate(keys) if k == key]

    def count(self, name: str) -> int:
        return self._keys.count(canonical_name(name))

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and (_canonical(name) or canonical_name(name)) in self._keys

    def __len__(self) -> int:
        return len(self._keys)

    def __iter__(self) -> Iterator[str]:
        return (self.name_at(i) for i in range(len(self._keys)))

    def keys(self) -> list[str]:
        return list(self)

    def items(self) -> list[tuple[str, str]]:
        lines = self._lines
        if b"\n" not in b"".join(lines) and not self._any_dirty():  # no folded line
            return [
                (n.strip().decode(ENCODING, ERRORS), v.strip(b" \t").decode(ENCODING, ERRORS))
                for n, _, v in [line.partition(b":") for line in lines]
            ]
        return self._items_slow()

    def _items_slow(self) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        objs = self._objs
        for i, line in enumerate(self._lines):
            raw_name, _, value = line.partition(b":")
            name = raw_name.strip().decode(ENCODING, ERRORS)
            obj = objs[i]
            if obj is not None and _objects_dirty(obj):
                out.append((name, _render_objects(obj)))
            elif LF in value:
                out.append((name, raw_value(line)))
            else:
                out.append((name, value.strip(b" \t").decode(ENCODING, ERRORS)))
        return out

    def __repr__(self) -> str:
        return f"Headers({self.items()!r})"

    # --- editing --------------------------------------------------------------------
    @staticmethod
    def _line(name: str, value: str) -> bytes:
        if "\r" in value or "\n" in value or "\r" in name or "\n" in name or ":" in name:
            raise ValueError("header name or value contains a line break or colon")
        return f"{name}: {value}".encode(ENCODING, ERRORS)

    def insert(self, index: int, name: str, value: str, parsed: Any = None) -> None:
        line = self._line(name, value)  # may refuse: before anything is changed
        self._keys.insert(index, _canonical(name) or canonical_name(name))
        self._lines.insert(index, line)
        self._objs.insert(index, parsed)
        self.modified = True
        self._removed_spans = None

    def add(self, name: str, value: str, parsed: Any = None) -> None:
        """Append a header after all others."""
        self.insert(len(self._keys), name, value, parsed)

    def prepend(self, name: str, value: str, parsed: Any = None) -> None:
        """Insert above the first header of the same name (or at the very top)."""
        i = self.index(name)
        self.insert(0 if i < 0 else i, name, value, parsed)

    def replace_at(self, i: int, value: str, parsed: Any = None) -> None:
        self.replace_line_at(i, self._line(self.name_at(i), value), parsed)

    def replace_line_at(self, i: int, line: bytes, parsed: Any = None) -> None:
        """Replace header ``i`` by a whole line the caller built (``name: value``)."""
        self._lines[i] = line
        self._objs[i] = parsed
        self.modified = True
        self._removed_spans = None

    def delete_at(self, i: int) -> None:
        spans = self._removed_spans
        if spans is not None:
            line = self._lines[i]
            start = sum(map(len, self._lines[:i])) + 2 * i if i else 0
            if not spans:
                spans.append((start, start + len(line) + 2))
            else:
                for removed_start, removed_end in spans:  # to an offset in the received block
                    if removed_start > start:
                        break
                    start += removed_end - removed_start
                insort(spans, (start, start + len(line) + 2))
        del self._keys[i]
        del self._lines[i]
        del self._objs[i]
        self.modified = True

    def set(self, name: str, value: str) -> None:
        """Give ``name`` exactly one value, where its first occurrence was (else append)."""
        i = self.index(name)
        if i < 0:
            self.add(name, value)
            return
        self.replace_at(i, value)
        key = self._keys[i]
        for j in range(len(self._keys) - 1, i, -1):
            if self._keys[j] == key:
                self.delete_at(j)

    def __setitem__(self, name: str, value: str) -> None:
        self.set(name, value)

    def remove(self, name: str) -> int:
        """Remove every header called ``name``; returns how many there were."""
        key = canonical_name(name)
        removed = 0
        for j in range(len(self._keys) - 1, -1, -1):
            if self._keys[j] == key:
                self.delete_at(j)
                removed += 1
        return removed

    def __delitem__(self, name: str) -> None:
        if not self.remove(name):
            raise KeyError(name)

    def remove_first(self, name: str) -> bool:
        i = self.index(name)
        if i < 0:
            return False
        self.delete_at(i)
        return True

    # --- typed access used by the message ---------------------------------------------
    def parsed_at(self, i: int, parser: Any) -> Any:
        """The parsed value of header ``i`` (cached; ``parser`` takes the value text)."""
        objs = self._objs[i]
        if objs is None:
            objs = parser(raw_value(self._lines[i]))
            self._objs[i] = objs
        return objs

    def parsed_all(self, name: str, parser: Any) -> list[Any]:
        """Parsed values of every ``name`` header, flattened (for multi-value headers)."""
        key = _canonical(name) or canonical_name(name)
        keys = self._keys
        out: list[Any] = []
        i = -1
        for _ in range(keys.count(key)):  # no ValueError past the last one
            i = keys.index(key, i + 1)
            value = self._objs[i]
            if value is None:
                value = self.parsed_at(i, parser)
            if value.__class__ is list:
                out.extend(value)
            else:
                out.append(value)
        return out

    # --- output -----------------------------------------------------------------------
    def is_modified(self) -> bool:
        return self.modified or self._any_dirty()

    def _any_dirty(self) -> bool:
        for objs in self._objs:
            if objs is None:
                continue
            cls = objs.__class__
            if cls is not int and cls is not str and _objects_dirty(objs):
                return True
        return False

    def _rendered_changes(self) -> list[bytes] | None:
        """The header lines with every changed parsed value rendered again (a new list),
        or None when no parsed value changed (``_lines`` stand as they are)."""
        if not self._any_dirty():
            return None
        out = self._lines.copy()
        for i, objs in enumerate(self._objs):
            if objs is not None and _objects_dirty(objs):
                out[i] = self._rendered_line(i, objs)
        return out

    def _rendered_line(self, i: int, objs: Any) -> bytes:
        """Header ``i``'s line with its changed parsed value rendered (the name kept as
        written)."""
        value = _render_objects(objs)
        if "\r" in value or "\n" in value:
            raise ValueError("header value contains a line break")
        line = self._lines[i]
        return b"%s: %s" % (line[:line.index(b":")].strip(), value.encode(ENCODING, ERRORS))

    def line_at(self, i: int) -> bytes:
        """Header ``i``'s line as it is now (its parsed value rendered if it changed)."""
        objs = self._objs[i]
        if objs is not None and _objects_dirty(objs):
            return self._rendered_line(i, objs)
        return self._lines[i]

    def render_lines(self) -> list[bytes]:
        """The header lines as they are now (a new list the caller may change)."""
        out = self._rendered_changes()
        return self._lines.copy() if out is None else out

    def copy(self) -> Headers:
        """An independent copy: the lines as they are now (shared bytes), the immutable
        parsed values (Content-Length, Max-Forwards, Call-ID) shared, every other one
        parsed again on demand, so editing one copy never touches the other."""
        lines = self._lines.copy()
        shared = self._objs.copy()
        for i, objs in enumerate(self._objs):
            if objs is None:
                continue
            cls = objs.__class__
            if cls is int or cls is str:
                continue
            shared[i] = None
            if _objects_dirty(objs):
                lines[i] = self._rendered_line(i, objs)
        return Headers(None, self._keys.copy(), lines, False, shared)
