"""Proxy request rules of RFC 3261 §16 (and RFC 5393 loop detection), pure.

Rules of this module: functions here take a request and who we are, and either answer
a question (is this a loop? is this URI ours?) or edit a request the way §16.4 and §16.6
say: Route pre-processing (strict and loose routing), Record-Route insertion, and the
per-branch copy with its new Request-URI, decremented Max-Forwards and our Via.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Final

from ..net import Address
from ..sip import NameAddress, Request, SipUri, Via, parse_name_addrs, parse_uri
from ..sip.params import Params
from .sip_transport import UnsupportedTransport, default_port, normalize_host, uri_address

BRANCH_COOKIE: Final = "z9hG4bK"
BRANCH_PREFIX: Final = BRANCH_COOKIE + "st"  # our branches: z9hG4bKst<loop-hash>.<unique>


@dataclass(frozen=True, slots=True)
class LocalIdentity:
    """The addresses and names under which this proxy is reached.

    ``listeners`` are the sockets we listen on; ``aliases`` extra host names (the
    Kamailio ``alias`` setting) that, with any listener port, mean us.
    """

    listeners: tuple[Address, ...]
    aliases: frozenset[str] = field(default_factory=frozenset)

    def is_local(self, host: str, port: int | None, transport: str | None = None) -> bool:
        host = normalize_host(host)
        for listener in self.listeners:
            wanted = port if port is not None else default_port(listener.transport)
            if listener.port != wanted:
                continue
            if host == listener.host or host in self.aliases:
                return True
        return False

    def is_local_uri(self, uri: object) -> bool:
        return isinstance(uri, SipUri) and self.is_local(uri.host, uri.port, uri.transport)

    def listener_for(self, transport: str) -> Address:
        """The listener to send from (and name in Via/Record-Route) over ``transport``."""
        for listener in self.listeners:
            if listener.transport == transport:
                return listener
        if transport == "tls":
            raise LookupError("no TLS listener configured")
        for listener in self.listeners:  # e.g. TCP out when only UDP listens: same address
            return Address(transport, listener.host, listener.port)
        raise LookupError("no listener configured")


def _host_text(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def loop_hash(request: Request) -> str:
    """The part of our branch that RFC 3261 §16.6 step 8 / RFC 5393 use to tell a loop
    from a spiral: a digest of what stays the same when the request comes back to us
    unchanged (Request-URI, Call-ID, CSeq number, From/To tags, and the Route,
    Proxy-Require and Proxy-Authorization values: a request that comes back with a
    different route set, e.g. from an application server, is a spiral)."""
    cseq = request.cseq
    parts = [
        request.uri_text,
        request.call_id or "",
        str(cseq.number if cseq is not None else ""),
        request.from_tag or "",
        request.to_tag or "",
        *request.headers.get_all("Route"),
        *request.headers.get_all("Proxy-Require"),
        *request.headers.get_all("Proxy-Authorization"),
    ]
    return hashlib.blake2s("\x00".join(parts).encode("utf-8", "surrogateescape"),
                           digest_size=5).hexdigest()


def is_loop(request: Request, identity: LocalIdentity, current_hash: str) -> bool:
    """True when the request already carries one of our Vias whose branch was computed
    from an identical request (RFC 3261 §16.3 step 4): a loop, not a spiral. Every Via
    is parsed: a malformed one raises ParseError."""
    for via in request.vias:
        branch = via.branch
        if not branch or not branch.startswith(BRANCH_PREFIX):
            continue
        if not identity.is_local(via.host, via.port):
            continue
        if branch[len(BRANCH_PREFIX):].split(".", 1)[0] == current_hash:
            return True
    return False


def make_branch(hash_part: str, unique: str) -> str:
    return f"{BRANCH_PREFIX}{hash_part}.{unique}"


def stateless_unique(request: Request, digest_size: int = 8) -> str:
    """The unique part of a stateless forward's branch, derived from the received
    request so that its retransmissions go out with the same branch (RFC 3261 §16.11:
    a hash of the received branch when it has the magic cookie, else of To tag, From
    tag, Call-ID, Request-URI, top Via and CSeq number). The top Via's sent-by goes in
    too: two clients may pick the same branch."""
    via = request.via
    branch = via.branch if via is not None else None
    sent_by = f"{via.host}:{via.port}" if via is not None else ""
    if branch and branch.startswith("z9hG4bK"):
        seed = f"{branch}\x00{sent_by}"
    else:
        cseq = request.cseq
        seed = "\x00".join((request.to_tag or "", request.from_tag or "",
                            request.call_id or "", request.uri_text, str(via or ""),
                            str(cseq.number if cseq is not None else "")))
    return hashlib.blake2s(seed.encode("utf-8", "surrogateescape"),
                           digest_size=digest_size).hexdigest()


def stateless_ack_branch(request: Request) -> str:
    """The branch of a statelessly forwarded ACK: a longer :func:`stateless_unique`
    cut to the shape of our other branches. It needs no :func:`loop_hash` part (whose
    digest of the request's identity costs as much again): loops are checked
    (:func:`is_loop`) only on the requests relayed with a transaction, never on an ACK,
    and no other request carries the Via of an ACK."""
    digest = stateless_unique(request, 13)
    return f"{BRANCH_PREFIX}{digest[:10]}.{digest[10:]}"


def loose_route(request: Request, identity: LocalIdentity) -> bool:
    """Route pre-processing of §16.4; the rr module's ``loose_route()``.

    If the Request-URI is ours and Route headers are present, the previous hop was a
    strict router: the last Route becomes the Request-URI. Then a top Route naming us
    is removed. Returns True when the request carried Route headers naming a path (an
    in-dialog request to be routed by them), False otherwise.
    """
    routes = request.routes
    if not routes:
        return False
    if identity.is_local_uri(request.uri):
        last = routes[-1].uri
        assert last is not None  # (only a Contact may be '*')
        request.uri = last.copy()
        _remove_last_route(request)
        routes = request.routes
    if routes and identity.is_local_uri(routes[0].uri):
        request.pop_route()
    return True


def _remove_last_route(request: Request) -> None:
    headers = request.headers
    index = -1
    i = headers.index("route")
    while i >= 0:
        index = i
        i = headers.index("route", i + 1)
    if index < 0:
        return
    values = headers.parsed_at(index, parse_name_addrs)
    if len(values) == 1:
        headers.delete_at(index)
    else:
        rest = values[:-1]
        headers.replace_at(index, ", ".join(str(v) for v in rest), rest)


def record_route_value(listener: Address, extra_params: str = "") -> str:
    """``<sip:host:port;transport=..;lr>`` naming ``listener`` (§16.6 step 4)."""
    transport = "" if listener.transport == "udp" else f";transport={listener.transport}"
    scheme = "sips" if listener.transport == "tls" else "sip"
    return f"<{scheme}:{_host_text(listener.host)}:{listener.port}{transport};lr{extra_params}>"


def record_route(request: Request, listener: Address, extra_params: str = "") -> None:
    request.headers.prepend("Record-Route", record_route_value(listener, extra_params))


def next_hop_address(request: Request, destination_uri: str | None,
                     force_transport: str | None = None) -> Address:
    """Where the branch goes (§16.6 step 7): ``$du`` if set, else the top Route, else
    the Request-URI. ParseError when that URI is malformed; UnsupportedTransport (a
    ValueError) when it is no SIP URI or names a transport we cannot use."""
    if destination_uri:
        return uri_text_address(destination_uri, force_transport)
    routes = request.routes
    if routes:
        return _sip_uri_address(routes[0].uri, force_transport)
    if request.uri_edited:
        return _sip_uri_address(request.uri, force_transport)
    return uri_text_address(request.uri_text, force_transport)


@lru_cache(maxsize=4096)
def uri_text_address(text: str, force_transport: str | None = None) -> Address:
    """The next hop for a request sent to the URI ``text`` (see :func:`uri_address`).

    A pure function of the text, remembered for the last 4096 texts: a proxy sends to
    the same targets again and again (a dialog's remote target for each in-dialog
    request, a trunk, the next proxy's ``$du``). Errors are not remembered."""
    return _sip_uri_address(parse_uri(text), force_transport)


def _sip_uri_address(uri: object, force_transport: str | None) -> Address:
    if not isinstance(uri, SipUri):
        raise UnsupportedTransport("not a SIP URI")
    return uri_address(uri, force_transport=force_transport)


def next_hop_is_strict_router(request: Request) -> bool:
    """The top Route names a strict router (a SIP URI without ``lr``)."""
    routes = request.routes
    return bool(routes) and isinstance(routes[0].uri, SipUri) and not routes[0].uri.lr


def apply_strict_route(request: Request) -> None:
    """§16.6 step 6: when the next hop is a strict router (top Route without ``lr``),
    the Request-URI moves to the end of the Route set and the top Route becomes it."""
    if not next_hop_is_strict_router(request):
        return
    top = request.pop_route()
    assert top is not None and top.uri is not None  # (a strict router's Route)
    request.headers.add("Route", str(NameAddress(request.uri.copy())))
    request.uri = top.uri.copy()


def via_value(listener: Address, branch: str, rport: bool = True) -> str:
    """Our Via for a branch sent from ``listener`` (RFC 3581 rport requested)."""
    host = _host_text(listener.host)
    return (f"SIP/2.0/{listener.transport.upper()} {host}:{listener.port};branch={branch}"
            + (";rport" if rport and listener.transport == "udp" else ""))


def our_via(listener: Address, branch: str, rport: bool = True) -> Via:
    """:func:`via_value` as a ready :class:`Via` (built, not parsed back from its text)."""
    with_rport = rport and listener.transport == "udp"
    params = Params((), [["branch", branch], ["rport", None]] if with_rport
                    else [["branch", branch]])
    return Via(listener.transport.upper(), _host_text(listener.host), listener.port, params,
               "SIP/2.0", via_value(listener, branch, rport))
