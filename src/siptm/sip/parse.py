"""Bytes to messages: the datagram parser and the stream framer for TCP/TLS.

Rules of this module: whatever the network sends ends as a message or a
:class:`ParseError`; nothing else escapes, and the work is linear in the input.
``parse`` checks only what a transaction needs (start line, the top Via, CSeq,
Call-ID, From/To tags, Max-Forwards, Content-Length and the single-valued headers);
every other header is parsed when it is first read, so a malformed header nobody
needs does not fail the message (RFC 3261 §16.3).
"""

from __future__ import annotations

import re
from typing import Final

from ..errors import ParseError
from .headers import COMPACT_FORMS, LF, Headers
from .memo import remember
from .message import Request, Response
from .values import cseq_of_line, line_tag, parse_content_length, vias_of_line

_TOKEN_B: Final = re.compile(rb"[A-Za-z0-9.!%*_+`'~-]+\Z")
_VERSION_B: Final = re.compile(rb"SIP/[0-9]+\.[0-9]+\Z", re.I)
_LINE_SPLIT: Final = re.compile(rb"\r?\n")
_SINGLE_VALUED: Final = ("call-id", "cseq", "from", "to", "max-forwards", "content-length")
_REQUIRED: Final = ("via", "from", "to", "call-id", "cseq")
_NAME_CACHE_LIMIT: Final = 4096
_NAME_CACHE_MAX_LEN: Final = 64  # longer names are not remembered: the cache must stay small


def _seed_names() -> dict[bytes, str]:
    cache: dict[bytes, str] = {}
    long_names = [
        "Via", "From", "To", "Call-ID", "CSeq", "Contact", "Max-Forwards", "Content-Length",
        "Content-Type", "Route", "Record-Route", "User-Agent", "Allow", "Supported",
        "Expires", "Authorization", "Proxy-Authorization", "WWW-Authenticate",
        "Proxy-Authenticate", "Subject", "Accept", "Require", "Proxy-Require", "Server",
        "Event", "Reason", "Date", "Timestamp", "Call-Id", "Cseq", "Content-type",
    ]
    for name in long_names:
        for spelling in (name, name.lower(), name.upper()):
            cache[spelling.encode()] = name.lower()
    for short, long in COMPACT_FORMS.items():
        cache[short.encode()] = long
        cache[short.upper().encode()] = long
    return cache


_NAME_CACHE: Final = _seed_names()


def _key_for(name: bytes) -> str:
    key = _NAME_CACHE.get(name)
    if key is not None:
        return key
    text = name.rstrip(b" \t")
    if _TOKEN_B.match(text) is None:
        raise ParseError("bad header name")
    low = text.decode("ascii").lower()
    key = COMPACT_FORMS.get(low, low)
    if len(_NAME_CACHE) < _NAME_CACHE_LIMIT and len(name) <= _NAME_CACHE_MAX_LEN:
        _NAME_CACHE[name] = key
    return key


def parse(data: bytes) -> Request | Response:
    """Parse one SIP message from a datagram (trailing octets after the body are ignored)."""
    try:
        return _parse(data)
    except ParseError:
        raise
    except Exception as exc:  # a parser bug must not become a crash on network input
        raise ParseError("malformed message") from exc


_RURI_B: Final = re.compile(rb'[A-Za-z][A-Za-z0-9+.\-]*:[^<>"\t]+\Z')
_QUESTION_MARK: Final = 0x3F  # an int: see headers.LF
_METHODS: Final = {m.encode(): m for m in (
    "INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "REGISTER", "PRACK", "SUBSCRIBE", "NOTIFY",
    "PUBLISH", "INFO", "REFER", "MESSAGE", "UPDATE",
)}


# Where parse() finds what it reads, for one header layout: (keys, index of the first Via,
# CSeq, Call-ID, From, To, Content-Length or -1, Max-Forwards or -1).
_Shape = tuple[tuple[str, ...], int, int, int, int, int, int, int]
_SHAPES: Final[dict[tuple[str, ...], _Shape]] = {}  # canonical header names -> their layout
_SHAPE_CACHE_LIMIT: Final = 512
_SHAPE_MAX_HEADERS: Final = 40  # longer layouts are not remembered: the cache must stay small
# Header line -> its canonical name: a memo (see memo.py) of the lines a dialog repeats
# (From, To, Call-ID, CSeq, Contact...); Via lines are not remembered.
_LINE_KEYS: Final[dict[bytes, str]] = {}


def _shape_of(keys: list[str]) -> _Shape:
    """The layout of these canonical header keys, once the required headers are known
    to be there and the single-valued ones not repeated."""
    first: dict[str, int] = {}
    for i, key in enumerate(keys):
        if key not in first:
            first[key] = i
    for key in _REQUIRED:
        if key not in first:
            raise ParseError(f"missing {key} header")
    if len(first) != len(keys):
        for key in _SINGLE_VALUED:
            if keys.count(key) > 1:
                raise ParseError(f"more than one {key} header")
    return (tuple(keys), first["via"], first["cseq"], first["call-id"], first["from"],
            first["to"], first.get("content-length", -1), first.get("max-forwards", -1))


def _index_headers(head: bytes) -> tuple[list[bytes], _Shape, bool]:
    """Split the header block into (start line + header lines, their layout, whether
    every line ended in CRLF: then the lines joined with CRLF are ``head`` exactly).

    The fast path (no folding, every name already known) costs a split, per line a
    memo lookup (a line read before) or a partition and a look for a bare LF, and a dict
    lookup of the layout by the canonical names; anything unusual goes through the
    careful line-by-line loop.
    """
    lines = head.split(b"\r\n")
    keys: list[str] = []
    line_keys = _LINE_KEYS
    for i in range(1, len(lines)):
        line = lines[i]
        key = line_keys.get(line)
        if key is None:
            # (partition and ``int in bytes`` take their argument as is; find and count
            # parse a tuple of arguments, ~1k instructions a call)
            name, sep, _ = line.partition(b":")
            if not sep or not name or LF in line:
                break  # the careful loop tells what is wrong
            key = _NAME_CACHE.get(name)
            if key is None:
                break  # a name not seen before: the careful loop checks and learns it
            if key != "via":  # (a Via line, with its branch, never comes back)
                remember(line_keys, line, key)
        keys.append(key)
    else:
        if LF not in lines[0]:  # every line ended in CRLF
            layout = tuple(keys)
            shape = _SHAPES.get(layout)
            if shape is None:
                shape = _shape_of(keys)
                if len(_SHAPES) < _SHAPE_CACHE_LIMIT and len(keys) <= _SHAPE_MAX_HEADERS:
                    _SHAPES[layout] = shape
            return lines, shape, True
    crlf_only = head.count(b"\n") == len(lines) - 1
    if not crlf_only:
        lines = _LINE_SPLIT.split(head)
    keys = []
    out = [lines[0]]
    folded: dict[int, list[bytes]] = {}  # header index -> its lines, joined once at the end
    for line in lines[1:]:
        if not line:
            continue
        first = line[0]
        if first == 32 or first == 9:  # folded continuation of the previous header
            last = len(out) - 1
            if last == 0:
                raise ParseError("folded line before any header")
            pieces = folded.get(last)
            if pieces is None:
                folded[last] = [out[last], line]
            else:
                pieces.append(line)
            continue
        colon = line.find(b":")
        if colon <= 0:
            raise ParseError("header line without a colon")
        keys.append(_key_for(line[:colon]))
        out.append(line)
    for i, pieces in folded.items():  # (appending to bytes line by line was quadratic)
        out[i] = b"\r\n".join(pieces)
    return out, _shape_of(keys), crlf_only


# Content-Length / Max-Forwards line -> its number: a memo (see memo.py). The line's name
# tells which header it is, so max_digits and error are always the same for a line.
_INT_LINES: Final[dict[bytes, int]] = {}


def _int_value(line: bytes, max_digits: int, error: str) -> int:
    number = _INT_LINES.get(line)
    if number is None:
        number = remember(_INT_LINES, line, _read_int_value(line, max_digits, error))
    return number


def _read_int_value(line: bytes, max_digits: int, error: str) -> int:
    value = line[line.index(b":") + 1:].strip(b" \t")
    if value.isdigit() and len(value) <= max_digits:  # plain digits (bytes: ASCII only)
        return int(value)
    if LF in value:
        value = value.replace(b"\r\n", b"")
    value = value.strip(b" \t")
    if not value.isdigit():
        raise ParseError(error)
    value = value.lstrip(b"0") or b"0"
    if len(value) > max_digits:
        raise ParseError(error)
    return int(value)


def _parse(data: bytes) -> Request | Response:
    data = bytes(data)
    start = 0
    while data.startswith(b"\r\n", start):  # RFC 3261 §7.5: ignore CRLFs before the start line
        start += 2
    end = data.find(b"\r\n\r\n", start)
    if end >= 0:
        head = data[start:end]
        body_start = end + 4
    else:
        lf_end = data.find(b"\n\n", start)
        if lf_end >= 0:  # bare-LF line endings
            head = data[start:lf_end]
            body_start = lf_end + 2
        else:  # no empty line at all: everything is header (RFC 4475 §3.1.2.15 as archived)
            head = data[start:].rstrip(b"\r\n")
            body_start = len(data)
    if not head:
        raise ParseError("empty message")
    lines, shape, crlf_only = _index_headers(head)
    key_tuple, vi, ci, ii, fi, ti, li, mi = shape
    hlines = lines[1:]
    # The received bytes are the message's canonical form (start line, headers and the
    # empty line each ending in CRLF, the body framed by Content-Length, the start line
    # as it would be rendered: version spelled SIP/2.0, a status line with its reason
    # part): removing a header may then just cut its line out of them.
    start_line = lines[0]
    # the SIP-Version is case-insensitive (RFC 3261 §7.1); a method can hold no '/'
    is_response = start_line[:4].upper() == b"SIP/"
    verbatim = crlf_only and end >= 0 and li >= 0 and (
        start_line.startswith(b"SIP/2.0 ") and len(start_line) >= 12
        if is_response else start_line.endswith(b" SIP/2.0"))
    headers = Headers(None, list(key_tuple), hlines, verbatim)
    objs = headers._objs

    # Body, framed by Content-Length when present (RFC 3261 §18.3).
    if li >= 0:
        length = _int_value(hlines[li], 10, "bad Content-Length")
        objs[li] = length
        if length > len(data) - body_start:
            raise ParseError("Content-Length larger than message")
        raw_end = body_start + length
    else:
        raw_end = len(data)
    body = data[body_start:raw_end]
    raw = data if (start == 0 and raw_end == len(data)) else data[start:raw_end]

    # The transaction keys, checked now so a broken one fails the whole message.
    cseq = objs[ci] = cseq_of_line(hlines[ci])
    objs[vi] = vias_of_line(hlines[vi])
    call_id = hlines[ii]
    if not call_id[call_id.index(b":") + 1:].strip():
        raise ParseError("empty Call-ID")
    from_line = hlines[fi]
    to_line = hlines[ti]
    from_tag = line_tag(from_line)
    to_tag = line_tag(to_line)
    if mi >= 0:
        hops = objs[mi] = _int_value(hlines[mi], 3, "bad Max-Forwards")
        if hops > 255:
            raise ParseError("Max-Forwards too large")

    tags = (from_line, from_tag, to_line, to_tag)
    if is_response:
        status, reason = _response(start_line)
        return Response(status, reason, headers, body, "SIP/2.0", raw, tags)
    method, uri_text = _request(start_line)
    if cseq.method != method:
        raise ParseError("CSeq method does not match the request")
    return Request(method, uri_text, headers, body, "SIP/2.0", raw, tags)


_REQUEST_LINES: Final[dict[bytes, tuple[str, str]]] = {}  # a memo (see memo.py)


def _request(line: bytes) -> tuple[str, str]:
    """The method and the Request-URI's text of a request line."""
    read = _REQUEST_LINES.get(line)
    if read is None:
        read = remember(_REQUEST_LINES, line, _read_request(line))
    return read


def _read_request(line: bytes) -> tuple[str, str]:
    parts = line.split(b" ")
    if len(parts) != 3 or not parts[0] or not parts[1] or not parts[2]:
        raise ParseError("bad request line")
    method, uri, version = parts
    name = _METHODS.get(method)
    if name is None:
        if _TOKEN_B.match(method) is None:
            raise ParseError("bad method")
        name = method.decode("ascii")
    if version != b"SIP/2.0" and version.upper() != b"SIP/2.0":
        if _VERSION_B.match(version):
            raise ParseError("SIP version not supported", 505)
        raise ParseError("bad request line")
    if _RURI_B.match(uri) is None:
        raise ParseError("bad Request-URI")
    if _QUESTION_MARK in uri:
        scheme = uri[: uri.index(b":") + 1].lower()
        if (scheme == b"sip:" or scheme == b"sips:") and b"?" in uri[uri.rfind(b"@") + 1:]:
            raise ParseError("headers not allowed in Request-URI")
    return name, uri.decode("utf-8", "surrogateescape")


# status line -> (code, reason phrase): a memo (see memo.py) with its own, smaller bounds
_STATUS_LINES: Final[dict[bytes, tuple[int, str]]] = {}
_STATUS_CACHE_LIMIT: Final = 256
_STATUS_LINE_MAX_LEN: Final = 64  # longer lines are not remembered: the cache must stay small


def _status_of(line: bytes) -> tuple[int, str]:
    parts = line.split(b" ", 2)
    if len(parts) < 2:
        raise ParseError("bad status line")
    version, code = parts[0], parts[1]
    if version != b"SIP/2.0" and version.upper() != b"SIP/2.0":
        raise ParseError("SIP version not supported", 505)
    if len(code) != 3 or not code.isdigit() or not b"100" <= code <= b"699":
        raise ParseError("bad status code")
    return int(code), parts[2].decode("utf-8", "surrogateescape") if len(parts) == 3 else ""


def _response(line: bytes) -> tuple[int, str]:
    """The status code and reason phrase of a status line."""
    status = _STATUS_LINES.get(line)
    if status is None:  # status lines come from a small set: each is read once
        status = remember(_STATUS_LINES, line, _status_of(line), _STATUS_CACHE_LIMIT,
                          _STATUS_LINE_MAX_LEN)
    return status


# --- stream transports ---------------------------------------------------------------------

PING: Final = b"\r\n\r\n"  # RFC 5626 §4.4.1 keep-alive ping; answer with PONG
PONG: Final = b"\r\n"
# A Content-Length header line, its value with any folded continuation lines. A line
# starting with SP/HT continues the previous header (a fold), so " l: 5" inside another
# header's value is not one.
_CL_B: Final = re.compile(rb"(?:\A|\r\n)(?:content-length|l)[ \t]*:((?:[^\r\n]|\r\n[ \t])*)", re.I)


class StreamFramer:
    """Cuts a TCP/TLS byte stream into whole messages by Content-Length.

    ``feed(chunk)`` returns the complete frames now available: message bytes (give them
    to :func:`parse`) or :data:`PING` (answer :data:`PONG`). A header block over
    ``max_header_bytes``, a body over ``max_body_bytes`` or a message without
    Content-Length breaks the stream: it cannot be resynchronised, so the caller closes
    the connection. ``broken`` holds the :class:`ParseError` from then on; ``feed``
    raises it, except that the whole frames in front of the bad one are returned first
    (and the next ``feed`` raises), so nothing a peer sent correctly is lost.
    """

    def __init__(self, max_header_bytes: int = 65536, max_body_bytes: int = 1 << 20) -> None:
        self.max_header_bytes = max_header_bytes
        self.max_body_bytes = max_body_bytes
        self._buf = bytearray()
        self._scan = 0  # where to resume looking for the end of the header block
        self._need = -1  # total size of the message being waited for, once known
        self.broken: ParseError | None = None

    @property
    def buffered(self) -> int:
        return len(self._buf)

    def feed(self, data: bytes) -> list[bytes]:
        if self.broken is not None:
            raise self.broken
        self._buf += data
        frames: list[bytes] = []
        try:
            while self._next(frames):
                pass
        except ParseError as exc:
            self.broken = exc
            self._buf.clear()
            if not frames:
                raise
        return frames

    def _next(self, frames: list[bytes]) -> bool:
        buf = self._buf
        if self._need < 0:
            # Between messages: keep-alives (double CRLF) and stray CRLFs (pongs).
            while buf[:2] == b"\r\n":
                if buf[:4] == PING:
                    frames.append(PING)
                    del buf[:4]
                elif len(buf) < 4 and PING.startswith(bytes(buf)):
                    return False  # maybe the start of a ping: wait
                else:
                    del buf[:2]
                self._scan = 0
            end = buf.find(b"\r\n\r\n", self._scan)
            if end < 0:
                if len(buf) > self.max_header_bytes:
                    raise ParseError("header block too large")
                self._scan = max(0, len(buf) - 3)
                return False
            if end > self.max_header_bytes:
                raise ParseError("header block too large")
            found = _CL_B.findall(bytes(buf[:end]))
            if not found:
                raise ParseError("Content-Length required on stream transports")
            if len(found) > 1:
                raise ParseError("more than one content-length header")
            length = parse_content_length(found[0].replace(b"\r\n", b"").decode("latin-1"))
            if length > self.max_body_bytes:
                raise ParseError("message body too large")
            self._need = end + 4 + length
        if len(buf) < self._need:
            return False
        frames.append(bytes(buf[: self._need]))
        del buf[: self._need]
        self._need = -1
        self._scan = 0
        return True
