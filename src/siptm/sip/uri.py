"""SIP, SIPS and TEL URIs (RFC 3261 §19.1, §25; RFC 3966); other schemes stay opaque.

Rules of this module: a parsed URI remembers the text it came from and renders that
text unchanged until one of its parts is assigned (``uri.host = ...``) or its
parameters are edited. The user part is kept escaped, as written: ``%40`` stays
``%40`` (use :func:`unescape` to read it decoded), so distinct URIs such as
``sip:%00@h`` and ``sip:%00%00@h`` stay distinct.
"""

from __future__ import annotations

import re
from typing import Any, Final
from urllib.parse import unquote_to_bytes

from ..errors import ParseError
from .params import Params, parse_uri_params

_SCHEME_RE: Final = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")
_HOST_RE: Final = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_\-.]+)(?::([0-9]{1,5}))?\Z")
# Characters RFC 3261 allows in the user and password parts (unreserved, escaped, user-unreserved).
_USER_RE: Final = re.compile(r"[A-Za-z0-9\-_.!~*'()%&=+$,;?/]*\Z")
_PASSWORD_RE: Final = re.compile(r"[A-Za-z0-9\-_.!~*'()%&=+$,]*\Z")
# Never part of a URI (RFC 3986/3261 grammar): whitespace, controls, DEL, quote, angle brackets.
# Letting them in would put e.g. a bare CR into a header line when the URI is re-rendered.
_BAD_URI_CHAR_RE: Final = re.compile(r'[\x00-\x20\x7f"<>]')


def unescape(text: str) -> str:
    """Decode %HH escapes (UTF-8, undecodable bytes kept as surrogates)."""
    if "%" not in text:
        return text
    return unquote_to_bytes(text).decode("utf-8", "surrogateescape")


class SipUri:
    """A ``sip:`` or ``sips:`` URI. Assigning any part marks it for re-rendering."""

    __slots__ = ("_dirty", "_headers", "_host", "_params", "_password", "_port", "_raw",
                 "_scheme", "_user")

    # (explicit properties, not property objects built by a helper: mypyc compiles these)
    @property
    def scheme(self) -> str:
        """The URI's scheme (assignable: marks it for re-rendering)."""
        return self._scheme

    @scheme.setter
    def scheme(self, value: str) -> None:
        self._scheme = value
        self._dirty = True

    @property
    def user(self) -> str | None:
        """The URI's user (assignable: marks it for re-rendering)."""
        return self._user

    @user.setter
    def user(self, value: str | None) -> None:
        self._user = value
        self._dirty = True

    @property
    def password(self) -> str | None:
        """The URI's password (assignable: marks it for re-rendering)."""
        return self._password

    @password.setter
    def password(self, value: str | None) -> None:
        self._password = value
        self._dirty = True

    @property
    def host(self) -> str:
        """The URI's host (assignable: marks it for re-rendering)."""
        return self._host

    @host.setter
    def host(self, value: str) -> None:
        self._host = value
        self._dirty = True

    @property
    def port(self) -> int | None:
        """The URI's port (assignable: marks it for re-rendering)."""
        return self._port

    @port.setter
    def port(self, value: int | None) -> None:
        self._port = value
        self._dirty = True

    @property
    def params(self) -> Params:
        """The URI's params (assignable: marks it for re-rendering)."""
        return self._params

    @params.setter
    def params(self, value: Params) -> None:
        self._params = value
        self._dirty = True

    @property
    def headers(self) -> dict[str, str]:
        """The URI's headers (assignable: marks it for re-rendering)."""
        return self._headers

    @headers.setter
    def headers(self, value: dict[str, str]) -> None:
        self._headers = value
        self._dirty = True

    def __init__(
        self,
        host: str,
        user: str | None = None,
        port: int | None = None,
        params: Params | dict | None = None,
        headers: dict[str, str] | None = None,
        scheme: str = "sip",
        password: str | None = None,
        raw: str | None = None,
    ) -> None:
        """``raw``: the text this URI was parsed from (the parsers' form: it renders as
        that text until changed); ``headers`` are then taken as is."""
        self._scheme = scheme
        self._user = user
        self._password = password
        self._host = host
        self._port = port
        self._params = params if isinstance(params, Params) else Params((params or {}).items())
        if raw is None:
            self._headers = dict(headers or {})
            self._raw = ""
            self._dirty = True
        else:
            self._headers = {} if headers is None else headers
            self._raw = raw
            self._dirty = False

    # --- reading -------------------------------------------------------------------
    @property
    def dirty(self) -> bool:
        return self._dirty or self._params.dirty

    @property
    def transport(self) -> str | None:
        value = self._params.get("transport")
        return value.lower() if value else None

    @property
    def lr(self) -> bool:
        return "lr" in self._params

    @property
    def maddr(self) -> str | None:
        return self._params.get("maddr")

    @property
    def secure(self) -> bool:
        return self._scheme.lower() == "sips"

    @property
    def hostport(self) -> str:
        return self._host if self._port is None else f"{self._host}:{self._port}"

    def __str__(self) -> str:
        if not (self._dirty or self._params.dirty):
            return self._raw
        out = [self._scheme, ":"]
        if self._user is not None:
            out.append(self._user)
            if self._password is not None:
                out.append(":" + self._password)
            out.append("@")
        out.append(self._host)
        if self._port is not None:
            out.append(f":{self._port}")
        out.append(self._params.render())
        if self._headers:
            out.append("?" + "&".join(f"{k}={v}" for k, v in self._headers.items()))
        return "".join(out)

    def __repr__(self) -> str:
        return f"SipUri({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        """Comparison per RFC 3261 §19.1.4 (simplified: params present in both must match)."""
        if not isinstance(other, SipUri):
            return NotImplemented
        if (self._scheme.lower() != other._scheme.lower()
                or unescape(self._user or "") != unescape(other._user or "")
                or (self._password or "") != (other._password or "")
                or self._host.lower() != other._host.lower()
                or self._port != other._port):
            return False
        mine, theirs = self._params.lowered(), other._params.lowered()
        for key in ("user", "ttl", "method", "maddr", "transport"):
            if (key in mine) != (key in theirs):
                return False
        for key in mine.keys() & theirs.keys():
            if (mine[key] or "").lower() != (theirs[key] or "").lower():
                return False
        return self._headers == other._headers

    __hash__ = None  # type: ignore[assignment]

    def copy(self) -> SipUri:
        return parse_uri(str(self))  # type: ignore[return-value]


class TelUri:
    """A ``tel:`` URI (RFC 3966): the number and its parameters."""

    __slots__ = ("_dirty", "_number", "_params", "_raw")

    @property
    def number(self) -> str:
        """The URI's number (assignable: marks it for re-rendering)."""
        return self._number

    @number.setter
    def number(self, value: str) -> None:
        self._number = value
        self._dirty = True

    @property
    def params(self) -> Params:
        """The URI's params (assignable: marks it for re-rendering)."""
        return self._params

    @params.setter
    def params(self, value: Params) -> None:
        self._params = value
        self._dirty = True
    scheme = "tel"

    def __init__(self, number: str, params: Params | None = None, raw: str | None = None) -> None:
        """``raw``: the text this URI was parsed from (the parsers' form)."""
        self._number = number
        self._params = params if params is not None else Params()
        if raw is None:
            self._raw = ""
            self._dirty = True
        else:
            self._raw = raw
            self._dirty = False

    @property
    def dirty(self) -> bool:
        return self._dirty or self._params.dirty

    def __str__(self) -> str:
        if not self.dirty:
            return self._raw
        return f"tel:{self._number}{self._params.render()}"

    def __repr__(self) -> str:
        return f"TelUri({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TelUri):
            return NotImplemented
        return str(self).lower() == str(other).lower()

    __hash__ = None  # type: ignore[assignment]

    def copy(self) -> TelUri:
        return parse_uri(str(self))  # type: ignore[return-value]


class AbsoluteUri:
    """A URI of another scheme (``http:``, ``urn:``, ...), kept as opaque text."""

    __slots__ = ("_raw", "scheme")

    dirty = False

    def __init__(self, text: str) -> None:
        self._raw = text
        self.scheme = text.partition(":")[0]

    def __str__(self) -> str:
        return self._raw

    def __repr__(self) -> str:
        return f"AbsoluteUri({self._raw!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, AbsoluteUri):
            return NotImplemented
        return self._raw == other._raw

    __hash__ = None  # type: ignore[assignment]

    def copy(self) -> AbsoluteUri:
        return AbsoluteUri(self._raw)


Uri = SipUri | TelUri | AbsoluteUri


def parse_uri(text: str) -> Uri:
    """Parse an absolute URI; SIP/SIPS/TEL are structured, others opaque.

    Raises :class:`ParseError` for a malformed SIP/SIPS/TEL URI or a string that is not a URI.
    """
    if text.startswith("sip:"):
        return _parse_sip(text, "sip", text[4:])
    m = _SCHEME_RE.match(text)
    if m is None:
        raise ParseError("bad URI")
    scheme = m.group(1)
    lowered = scheme.lower()
    rest = text[m.end():]
    if lowered == "sip" or lowered == "sips":
        return _parse_sip(text, scheme, rest)
    if lowered == "tel":
        return _parse_tel(text, rest)
    if not rest or _BAD_URI_CHAR_RE.search(rest):
        raise ParseError("bad URI")
    return AbsoluteUri(text)


# The everyday shape: plain user, host, port, simple params, no password or headers.
_SIP_FAST_RE: Final = re.compile(
    r"(?:([A-Za-z0-9\-_.!~*'()%&=+$,]+)@)?([A-Za-z0-9_\-.]+|\[[0-9A-Fa-f:.]+\])"
    r"(?::([0-9]{1,5}))?((?>(?:;[A-Za-z0-9\-_.!~*'()%&+$\[\]/:]+(?:=[A-Za-z0-9\-_.!~*'()%&+$\[\]/:]*)?)*))\Z"
)


def _parse_sip(text: str, scheme: str, rest: str) -> SipUri:
    m = _SIP_FAST_RE.match(rest)
    if m is not None:
        user, host, port, ptext = m.groups()
        number = None
        if port is not None:
            number = int(port)
            if number > 65535:
                raise ParseError("bad URI port")
        items: list[list[Any]] = []
        if ptext:
            for part in ptext[1:].split(";"):
                name, eq, value = part.partition("=")
                items.append([name, value if eq else None])
        return SipUri(host, user, number, Params((), items), None, scheme, None, text)
    if _BAD_URI_CHAR_RE.search(rest):
        raise ParseError("bad character in URI")
    # '@' may not appear unescaped in parameters or headers, so the last one ends the
    # userinfo, which itself may hold ';', '?' and '/' (RFC 3261 user-unreserved).
    at = rest.rfind("@")
    password: str | None
    if at >= 0:
        userinfo, hostpart = rest[:at], rest[at + 1:]
        user, colon, password = userinfo.partition(":")
        if not user or _USER_RE.match(user) is None:
            raise ParseError("bad URI user part")
        if colon and _PASSWORD_RE.match(password) is None:
            raise ParseError("bad URI password")
        if not colon:
            password = None
    else:
        hostpart = rest
        user = None
        password = None
    qmark = hostpart.find("?")
    headers: dict[str, str] = {}
    if qmark >= 0:
        for pair in hostpart[qmark + 1:].split("&"):
            name, _, value = pair.partition("=")
            if not name:
                raise ParseError("bad URI header")
            headers[name] = value
        hostpart = hostpart[:qmark]
    semi = hostpart.find(";")
    if semi >= 0:
        params = parse_uri_params(hostpart[semi:])
        hostpart = hostpart[:semi]
    else:
        params = Params()
    hm = _HOST_RE.match(hostpart)
    if hm is None:
        raise ParseError("bad URI host")
    port = hm.group(2)
    number = None
    if port is not None:
        number = int(port)
        if number > 65535:
            raise ParseError("bad URI port")
    return SipUri(hm.group(1), user, number, params, headers, scheme, password, text)


def _parse_tel(text: str, rest: str) -> TelUri:
    number, _, params = rest.partition(";")
    if not number or "@" in number or _BAD_URI_CHAR_RE.search(rest):
        raise ParseError("bad tel URI")
    return TelUri(number, parse_uri_params(";" + params) if params else Params(), text)
