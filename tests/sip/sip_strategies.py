"""Hypothesis strategies: valid SIP messages built from parts, with what they should read as."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from hypothesis import strategies as st

ALPHA = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
DIGIT = "0123456789"
ALNUM = ALPHA + DIGIT
TOKEN_CHARS = ALNUM + "-.!%*_+`'~"
UNRESERVED = ALNUM + "-_.!~*'()"
HEX = "0123456789ABCDEFabcdef"

METHODS = ["INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "REGISTER", "PRACK", "SUBSCRIBE",
           "NOTIFY", "PUBLISH", "INFO", "REFER", "MESSAGE", "UPDATE"]


def text_of(alphabet: str, min_size: int = 1, max_size: int = 12) -> st.SearchStrategy[str]:
    return st.text(st.sampled_from(alphabet), min_size=min_size, max_size=max_size)


token = text_of(TOKEN_CHARS)
escape = st.builds(lambda a, b: f"%{a}{b}", st.sampled_from(HEX), st.sampled_from(HEX))


def escaped_text(alphabet: str, max_parts: int = 8) -> st.SearchStrategy[str]:
    part = st.one_of(text_of(alphabet, 1, 6), escape)
    return st.lists(part, min_size=1, max_size=max_parts).map("".join)


label = st.one_of(  # a DNS label: alphanumeric at both ends, '-' allowed inside
    st.sampled_from(ALNUM),
    st.builds(lambda a, mid, z: a + mid + z,
              st.sampled_from(ALNUM), text_of(ALNUM + "-", 0, 8), st.sampled_from(ALNUM)),
)
hostname = st.lists(label, min_size=1, max_size=4).map(".".join).filter(
    lambda h: not h.replace(".", "").isdigit()
)
ipv4 = st.tuples(*[st.integers(0, 255)] * 4).map(lambda t: ".".join(map(str, t)))
ipv6 = st.sampled_from(["[2001:db8::1]", "[::1]", "[fe80::a:b:c:d]", "[::ffff:192.0.2.1]",
                        "[2001:DB8:0:0:8:800:200C:417A]"])
host = st.one_of(hostname, ipv4, ipv6)
port = st.one_of(st.none(), st.integers(1, 65535))


@dataclass
class UriSpec:
    scheme: str
    user: str | None
    password: str | None
    host: str
    port: int | None
    params: list[tuple[str, str | None]]
    headers: list[tuple[str, str]]

    def text(self) -> str:
        out = f"{self.scheme}:"
        if self.user is not None:
            out += self.user
            if self.password is not None:
                out += ":" + self.password
            out += "@"
        out += self.host
        if self.port is not None:
            out += f":{self.port}"
        for name, value in self.params:
            out += f";{name}" if value is None else f";{name}={value}"
        if self.headers:
            out += "?" + "&".join(f"{k}={v}" for k, v in self.headers)
        return out

    @property
    def simple(self) -> bool:
        """Writable without <> in a header (no params, headers, or ; , ? in the user)."""
        return not self.params and not self.headers and not any(
            c in (self.user or "") + (self.password or "") for c in ";,?"
        )


user_text = escaped_text(UNRESERVED + "&=+$,;?/")
password_text = st.one_of(st.just(""), escaped_text(UNRESERVED + "&=+$,"))
param_value = escaped_text(UNRESERVED + "[]/:&+$", 3)

KNOWN_PARAMS = {
    "transport": st.sampled_from(["udp", "tcp", "tls", "sctp", "UDP", "TCP", "ws"]),
    "lr": st.none(),
    "maddr": st.one_of(hostname, ipv4),
    "ttl": st.integers(0, 255).map(str),
    "user": st.sampled_from(["phone", "ip", "dialstring"]),
    "method": st.sampled_from(METHODS),
}


# (Strategies are built once, at import: building them inside a draw is what costs.)
_URI_PARAM_NAMES = st.lists(
    st.one_of(st.sampled_from(sorted(KNOWN_PARAMS)), escaped_text(ALNUM + "-_.!~*'()", 3)),
    max_size=4, unique_by=str.lower,
)
_URI_PARAM_VALUE = st.one_of(st.none(), param_value)
_URI_HEADERS = st.lists(
    st.tuples(escaped_text(UNRESERVED, 3), escaped_text(UNRESERVED + "[]/?:+$", 4)),
    max_size=2, unique_by=lambda kv: kv[0],
)
_USER = st.one_of(st.none(), user_text)
_PASSWORD = st.one_of(st.none(), password_text)
_SCHEME = st.sampled_from(["sip", "sips", "SIP"])


@st.composite
def uri_params(draw) -> list[tuple[str, str | None]]:
    out = []
    for name in draw(_URI_PARAM_NAMES):
        strategy = KNOWN_PARAMS.get(name.lower(), _URI_PARAM_VALUE)
        out.append((name, draw(strategy)))
    return out


@st.composite
def sip_uris(draw, allow_headers: bool = True) -> UriSpec:
    user = draw(_USER)
    password = draw(_PASSWORD) if user is not None else None
    headers = draw(_URI_HEADERS) if allow_headers else []
    return UriSpec(
        scheme=draw(_SCHEME), user=user, password=password, host=draw(host), port=draw(port),
        params=draw(uri_params()), headers=headers,
    )


# --- header values ----------------------------------------------------------------------------

# Display-name text for a quoted-string: printable ASCII and some UTF-8, quotes and backslashes
# escaped, sometimes an ordinary character written as a quoted-pair.
display_char = st.one_of(
    st.sampled_from(ALNUM + " !#$%&'()*+,-./:;<=>?@[]^_`{|}~"),
    st.sampled_from(['"', "\\"]),
    st.sampled_from(["é", "ü", "大", "Ж", "\u00a0", "🙂"]),
)


@st.composite
def quoted_display(draw) -> tuple[str, str]:
    """(the quoted-string as written, the text it means)."""
    chars = draw(st.lists(display_char, max_size=12))
    written = []
    for ch in chars:
        if ch in '"\\' or (ch.isascii() and ch.isalnum() and draw(st.booleans())):
            written.append("\\" + ch)
        else:
            written.append(ch)
    return '"' + "".join(written) + '"', "".join(chars)


token_display = st.lists(token, min_size=1, max_size=3).map(" ".join)


@dataclass
class AddrSpec:
    """A name-addr (From, To, Contact, Route) as written and as it should read."""
    written: str
    display: str | None
    uri: str
    params: list[tuple[str, str | None]]

    @property
    def tag(self) -> str | None:
        for name, value in self.params:
            if name.lower() == "tag":
                return value
        return None


header_param_value = st.one_of(
    token, hostname, ipv4, st.builds(lambda s: f'"{s}"', text_of(ALNUM + " ,;:=<>@", 0, 8)),
)


_PARAM_NAMES = st.lists(token, max_size=3, unique_by=str.lower)
_PARAM_VALUE = st.one_of(st.none(), header_param_value)


@st.composite
def header_params(draw, extra: dict[str, st.SearchStrategy] | None = None):
    extra = extra or {}
    names = [n for n in draw(_PARAM_NAMES) if n.lower() not in extra]
    out = [(n, draw(_PARAM_VALUE)) for n in names]
    for name, strategy in extra.items():
        if draw(st.booleans()):
            out.insert(draw(st.integers(0, len(out))), (name, draw(strategy)))
    return out


def render_params(params, lws: bool = False) -> str:
    out = ""
    for name, value in params:
        out += f" ; {name}" if lws else f";{name}"
        if value is not None:
            out += f" = {value}" if lws else f"={value}"
    return out


_ADDR_URI = st.one_of(sip_uris(), st.sampled_from(
    ["tel:+1-201-555-0123", "tel:7042;phone-context=example.com", "urn:service:sos",
     "http://www.example.com/x", "mailto:a@example.com"]))
_ADDR_KIND = st.sampled_from(["quoted", "tokens", "none", "bare"])


@st.composite
def name_addrs(draw, extra_params=None, allow_bare: bool = True) -> AddrSpec:
    uri = draw(_ADDR_URI)
    uri_text = uri.text() if isinstance(uri, UriSpec) else uri
    params = draw(header_params(extra_params))
    lws = draw(st.booleans())
    kind = draw(_ADDR_KIND)
    simple = isinstance(uri, UriSpec) and uri.simple
    if kind == "bare" and allow_bare and simple:
        return AddrSpec(uri_text + render_params(params, lws), None, uri_text, params)
    if kind == "quoted":
        written, display = draw(quoted_display())
        sep = draw(st.sampled_from(["", " ", "  "]))
    elif kind == "tokens":
        written = display = draw(token_display)
        sep = draw(st.sampled_from(["", " "]))
    else:
        written, display, sep = "", None, ""
    return AddrSpec(f"{written}{sep}<{uri_text}>{render_params(params, lws)}", display,
                    uri_text, params)


@dataclass
class ViaSpec:
    written: str
    transport: str
    host: str
    port: int | None
    params: list[tuple[str, str | None]]

    def param(self, name: str) -> str | None:
        for key, value in self.params:
            if key.lower() == name:
                return value
        return None


_VIA_TRANSPORT = st.sampled_from(["UDP", "TCP", "TLS", "SCTP", "WS", "WSS", "udp"])
_VIA_PARAMS = header_params({
    "branch": st.builds(lambda t: "z9hG4bK" + t, token),
    "received": st.one_of(ipv4, ipv6.map(lambda a: a.strip("[]"))),
    "rport": st.one_of(st.none(), st.integers(1, 65535).map(str)),
    "ttl": st.integers(0, 255).map(str),
    "maddr": st.one_of(hostname, ipv4),
})


@st.composite
def vias(draw) -> ViaSpec:
    transport = draw(_VIA_TRANSPORT)
    h = draw(host)
    p = draw(port)
    params = draw(_VIA_PARAMS)
    lws = draw(st.booleans())
    slash = " / " if lws else "/"
    hostport = h if p is None else (f"{h} : {p}" if lws else f"{h}:{p}")
    written = f"SIP{slash}2.0{slash}{transport} {hostport}{render_params(params, lws)}"
    return ViaSpec(written, transport, h, p, params)


call_id_word = text_of(ALNUM + "-.!%*_+`'~()<>:\\\"/[]?{}", 1, 16)
call_ids = st.one_of(call_id_word, st.builds(lambda a, b: f"{a}@{b}", call_id_word,
                                               call_id_word))
unknown_value_char = st.sampled_from(ALNUM + " !\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~") | \
    st.sampled_from(["é", "大", "\t"])
unknown_values = st.text(unknown_value_char, max_size=30).map(lambda s: s.strip(" \t"))

LONG_NAMES = {"via": "Via", "from": "From", "to": "To", "call-id": "Call-ID", "cseq": "CSeq",
              "contact": "Contact", "max-forwards": "Max-Forwards", "route": "Route",
              "record-route": "Record-Route", "content-length": "Content-Length",
              "content-type": "Content-Type"}
COMPACT = {"via": "v", "from": "f", "to": "t", "call-id": "i", "contact": "m",
           "content-length": "l", "content-type": "c"}


_CASE = st.sampled_from(["as is", "lower", "upper", "mixed"])


@st.composite
def spelling(draw, key: str) -> str:
    """How a header name is written: long or compact, in some letter case, LWS before ':'."""
    options = [LONG_NAMES[key]]
    if key in COMPACT:
        options.append(COMPACT[key])
    name = options[draw(st.integers(0, len(options) - 1))]
    case = draw(_CASE)
    if case == "lower":
        name = name.lower()
    elif case == "upper":
        name = name.upper()
    elif case == "mixed":
        flips = draw(st.integers(0, 2 ** len(name) - 1))  # one bit per letter
        name = "".join(c.swapcase() if flips >> i & 1 else c for i, c in enumerate(name))
    return name


@dataclass
class MessageSpec:
    """A generated message: its bytes and what each accessor should read."""
    data: bytes = b""
    is_request: bool = True
    method: str = ""
    uri: UriSpec | str | None = None
    status: int = 0
    reason: str = ""
    vias: list[ViaSpec] = field(default_factory=list)
    from_: AddrSpec | None = None
    to: AddrSpec | None = None
    call_id: str = ""
    cseq: tuple[int, str] = (0, "")
    max_forwards: int | None = None
    contacts: list[AddrSpec] = field(default_factory=list)
    star: bool = False
    routes: list[AddrSpec] = field(default_factory=list)
    record_routes: list[AddrSpec] = field(default_factory=list)
    unknown: dict[str, list[str]] = field(default_factory=dict)
    content_length: int | None = None
    body: bytes = b""
    names: list[str] = field(default_factory=list)


_SINGLE_SPACE = re.compile(r"(?<=[^ \t]) (?=[^ \t])")
_FOLD_WS = st.sampled_from([" ", "\t", "   "])


@st.composite
def fold(draw, value: str) -> str:
    """Maybe replace some single spaces of ``value`` by a line fold (CRLF + SP/HT)."""
    spots = [m.start() for m in _SINGLE_SPACE.finditer(value)]
    if not spots or not draw(st.booleans()):
        return value
    last = len(spots) - 1
    chosen = {spots[draw(st.integers(0, last))] for _ in range(draw(st.integers(1, 3)))}
    out = []
    for i, ch in enumerate(value):
        if i in chosen:
            out.append("\r\n" + draw(_FOLD_WS))
        else:
            out.append(ch)
    return "".join(out)


_METHOD = st.one_of(st.sampled_from(METHODS), token)
_RURI = st.one_of(sip_uris(allow_headers=False),
                  st.sampled_from(["tel:+15550100", "urn:service:sos", "http://h.example/p"]))
_REASON = st.text(st.sampled_from(ALNUM + " -.'é大"), max_size=20)
_VIAS = st.lists(vias(), min_size=1, max_size=4)
_COMMA = st.sampled_from([", ", ",", " , "])
_TAGGED = name_addrs({"tag": token})
_CONTACTS = st.lists(name_addrs({"q": st.sampled_from(["0", "0.5", "1.0", "0.001"]),
                                 "expires": st.integers(0, 2**32 - 1).map(str)}), max_size=3)
_ROUTES = st.lists(name_addrs(allow_bare=False), max_size=3)
_COLON = st.sampled_from([": ", ":", " : ", ":   ", "\t:\t"])


@st.composite
def messages(draw) -> MessageSpec:
    spec = MessageSpec()
    spec.is_request = draw(st.booleans())
    if spec.is_request:
        spec.method = draw(_METHOD)
        uri = draw(_RURI)
        spec.uri = uri
        uri_text = uri.text() if isinstance(uri, UriSpec) else uri
        start = f"{spec.method} {uri_text} SIP/2.0"
        cseq_method = spec.method
    else:
        spec.status = draw(st.integers(100, 699))
        spec.reason = draw(_REASON)
        start = f"SIP/2.0 {spec.status} {spec.reason}"
        cseq_method = draw(_METHOD)

    # (key, value) pairs in message order; key None for unknown headers.
    headers: list[tuple[str, str]] = []
    via_list = draw(_VIAS)
    spec.vias = via_list
    i = 0
    while i < len(via_list):  # group consecutive Vias onto lines of one or more values
        n = draw(st.integers(1, len(via_list) - i))
        sep = draw(_COMMA)
        headers.append(("via", sep.join(v.written for v in via_list[i:i + n])))
        i += n
    spec.from_ = draw(_TAGGED)
    spec.to = draw(_TAGGED)
    spec.call_id = draw(call_ids)
    spec.cseq = (draw(st.integers(0, 2**32 - 1)), cseq_method)
    headers += [("from", spec.from_.written), ("to", spec.to.written),
                ("call-id", spec.call_id), ("cseq", f"{spec.cseq[0]} {cseq_method}")]
    if draw(st.booleans()):
        spec.max_forwards = draw(st.integers(0, 255))
        headers.append(("max-forwards", str(spec.max_forwards)))
    if spec.method == "REGISTER" and draw(st.integers(0, 4)) == 0:
        spec.star = True
        headers.append(("contact", "*"))
    else:
        contacts = draw(_CONTACTS)
        spec.contacts = contacts
        if contacts:
            headers.append(("contact", ", ".join(c.written for c in contacts)))
    for key in ("route", "record-route"):
        addrs = draw(_ROUTES)
        setattr(spec, key.replace("-", "_") + "s", addrs)
        if addrs:
            n = draw(st.integers(1, len(addrs)))
            headers.append((key, ", ".join(a.written for a in addrs[:n])))
            if addrs[n:]:
                headers.append((key, ", ".join(a.written for a in addrs[n:])))
    for _ in range(draw(st.integers(0, 3))):
        name = "X-" + draw(token)
        headers.append((name, draw(unknown_values)))

    spec.body = draw(st.binary(max_size=80))
    has_cl = draw(st.booleans()) or not spec.body
    if has_cl:
        spec.content_length = len(spec.body)
        headers.append(("content-length", str(len(spec.body))))
    if spec.body:
        headers.append(("content-type", "application/octet-stream"))

    # The required headers may come in any order.
    order = draw(st.permutations(range(len(headers))))
    # Keep Via lines, Route lines and Record-Route lines in their relative order.
    for key in ("via", "route", "record-route"):
        slots = sorted(j for j, k in enumerate(order) if headers[k][0] == key)
        members = [k for k in order if headers[k][0] == key]
        members.sort()
        for slot, member in zip(slots, members):
            order[slot] = member
    lines = [start.encode("utf-8")]
    for k in order:
        key, value = headers[k]
        if key in LONG_NAMES:
            name = draw(spelling(key))
        else:
            name = key
            spec.unknown.setdefault(name.lower(), []).append(value)
        spec.names.append(name)
        colon = draw(_COLON)
        if key != "content-length":
            value = draw(fold(value))
        lines.append(f"{name}{colon}{value}".encode())
    spec.data = b"\r\n".join(lines) + b"\r\n\r\n" + spec.body
    return spec
