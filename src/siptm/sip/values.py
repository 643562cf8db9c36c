"""Typed header values: Via, name-addr (From/To/Contact/Route/Record-Route), CSeq.

Rules of this module: each parser takes one header value (already unfolded, one
comma-separated element) and returns an object that renders as the original text
until it is changed. Anything malformed raises :class:`ParseError`.
"""

from __future__ import annotations

import re
from typing import Any, Final

from ..errors import ParseError
from .headers import raw_value
from .memo import remember
from .params import Params, parse_header_params, split_commas, unquote
from .uri import SipUri, Uri, parse_uri

_TOKEN: Final = r"[A-Za-z0-9.!%*_+`'~-]+"
_VIA_RE: Final = re.compile(
    rf"[ \t]*({_TOKEN})[ \t]*/[ \t]*({_TOKEN})[ \t]*/[ \t]*({_TOKEN})[ \t]+"
    r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_\-.]+)(?:[ \t]*:[ \t]*([0-9]{1,5}))?"
)
# A quoted-string (RFC 3261 §25.1): no bare CR or LF inside, not even as a quoted-pair (a
# line fold was already turned into a space by the time a value is parsed).
_QUOTED: Final = r'"(?>(?:[^"\\\r\n]|\\[^\r\n])*)"'
_QUOTED_RE: Final = re.compile(_QUOTED)
_DISPLAY_TOKENS_RE: Final = re.compile(rf"{_TOKEN}(?>(?:[ \t]+{_TOKEN})*)\Z")
_ADDR_SPEC_RE: Final = re.compile(r"[^;\s]+")
# The first tag parameter, as the full parse reads it: ';tag' (no value) gives None, ';tag='
# gives ''.
_TAG_RE: Final = re.compile(r";[ \t]*tag[ \t]*(?:=[ \t]*([^\s;,]*)|(?=[ \t]*(?:[;,]|\Z)))", re.I)
_CSEQ_RE: Final = re.compile(rf"[ \t]*([0-9]{{1,10}})[ \t]+({_TOKEN})[ \t]*\Z")
MAX_CSEQ: Final = 2**32 - 1
MAX_DELTA_SECONDS: Final = 2**32 - 1


def _decimal(text: str | None, max_digits: int) -> int | None:
    """``text`` as a number when it is ASCII digits with at most ``max_digits`` significant
    ones (``int()`` alone would take other scripts' digits and fail on very long strings)."""
    if not text or not text.isascii() or not text.isdigit():
        return None
    digits = text.lstrip("0") or "0"
    return int(digits) if len(digits) <= max_digits else None


class Via:
    """One Via value: ``SIP/2.0/UDP host:port;branch=...``."""

    __slots__ = ("_dirty", "_host", "_params", "_port", "_protocol", "_raw", "_transport")

    @property
    def protocol(self) -> str:
        """The Via's protocol (assignable: marks it for re-rendering)."""
        return self._protocol

    @protocol.setter
    def protocol(self, value: str) -> None:
        self._protocol = value
        self._dirty = True

    @property
    def transport(self) -> str:
        """The Via's transport (assignable: marks it for re-rendering)."""
        return self._transport

    @transport.setter
    def transport(self, value: str) -> None:
        self._transport = value
        self._dirty = True

    @property
    def host(self) -> str:
        """The Via's host (assignable: marks it for re-rendering)."""
        return self._host

    @host.setter
    def host(self, value: str) -> None:
        self._host = value
        self._dirty = True

    @property
    def port(self) -> int | None:
        """The Via's port (assignable: marks it for re-rendering)."""
        return self._port

    @port.setter
    def port(self, value: int | None) -> None:
        self._port = value
        self._dirty = True

    @property
    def params(self) -> Params:
        """The Via's params (assignable: marks it for re-rendering)."""
        return self._params

    @params.setter
    def params(self, value: Params) -> None:
        self._params = value
        self._dirty = True

    def __init__(
        self,
        transport: str,
        host: str,
        port: int | None = None,
        params: Params | dict | None = None,
        protocol: str = "SIP/2.0",
        raw: str | None = None,
    ) -> None:
        """``raw``: the text this value was parsed from (the parsers' form: it renders
        as that text until changed)."""
        self._protocol = protocol
        self._transport = transport
        self._host = host
        self._port = port
        self._params = params if isinstance(params, Params) else Params((params or {}).items())
        if raw is None:
            self._raw = ""
            self._dirty = True
        else:
            self._raw = raw
            self._dirty = False

    @property
    def dirty(self) -> bool:
        return self._dirty or self._params.dirty

    @property
    def branch(self) -> str | None:
        return self._params.get("branch")

    @property
    def received(self) -> str | None:
        return self._params.get("received")

    @property
    def has_rport(self) -> bool:
        return "rport" in self._params

    @property
    def rport(self) -> int | None:
        """The rport value when it carries one (``None`` for a bare ``;rport`` or none)."""
        return _decimal(self._params.get("rport"), 5)

    @property
    def maddr(self) -> str | None:
        return self._params.get("maddr")

    @property
    def ttl(self) -> str | None:
        return self._params.get("ttl")

    @property
    def sent_by(self) -> tuple[str, int | None]:
        return self._host, self._port

    def __str__(self) -> str:
        if not (self._dirty or self._params.dirty):
            return self._raw
        port = "" if self._port is None else f":{self._port}"
        return f"{self._protocol}/{self._transport} {self._host}{port}{self._params.render()}"

    def __repr__(self) -> str:
        return f"Via({str(self)!r})"


_VIA_SENT_BY: Final = (
    r"SIP/2\.0/([A-Za-z]+) ([A-Za-z0-9_\-.]+|\[[0-9A-Fa-f:.]+\])(?::([0-9]{1,5}))?"
)
_VIA_PLAIN: Final = (
    _VIA_SENT_BY
    + r"((?>(?:;[A-Za-z0-9.!%*_+`'~-]+(?:=[A-Za-z0-9.!%*_+`'~:\[\]-]+)?)*))"
)
# The fast patterns take the parameters as one run of the characters they may hold
# (group 4), which _plain_via then splits and checks item by item: the same values as
# _VIA_PLAIN's repeated group, whose matching cost ~100 instructions a character.
_VIA_LOOSE: Final = _VIA_SENT_BY + r"(;[A-Za-z0-9.!%*_+`'~:\[\]=;-]*|)"
# One plain Via value (group 1, without the blanks around it) that ends the text or is
# followed by the comma before another value (group 6): a line of several plain values
# (``Via: a, b`` as SIPp's [last_Via:] writes them) is read value by value, and anything
# else goes to the general parser.
_VIA_ITEM: Final = rf"({_VIA_LOOSE})[ \t]*(?:\Z|(,)[ \t]*)"
_VIA_FAST_RE: Final = re.compile(rf"[ \t]*{_VIA_ITEM}")
_VIA_NEXT_RE: Final = re.compile(_VIA_ITEM)
# The same at the start of a whole header line (``name: value``), for :func:`vias_of_line`.
_VIA_LINE_RE: Final = re.compile(rf"[^:]*:[ \t]*{_VIA_ITEM}")


_VIA_LINE_B: Final = re.compile(rb"[^:]*:[ \t]*" + _VIA_PLAIN.encode() + rb"\Z")


def is_plain_via_line(line: bytes) -> bool:
    """True when a raw Via header line (``name: value``) holds one Via of the plain shape
    :func:`vias_of_line` reads directly (so it parses), checked without building it."""
    m = _VIA_LINE_B.match(line)
    if m is None:
        return False
    port = m.group(3)
    return port is None or int(port) <= 65535


def _plain_via(raw: str, transport: str, host: str, port: str | None,
               ptext: str) -> Via | None:
    """A Via of the common, plain shape (the groups of ``_VIA_LOOSE``): params split on
    ';'. None when the params are not those ``_VIA_PLAIN`` allows (``;name`` or
    ``;name=value``, neither empty, ``:[]`` in values only)."""
    items: list[list[Any]] = []
    if ptext:
        for part in ptext[1:].split(";"):
            name, eq, pvalue = part.partition("=")
            if not name or ":" in name or "[" in name or "]" in name:
                return None
            if eq:
                if not pvalue or "=" in pvalue:
                    return None
                items.append([name, pvalue])
            else:
                items.append([name, None])
    number = None
    if port is not None:
        number = int(port)
        if number > 65535:
            raise ParseError("bad Via port")
    return Via(transport, host, number, Params((), items), "SIP/2.0", raw)


def _plain_vias(text: str, m: re.Match[str] | None) -> list[Via] | None:
    """The Vias of ``text`` read value by value with ``_VIA_ITEM`` from the match ``m`` of
    its first one on; None when one is not of the plain shape (or a comma ends the text)."""
    vias: list[Via] = []
    while m is not None:
        raw, transport, host, port, params, comma = m.groups()
        via = _plain_via(raw, transport, host, port, params)
        if via is None:
            return None
        vias.append(via)
        if comma is None:
            return vias
        m = _VIA_NEXT_RE.match(text, m.end())
    return None


def parse_via(value: str) -> Via:
    m = _VIA_FAST_RE.match(value)
    if m is not None and m.group(6) is None:
        via = _plain_via(*m.groups()[:5])
        if via is not None:
            return via
    m = _VIA_RE.match(value)
    if m is None:
        raise ParseError("bad Via header")
    name, version, transport, host, port = m.groups()
    params, pos = parse_header_params(value, m.end())
    if pos != len(value) and value[pos:].strip(" \t"):
        raise ParseError("bad Via parameters")
    for pname, pvalue in params._items:
        if pvalue == "" and pname.lower() != "rport":
            raise ParseError("bad Via parameters")
    number = None
    if port is not None:
        number = int(port)
        if number > 65535:
            raise ParseError("bad Via port")
    return Via(transport, host, number, params, f"{name}/{version}", value.strip(" \t"))


def parse_vias(value: str) -> list[Via]:
    """All Via values of one header line (a line may hold several, comma-separated)."""
    vias = _plain_vias(value, _VIA_FAST_RE.match(value))
    if vias is not None:
        return vias
    if "," not in value:
        return [parse_via(value)]
    return [parse_via(part) for part in split_commas(value)]


def vias_of_line(line: bytes) -> list[Via]:
    """:func:`parse_vias` of a raw Via header line (``name: value``), reading plain
    values straight from the decoded line."""
    text = line.decode("utf-8", "surrogateescape")
    vias = _plain_vias(text, _VIA_LINE_RE.match(text))
    if vias is not None:
        return vias
    return parse_vias(raw_value(line))


class NameAddress:
    """``"Display" <uri>;params`` as used by From, To, Contact, Route and Record-Route.

    ``is_star`` is true for the ``Contact: *`` of a REGISTER that removes all bindings
    (it has no URI).
    """

    __slots__ = ("_dirty", "_display", "_params", "_raw", "_uri")

    _uri: Uri | None  # None: Contact: *

    @property
    def uri(self) -> Uri | None:
        """The value's uri (assignable: marks it for re-rendering)."""
        return self._uri

    @uri.setter
    def uri(self, value: Uri | None) -> None:
        self._uri = value
        self._dirty = True

    @property
    def params(self) -> Params:
        """The value's params (assignable: marks it for re-rendering)."""
        return self._params

    @params.setter
    def params(self, value: Params) -> None:
        self._params = value
        self._dirty = True

    def __init__(
        self,
        uri: Uri | str | None,
        display_name: str | None = None,
        params: Params | dict | None = None,
        raw: str | None = None,
    ) -> None:
        """``raw``: the text this value was parsed from (the parsers' form: it renders
        as that text until changed); ``display_name`` is then as written (quoted or
        tokens) and ``uri`` may be None (``Contact: *``)."""
        self._uri = parse_uri(uri) if isinstance(uri, str) else uri
        self._params = params if isinstance(params, Params) else Params((params or {}).items())
        if raw is None:
            self._display = _quote(display_name) if display_name else None
            self._raw = ""
            self._dirty = True
        else:
            self._display = display_name
            self._raw = raw
            self._dirty = False

    @property
    def is_star(self) -> bool:
        return self._uri is None

    @property
    def display_name(self) -> str | None:
        """The display name as text (quotes and quoted-pairs resolved)."""
        return None if self._display is None else unquote(self._display)

    @display_name.setter
    def display_name(self, value: str | None) -> None:
        self._display = _quote(value) if value else None
        self._dirty = True

    @property
    def dirty(self) -> bool:
        return self._dirty or self._params.dirty or (self._uri is not None and self._uri.dirty)

    @property
    def tag(self) -> str | None:
        return self._params.get("tag")

    @tag.setter
    def tag(self, value: str | None) -> None:
        if value is None:
            self._params.pop("tag", None)
        else:
            self._params["tag"] = value

    @property
    def q(self) -> float:
        """The Contact q-value (1.0 when absent or unreadable)."""
        value = self._params.get("q")
        try:
            return float(value) if value else 1.0
        except ValueError:
            return 1.0

    @property
    def expires(self) -> int | None:
        """The Contact expires value in seconds (``None`` when absent or unreadable); values
        above 2**32-1, the most delta-seconds can mean, read as 2**32-1."""
        value = self._params.get("expires")
        if not value or not value.isascii() or not value.isdigit():
            return None
        number = _decimal(value, 10)
        return MAX_DELTA_SECONDS if number is None else min(number, MAX_DELTA_SECONDS)

    def __str__(self) -> str:
        if not self.dirty:
            return self._raw
        if self._uri is None:
            return "*" + self._params.render()
        display = f"{self._display} " if self._display else ""
        return f"{display}<{self._uri}>{self._params.render()}"

    def __repr__(self) -> str:
        return f"NameAddress({str(self)!r})"


def _quote(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


_NA_FAST_RE: Final = re.compile(
    rf'(?:({_QUOTED})|({_TOKEN}(?>(?:[ \t]+{_TOKEN})*)))?[ \t]*<([^<>"\s]+)>'
    rf"((?>(?:;{_TOKEN}(?:={_TOKEN})?)*))\Z"
)


def parse_name_addr(value: str, allow_star: bool = False) -> NameAddress:
    text = value.strip(" \t")
    m = _NA_FAST_RE.match(text)
    if m is not None:  # the everyday shape: [display] <uri>;token=token...
        quoted, tokens, uri, ptext = m.groups()
        items: list[list[Any]] = []
        if ptext:
            for part in ptext[1:].split(";"):
                name, eq, pvalue = part.partition("=")
                items.append([name, pvalue if eq else None])
        return NameAddress(parse_uri(uri), quoted or tokens, Params((), items), text)
    if not text:
        raise ParseError("empty address")
    display: str | None = None
    parsed_uri: Uri | None
    if allow_star and text[0] == "*" and text[1:].lstrip(" \t")[:1] in ("", ";"):
        parsed_uri = None  # Contact: * (but in '*<sip:a@b>' the '*' is a display-name token)
        pos = 1
    else:
        pos = 0
        if text[0] == '"':
            m = _QUOTED_RE.match(text)
            if m is None:
                raise ParseError("unterminated quoted string")
            display = m.group(0)
            pos = m.end()
            while pos < len(text) and text[pos] in " \t":
                pos += 1
            if pos >= len(text) or text[pos] != "<":
                raise ParseError("bad name-addr")
        lt = text.find("<", pos)
        if lt > 0 and display is None and (
            text.find(";", 0, lt) >= 0 or text.find('"', 0, lt) >= 0
        ):
            lt = -1  # inside a parameter of an addr-spec: sip:a@b;p="<x>"
        if lt >= 0:
            if display is None:
                tokens = text[:lt].strip(" \t")
                if tokens:
                    if _DISPLAY_TOKENS_RE.match(tokens) is None:
                        raise ParseError("bad display name")
                    display = tokens
            gt = text.find(">", lt)
            if gt < 0:
                raise ParseError("unterminated <")
            # Lenient: spaces just inside the brackets are tolerated (RFC 4475 §3.1.2.14).
            parsed_uri = parse_uri(text[lt + 1:gt].strip(" \t"))
            pos = gt + 1
        else:
            m = _ADDR_SPEC_RE.match(text)
            spec = m.group(0) if m else ""
            if "?" in spec or "," in spec or "<" in spec or '"' in spec:
                raise ParseError("URI with ?, or , must be in <>")
            parsed_uri = parse_uri(spec)
            pos = len(spec)
    params, pos = parse_header_params(text, pos)
    if pos != len(text) and text[pos:].strip(" \t"):
        raise ParseError("bad header parameters")
    for pname, _ in params._items:
        if not pname:
            raise ParseError("bad header parameters")
    return NameAddress(parsed_uri, display, params, text)


def parse_name_addrs(value: str, allow_star: bool = False) -> list[NameAddress]:
    if "," not in value:
        return [parse_name_addr(value, allow_star)]
    return [parse_name_addr(part, allow_star) for part in split_commas(value)]


def fast_tag(value: str) -> str | None:
    """The ``tag`` parameter of a From/To value without building the whole object.

    Falls back to the full parser (and its errors) whenever the value is anything but
    plain: a quoted display name, or an unquoted one that is not all tokens.
    """
    if '"' in value:
        return parse_name_addr(value).tag
    lt = value.find("<")
    if lt >= 0:
        gt = value.find(">", lt)
        if gt < 0:
            raise ParseError("unterminated <")
        display = value[:lt].strip(" \t")
        if display and _DISPLAY_TOKENS_RE.match(display) is None:
            raise ParseError("bad display name")
        tail = value[gt + 1:]
    else:
        semi = value.find(";")
        if semi < 0:
            return None
        tail = value[semi:]
    m = _TAG_RE.search(tail)
    return m.group(1) if m else None


_TOKEN_B: Final = rb"[A-Za-z0-9.!%*_+`'~-]+"
_SEMICOLON: Final = 0x3B  # an int: see headers.LF
# A whole plain From/To line: name, optional token display name, <uri> without quotes,
# then either just ``;tag=token`` (group 1) or any other parameters (group 2). Anything
# else goes through fast_tag.
_NA_LINE_B: Final = re.compile(
    rb"[^:]*:[ \t]*(?:" + _TOKEN_B + rb"(?>(?:[ \t]+" + _TOKEN_B + rb")*)[ \t]*)?"
    rb'<[^>"\r\n]*>(?:;tag=(' + _TOKEN_B + rb')\Z|([^"\r\n]*)\Z)'
)
_TAG_B: Final = re.compile(_TAG_RE.pattern.encode(), re.I)


_LINE_TAGS: Final[dict[bytes, str | None]] = {}  # From/To line -> its tag (a memo, see memo.py)


def line_tag(line: bytes) -> str | None:
    """:func:`fast_tag` of a raw From/To header line (``name: value``)."""
    tags = _LINE_TAGS
    if line in tags:
        return tags[line]
    return remember(tags, line, _read_line_tag(line))


def _read_line_tag(line: bytes) -> str | None:
    """:func:`line_tag`, reading the plain ASCII shape straight from the bytes."""
    if line.isascii():
        m = _NA_LINE_B.match(line)
        if m is not None:
            tag, tail = m.groups()
            if tag is not None:
                return tag.decode("ascii")
            if _SEMICOLON not in tail:
                return None
            t = _TAG_B.search(tail)
            if t is None:
                return None
            tag = t.group(1)
            return None if tag is None else tag.decode("ascii")
    return fast_tag(raw_value(line))


class CSeq:
    """``CSeq: number METHOD``."""

    __slots__ = ("_dirty", "_method", "_number", "_raw")

    @property
    def number(self) -> int:
        """The CSeq's number (assignable: marks it for re-rendering)."""
        return self._number

    @number.setter
    def number(self, value: int) -> None:
        self._number = value
        self._dirty = True

    @property
    def method(self) -> str:
        """The CSeq's method (assignable: marks it for re-rendering)."""
        return self._method

    @method.setter
    def method(self, value: str) -> None:
        self._method = value
        self._dirty = True

    def __init__(self, number: int, method: str, raw: str | None = None) -> None:
        """``raw``: the text this value was parsed from (the parsers' form)."""
        self._number = number
        self._method = method
        if raw is None:
            self._raw = ""
            self._dirty = True
        else:
            self._raw = raw
            self._dirty = False

    @property
    def dirty(self) -> bool:
        return self._dirty

    def __str__(self) -> str:
        return self._raw if not self._dirty else f"{self._number} {self._method}"

    def __repr__(self) -> str:
        return f"CSeq({str(self)!r})"


def parse_cseq(value: str) -> CSeq:
    m = _CSEQ_RE.match(value)
    if m is None:
        raise ParseError("bad CSeq header")
    number = int(m.group(1))
    if number > MAX_CSEQ:
        raise ParseError("CSeq number too large")
    return CSeq(number, m.group(2), value.strip(" \t"))


_CSEQ_LINE_B: Final = re.compile(
    rb"[^:]*:[ \t]*(([0-9]{1,10})[ \t]+(" + _TOKEN_B + rb"))[ \t]*\Z")
_METHOD_TEXT: Final = {m.encode(): m for m in (
    "INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "REGISTER", "PRACK", "SUBSCRIBE", "NOTIFY",
    "PUBLISH", "INFO", "REFER", "MESSAGE", "UPDATE",
)}


# CSeq line -> (number, method, raw value): a memo (see memo.py) of what builds its CSeq
_CSEQ_LINES: Final[dict[bytes, tuple[int, str, str]]] = {}


def cseq_of_line(line: bytes) -> CSeq:
    """:func:`parse_cseq` of a raw CSeq header line (``name: value``), a new CSeq."""
    read = _CSEQ_LINES.get(line)
    if read is None:
        cseq = _read_cseq_line(line)
        read = remember(_CSEQ_LINES, line, (cseq._number, cseq._method, cseq._raw))
        return cseq
    return CSeq(read[0], read[1], read[2])


def _read_cseq_line(line: bytes) -> CSeq:
    """:func:`cseq_of_line`, reading the plain shape straight from the bytes."""
    m = _CSEQ_LINE_B.match(line)
    if m is None:
        return parse_cseq(raw_value(line))
    raw, digits, method = m.groups()
    number = int(digits)
    if number > MAX_CSEQ:
        raise ParseError("CSeq number too large")
    return CSeq(number, _METHOD_TEXT.get(method) or method.decode("ascii"), raw.decode("ascii"))


def parse_max_forwards(value: str) -> int:
    text = value.strip(" \t")
    if not text.isdigit() or not text.isascii():
        raise ParseError("bad Max-Forwards")
    number = _decimal(text, 3)
    if number is None or number > 255:
        raise ParseError("Max-Forwards too large")
    return number


def parse_content_length(value: str) -> int:
    text = value.strip(" \t")
    if not text.isdigit() or not text.isascii() or len(text) > 10:
        raise ParseError("bad Content-Length")
    return int(text)


__all__ = [
    "CSeq",
    "NameAddress",
    "SipUri",
    "Via",
    "cseq_of_line",
    "fast_tag",
    "is_plain_via_line",
    "line_tag",
    "parse_content_length",
    "parse_cseq",
    "parse_max_forwards",
    "parse_name_addr",
    "parse_name_addrs",
    "parse_via",
    "parse_vias",
    "vias_of_line",
]
