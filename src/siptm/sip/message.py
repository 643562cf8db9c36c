"""Request and Response: lazy typed access, proxy-style editing, exact serialization.

Rules of this module: ``bytes(msg)`` of a message nobody changed is exactly the bytes
it was parsed from. Once anything changed, the message is re-assembled from its start
line, each header's original bytes (or its new rendering when that header changed),
and the body, with Content-Length set to the body's real length.
"""

from __future__ import annotations

from typing import Any, Final

from ..errors import ParseError
from .headers import ENCODING, ERRORS, Headers, raw_value
from .uri import Uri, parse_uri
from .values import (
    CSeq,
    NameAddress,
    Via,
    cseq_of_line,
    is_plain_via_line,
    line_tag,
    parse_content_length,
    parse_max_forwards,
    parse_name_addr,
    parse_name_addrs,
    parse_vias,
)

SIP_VERSION: Final = "SIP/2.0"
CRLF: Final = b"\r\n"

REASON_PHRASES: Final = {
    100: "Trying", 180: "Ringing", 181: "Call Is Being Forwarded", 182: "Queued",
    183: "Session Progress", 199: "Early Dialog Terminated", 200: "OK", 202: "Accepted",
    204: "No Notification", 300: "Multiple Choices", 301: "Moved Permanently",
    302: "Moved Temporarily", 305: "Use Proxy", 380: "Alternative Service",
    400: "Bad Request", 401: "Unauthorized", 402: "Payment Required", 403: "Forbidden",
    404: "Not Found", 405: "Method Not Allowed", 406: "Not Acceptable",
    407: "Proxy Authentication Required", 408: "Request Timeout", 410: "Gone",
    413: "Request Entity Too Large", 414: "Request-URI Too Long",
    415: "Unsupported Media Type", 416: "Unsupported URI Scheme", 420: "Bad Extension",
    421: "Extension Required", 423: "Interval Too Brief", 429: "Provide Referrer Identity",
    440: "Max-Breadth Exceeded", 480: "Temporarily Unavailable",
    481: "Call/Transaction Does Not Exist", 482: "Loop Detected", 483: "Too Many Hops",
    484: "Address Incomplete", 485: "Ambiguous", 486: "Busy Here", 487: "Request Terminated",
    488: "Not Acceptable Here", 489: "Bad Event", 491: "Request Pending", 493: "Undecipherable",
    500: "Server Internal Error", 501: "Not Implemented", 502: "Bad Gateway",
    503: "Service Unavailable", 504: "Server Time-out", 505: "Version Not Supported",
    513: "Message Too Large", 600: "Busy Everywhere", 603: "Decline",
    604: "Does Not Exist Anywhere", 606: "Not Acceptable",
}


def _max_forwards_line(line: bytes, value: int) -> bytes:
    """A Max-Forwards line with a new value (its name as written)."""
    return b"%s: %d" % (line[:line.index(b":")].strip(), value)


def _multi(value: str) -> list[NameAddress]:
    return parse_name_addrs(value, allow_star=True)


class Message:
    """What requests and responses share: headers, body, typed accessors, editing."""

    __slots__ = ("_body", "_body_set", "_raw", "_start_set", "_tags", "headers")

    headers: Headers
    _body: bytes
    _raw: bytes
    _body_set: bool
    _start_set: bool
    _tags: tuple[bytes, str | None, bytes, str | None] | None  # (From line, its tag, To
    # line, its tag) from parsing

    def __init__(
        self,
        headers: Headers | list[tuple[str, str]] | None,
        body: bytes,
        raw: bytes | None = None,
        tags: tuple[bytes, str | None, bytes, str | None] | None = None,
    ) -> None:
        """``raw``: the bytes this message was parsed from (the parser's form; ``tags``
        then tells the From/To tags it read)."""
        self.headers = headers if isinstance(headers, Headers) else Headers(headers)
        self._body = body
        self._tags = tags
        if raw is None:
            self._raw = b""
            self._body_set = True
            self._start_set = True
        else:
            self._raw = raw
            self._body_set = False
            self._start_set = False

    # --- body ---------------------------------------------------------------------------
    @property
    def body(self) -> bytes:
        return self._body

    @body.setter
    def body(self, value: bytes) -> None:
        self._body = bytes(value)
        self._body_set = True

    # --- typed accessors ------------------------------------------------------------------
    def _first(self, key: str, parser: Any) -> Any:
        """Parsed value of the first header with canonical name ``key`` (None if absent)."""
        headers = self.headers
        try:
            i = headers._keys.index(key)
        except ValueError:
            return None
        objs = headers._objs[i]
        if objs is None:
            objs = headers.parsed_at(i, parser)
        return objs

    @property
    def via(self) -> Via | None:
        """The top Via value."""
        vias = self._first("via", parse_vias)
        return vias[0] if vias else None

    @property
    def vias(self) -> list[Via]:
        return self.headers.parsed_all("via", parse_vias)

    def has_valid_vias(self) -> bool:
        """True when a Via is left and every Via value parses: what ``bool(self.vias)``
        tells (a malformed one: False), without building the values of plain lines."""
        headers = self.headers
        keys = headers._keys
        if "via" not in keys:
            return False
        objs = headers._objs
        lines = headers._lines
        i = -1
        for _ in range(keys.count("via")):  # no ValueError past the last one
            i = keys.index("via", i + 1)
            if objs[i] is None and not is_plain_via_line(lines[i]):
                try:
                    headers.parsed_at(i, parse_vias)
                except ParseError:
                    return False
        return True

    @property
    def cseq(self) -> CSeq | None:
        headers = self.headers
        try:
            i = headers._keys.index("cseq")
        except ValueError:
            return None
        value = headers._objs[i]
        if value is None:  # e.g. in a copy: read from the line's bytes
            value = headers._objs[i] = cseq_of_line(headers._lines[i])
        return value

    @property
    def call_id(self) -> str | None:
        headers = self.headers
        try:
            i = headers._keys.index("call-id")
        except ValueError:
            return None
        value = headers._objs[i]
        if value is None:  # decoded once, kept beside the line (a str is never dirty)
            value = headers._objs[i] = raw_value(headers._lines[i])
        return value

    @property
    def from_(self) -> NameAddress | None:
        return self._first("from", parse_name_addr)

    @property
    def to(self) -> NameAddress | None:
        return self._first("to", parse_name_addr)

    def _tag(self, key: str, slot: int) -> str | None:
        headers = self.headers
        try:
            i = headers._keys.index(key)
        except ValueError:
            return None
        parsed = headers._objs[i]
        if parsed is not None:
            return parsed.tag
        line = headers._lines[i]
        tags = self._tags
        if tags is not None:  # the header still the parsed one: its tag was read then
            if slot == 0:
                if tags[0] is line:
                    return tags[1]
            elif tags[2] is line:
                return tags[3]
        return line_tag(line)

    @property
    def from_tag(self) -> str | None:
        return self._tag("from", 0)

    @property
    def to_tag(self) -> str | None:
        return self._tag("to", 2)

    @property
    def contacts(self) -> list[NameAddress]:
        """Every Contact value in order; ``Contact: *`` gives one entry with ``is_star``."""
        return self.headers.parsed_all("contact", _multi)

    @property
    def routes(self) -> list[NameAddress]:
        return self.headers.parsed_all("route", parse_name_addrs)

    @property
    def record_routes(self) -> list[NameAddress]:
        return self.headers.parsed_all("record-route", parse_name_addrs)

    @property
    def max_forwards(self) -> int | None:
        return self._first("max-forwards", parse_max_forwards)

    @max_forwards.setter
    def max_forwards(self, value: int) -> None:
        i = self.headers.index("max-forwards")
        if i < 0:
            self.headers.add("Max-Forwards", str(value), value)
        else:
            self.headers.replace_at(i, str(value), value)

    @property
    def content_length(self) -> int | None:
        """The Content-Length header's value (``None`` when absent)."""
        return self._first("content-length", parse_content_length)

    @property
    def content_type(self) -> str | None:
        return self.headers.get("content-type")

    # --- proxy editing --------------------------------------------------------------------
    def push_via(self, via: Via | str) -> None:
        """Insert a Via above all others (RFC 3261 §16.6 step 8)."""
        if isinstance(via, str):
            parsed = parse_vias(via)
        else:
            parsed = [via]
        self.headers.prepend("Via", str(via), parsed)

    def _pop_first_value(self, key: str, parser: Any) -> Any:
        headers = self.headers
        i = headers.index(key)
        if i < 0:
            return None
        values = headers.parsed_at(i, parser)
        top = values[0]
        if len(values) == 1:
            headers.delete_at(i)
        else:
            rest = values[1:]
            headers.replace_at(i, ", ".join(str(v) for v in rest), rest)
        return top

    def pop_via(self) -> Via | None:
        """Remove and return the top Via value (a response on its way back, §16.7 step 3)."""
        return self._pop_first_value("via", parse_vias)

    def pop_route(self) -> NameAddress | None:
        """Remove and return the top Route value (§16.4 / §16.12)."""
        return self._pop_first_value("route", parse_name_addrs)

    def decrement_max_forwards(self) -> int:
        """Decrement Max-Forwards, or add it with 70 when absent (§16.6 step 3)."""
        headers = self.headers
        i, value = self._max_forwards_after_hop()
        if i < 0:
            headers.add("Max-Forwards", "70", 70)
            return 70
        headers.replace_line_at(i, _max_forwards_line(headers._lines[i], value), value)
        return value

    def _max_forwards_after_hop(self) -> tuple[int, int]:
        """Where Max-Forwards is (-1: absent) and its value one hop further on."""
        headers = self.headers
        keys = headers._keys
        if "max-forwards" not in keys:
            return -1, 70
        i = keys.index("max-forwards")
        current = headers._objs[i]
        if current is None:
            current = headers.parsed_at(i, parse_max_forwards)
        return i, current - 1 if current > 0 else 0

    # --- output -----------------------------------------------------------------------
    def _start_line(self) -> bytes:
        raise NotImplementedError

    def _start_changed(self) -> bool:
        return self._start_set

    def is_modified(self) -> bool:
        return self._body_set or self._start_changed() or self.headers.is_modified()

    def __bytes__(self) -> bytes:
        headers = self.headers
        lines = headers._rendered_changes()
        if lines is None:
            if not (self._body_set or self._start_changed()):
                if not headers.modified:
                    return self._raw
                spans = headers._removed_spans
                if spans and "content-length" in headers._keys:
                    return self._raw_without(spans)
            lines = headers._lines.copy()
        self._set_content_length(lines)
        return self._assembled(lines)

    def _raw_without(self, spans: list[tuple[int, int]]) -> bytes:
        """The received bytes with the header lines at ``spans`` (offsets in the header
        block) cut out: what re-assembling the remaining lines would give, when the
        received bytes are canonical and nothing else changed."""
        raw = self._raw
        block = raw.index(CRLF) + 2
        if len(spans) == 1:  # the usual case: the top Via of a response
            start, end = spans[0]
            return raw[:block + start] + raw[block + end:]
        pieces = []
        kept_from = 0
        for start, end in spans:
            pieces.append(raw[kept_from:block + start])
            kept_from = block + end
        pieces.append(raw[kept_from:])
        return b"".join(pieces)

    def forwarded_bytes(self, via: str) -> bytes:
        """``bytes()`` of this message after ``decrement_max_forwards()`` and
        ``push_via(via)``, without changing it (a stateless forward, §16.11)."""
        headers = self.headers
        lines = headers.render_lines()
        i, value = self._max_forwards_after_hop()
        if i < 0:
            lines.append(b"Max-Forwards: 70")
        else:
            lines[i] = _max_forwards_line(lines[i], value)
        self._set_content_length(lines)  # (before the insert: it indexes lines by key)
        top = headers.index("via")
        lines.insert(top if top >= 0 else 0, Headers._line("Via", via))
        return self._assembled(lines)

    def _assembled(self, lines: list[bytes]) -> bytes:
        """The message's bytes: start line, these header lines, the body."""
        return b"".join((self._start_line(), CRLF, CRLF.join(lines), CRLF, CRLF, self._body))

    def _set_content_length(self, lines: list[bytes]) -> None:
        """Make Content-Length in ``lines`` (the header lines in order, as they are now)
        tell the body's real length, adding it at the end when absent."""
        headers = self.headers
        keys = headers._keys
        length = len(self._body)
        if "content-length" not in keys:
            lines.append(b"Content-Length: %d" % length)
            return
        i = keys.index("content-length")
        current = headers._objs[i]  # the parsed value of the line as it stands
        if current.__class__ is not int:
            try:
                current = parse_content_length(raw_value(lines[i]))
            except ParseError:
                current = -1
        if current != length:
            name = headers.name_at(i).encode(ENCODING, ERRORS)
            lines[i] = b"%s: %d" % (name, length)

    def copy(self) -> Message:
        """An independent copy (e.g. one per branch): header lines are shared bytes,
        parsed values are re-parsed on demand, so editing one never touches the other."""
        raise NotImplementedError

    @property
    def transaction_method(self) -> str:
        """The method a transaction is keyed by (the CSeq method)."""
        cseq = self.cseq
        return cseq.method if cseq is not None else ""


class Request(Message):
    """A SIP request. ``uri`` is parsed on first access and may be edited in place."""

    __slots__ = ("_uri", "_uri_text", "method", "version")

    _uri: Uri | None  # None: not parsed yet (_uri_text holds it)
    _uri_text: str
    method: str
    version: str

    def __init__(
        self,
        method: str,
        uri: Uri | str,
        headers: Headers | list[tuple[str, str]] | None = None,
        body: bytes = b"",
        version: str = SIP_VERSION,
        raw: bytes | None = None,
        tags: tuple[bytes, str | None, bytes, str | None] | None = None,
    ) -> None:
        """``raw``: the bytes this request was parsed from (the parser's form): ``uri``
        is then text parsed on first access, ``tags`` the From/To tags read."""
        Message.__init__(self, headers, body, raw, tags)
        self.method = method
        self.version = version
        if raw is None:
            self._uri = parsed = parse_uri(uri) if isinstance(uri, str) else uri
            self._uri_text = str(parsed)
        elif isinstance(uri, str):
            self._uri = None
            self._uri_text = uri
        else:
            self._uri = uri
            self._uri_text = str(uri)

    is_request = True

    @property
    def uri(self) -> Uri:
        uri = self._uri
        if uri is None:
            uri = self._uri = parse_uri(self._uri_text)
        return uri

    @uri.setter
    def uri(self, value: Uri | str) -> None:
        self._uri = parse_uri(value) if isinstance(value, str) else value
        self._start_set = True

    @property
    def uri_edited(self) -> bool:
        """The parsed Request-URI was changed part by part (``uri.host = ...``): its
        text is a rendering of those parts, not what was received or assigned."""
        uri = self._uri
        return uri is not None and uri.dirty

    @property
    def uri_text(self) -> str:
        """The Request-URI as text, without parsing it."""
        uri = self._uri
        return self._uri_text if uri is None else str(uri)

    def copy(self) -> Request:
        clone = Request(self.method, self.uri_text, self.headers.copy(), self._body,
                        self.version, b"", self._tags)
        clone._body_set = True  # (nothing received: raw b"", everything to render)
        clone._start_set = True
        return clone

    def _start_changed(self) -> bool:
        return self._start_set or self.uri_edited

    def _start_line(self) -> bytes:
        return f"{self.method} {self.uri_text} {self.version}".encode(ENCODING, ERRORS)

    def __repr__(self) -> str:
        return f"<Request {self.method} {self.uri_text}>"


class Response(Message):
    """A SIP response."""

    __slots__ = ("_reason", "_status", "version")

    _status: int
    _reason: str
    version: str

    def __init__(
        self,
        status: int,
        reason: str | None = None,
        headers: Headers | list[tuple[str, str]] | None = None,
        body: bytes = b"",
        version: str = SIP_VERSION,
        raw: bytes | None = None,
        tags: tuple[bytes, str | None, bytes, str | None] | None = None,
    ) -> None:
        """``raw``: the bytes this response was parsed from (the parser's form; ``tags``
        then tells the From/To tags it read)."""
        Message.__init__(self, headers, body, raw, tags)
        self._status = status
        self._reason = REASON_PHRASES.get(status, "Unknown") if reason is None else reason
        self.version = version

    is_request = False

    @property
    def status(self) -> int:
        return self._status

    @status.setter
    def status(self, value: int) -> None:
        self._status = value
        self._start_set = True

    @property
    def reason(self) -> str:
        return self._reason

    @reason.setter
    def reason(self, value: str) -> None:
        self._reason = value
        self._start_set = True

    def _start_line(self) -> bytes:
        return f"{self.version} {self._status} {self._reason}".encode(ENCODING, ERRORS)

    def copy(self) -> Response:
        clone = Response(self._status, self._reason, self.headers.copy(), self._body,
                         self.version, b"", self._tags)
        clone._body_set = True  # (nothing received: raw b"", everything to render)
        clone._start_set = True
        return clone

    def __repr__(self) -> str:
        return f"<Response {self._status} {self._reason}>"

    @classmethod
    def for_request(
        cls,
        request: Request,
        status: int,
        reason: str | None = None,
        to_tag: str | None = None,
        headers: list[tuple[str, str]] = (),  # type: ignore[assignment]
        body: bytes = b"",
    ) -> Response:
        """A response to ``request`` per RFC 3261 §8.2.6.2: Via, From, To, Call-ID and
        CSeq copied byte for byte; ``to_tag`` added to To when it has none."""
        src = request.headers
        keys: list[str] = []
        lines: list[bytes] = []
        for i, key in enumerate(src._keys):
            if key in _COPIED_TO_RESPONSE:
                line = src.line_at(i)  # a Via given received/rport goes back with them
                if key == "to" and to_tag and request.to_tag is None:
                    line = line.rstrip(b" \t") + b";tag=" + to_tag.encode(ENCODING, ERRORS)
                keys.append(key)
                lines.append(line)
        out_headers = Headers(None, keys, lines)
        for name, value in headers:
            out_headers.add(name, value)
        return cls(status, reason, out_headers, body)


_COPIED_TO_RESPONSE: Final = frozenset(("via", "from", "to", "call-id", "cseq"))
