"""Where SIP messages come from and go to: RFC 3261 §18.2 with RFC 3581 (rport).

Rules of this module: it is pure. It edits a received request's top Via (``received``,
``rport``) and computes destinations as :class:`~siptm.net.Address` values; it never
resolves a host name, opens a socket or reads a clock. A destination whose ``host`` is
not an IP literal (see :func:`is_ip`) is resolved later by the runtime. Transports are
lowercase ``udp``/``tcp``/``tls``; anything else raises :class:`UnsupportedTransport`.

- :func:`stamp_received` — §18.2.1 and RFC 3581 §4, on every request we receive.
- :func:`response_address` — §18.2.2 and RFC 3581 §4, for every response we send back.
- :func:`uri_address` — transport, host and port for a request sent to a SIP URI
  (RFC 3263 §4.1/§4.2 without DNS: transport param, ``sips`` → TLS, default ports).
- :func:`parse_hostport_target` — ``[proto:]host[:port]`` as ``t_relay("tcp:h:p")`` and
  the ``listen`` setting write it.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from typing import Any, Final

from ..net import TRANSPORTS, Address
from ..sip.uri import SipUri
from ..sip.values import Via

__all__ = [
    "DEFAULT_PORTS",
    "UnsupportedTransport",
    "default_port",
    "is_ip",
    "normalize_host",
    "parse_hostport_target",
    "response_address",
    "stamp_received",
    "uri_address",
]

DEFAULT_PORTS: Final = {"udp": 5060, "tcp": 5060, "tls": 5061}


class UnsupportedTransport(ValueError):
    """A Via or URI names a transport siptm does not speak (SCTP, WS, ...)."""


def default_port(transport: str) -> int:
    """5060 for UDP and TCP, 5061 for TLS (RFC 3261 §19.1.2)."""
    return 5061 if transport == "tls" else 5060


def _transport(name: str) -> str:
    lowered = name.lower()
    if lowered not in DEFAULT_PORTS:
        raise UnsupportedTransport(f"unsupported transport {name!r}")
    return lowered


def normalize_host(host: str) -> str:
    """A host as :class:`Address` keeps it: IPv6 without brackets, names lowercase."""
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host.lower()


@lru_cache(maxsize=4096)
def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def is_ip(host: str) -> bool:
    """True for an IPv4 or IPv6 literal (brackets allowed); False for a host name."""
    return _ip(normalize_host(host)) is not None


def _same_ip(via_host: str, source_host: str) -> bool:
    if via_host == source_host:  # the usual case: the sent-by is the packet's source
        return _ip(normalize_host(via_host)) is not None
    via_host = normalize_host(via_host)
    source_host = normalize_host(source_host)
    a = _ip(via_host)
    if a is None:
        return False
    return via_host == source_host or a == _ip(source_host)


_ABSENT: Final[Any] = object()  # Params.get's default: the parameter is missing


def stamp_received(via: Via, source: Address) -> bool:
    """Tag the top Via of a request that arrived from ``source`` (§18.2.1, RFC 3581 §4).

    Adds ``received=<source ip>`` when the sent-by host is a name or an IP different
    from the packet's source, and always when the Via carries ``rport``; fills a bare
    ``rport`` with the source port. Returns True when the Via was changed.
    """
    changed = False
    params = via.params
    rport = params.get("rport", _ABSENT)
    has_rport = rport is not _ABSENT
    if (has_rport or not _same_ip(via.host, source.host)) and (
        params.get("received") != source.host
    ):
        params["received"] = source.host
        changed = True
    if has_rport and not rport:
        params["rport"] = str(source.port)
        changed = True
    return changed


def response_address(via: Via, source: Address | None = None) -> Address:
    """Where to send a response whose top Via is ``via`` (§18.2.2, RFC 3581 §4).

    ``source`` is the address the request arrived from (with its ``connection`` for
    TCP/TLS), when known; its transport wins over the Via's sent-protocol, as the
    request really came that way.

    - Reliable transport: the result carries ``connection=source.connection`` so the
      runtime uses that connection while it is open; host and port are where to open a
      new one otherwise: ``received`` (or the sent-by host) and the sent-by port
      (default 5060, 5061 for TLS).
    - ``maddr``: the maddr host, sent-by port (or the default).
    - ``rport`` with a value (unreliable only): ``received``:rport.
    - Otherwise ``received`` (or the sent-by host) with the sent-by port.

    The host may be a name (sent-by without ``received``); the runtime resolves it.
    """
    if source is not None:
        transport = source.transport
        connection = source.connection
    else:
        transport = _transport(via.transport)
        connection = None
    port = via.port or default_port(transport)
    params = via.params
    received = params.get("received")
    if transport != "udp":
        host = received or via.host
        return Address(transport, normalize_host(host), port, connection)
    maddr = params.get("maddr")
    if maddr:
        return Address(transport, normalize_host(maddr), port)
    host = normalize_host(received or via.host)
    rport = via.rport
    if rport is not None:
        if received:
            port = rport
        elif source is not None:
            # A Via with rport=<port> but no received (we did not stamp it): RFC 3581
            # pairs the two, so fall back to the packet's source address.
            host = source.host
            port = rport
    if source is not None and source.port == port and source.host == host and (
            source.transport == transport and source.connection is None):
        return source  # the usual answer: back where the request came from
    return Address(transport, host, port)


def uri_address(uri: SipUri, force_transport: str | None = None) -> Address:
    """The next hop for a request sent to ``uri`` (RFC 3263 §4.1–4.2, no DNS).

    ``force_transport`` (``t_relay_to_tcp()`` and friends) overrides the URI. Otherwise
    the ``transport`` parameter decides; ``sips`` means TLS (TCP upgraded to TLS, UDP
    rejected, §26.2.2); without either, UDP. ``maddr`` replaces the host (§19.1.1). The
    port is the URI's or the transport's default. The host may be a name.
    """
    if force_transport is not None:
        transport = _transport(force_transport)
    else:
        param = uri.transport
        transport = _transport(param) if param else "udp"
        if uri.secure:
            if transport == "udp" and param:
                raise UnsupportedTransport("a sips URI cannot use transport=udp")
            transport = "tls"
    host = uri.maddr or uri.host
    port = uri.port or default_port(transport)
    return Address(transport, normalize_host(host), port)


def parse_hostport_target(text: str, default_transport: str = "udp") -> Address:
    """Parse ``[proto:]host[:port]`` (``udp:10.0.0.1:5060``, ``tls:[::1]``, ``example.com``).

    The port defaults to the transport's; raises :class:`ValueError` on bad input.
    """
    rest = text.strip()
    transport = default_transport
    head, sep, tail = rest.partition(":")
    if sep and head.lower() in TRANSPORTS:
        transport = head.lower()
        rest = tail
    elif sep and head.lower() in ("sctp", "ws", "wss"):
        raise UnsupportedTransport(f"unsupported transport {head!r}")
    transport = _transport(transport)
    if rest.startswith("["):
        end = rest.find("]")
        if end < 0:
            raise ValueError(f"bad address {text!r}: unclosed '['")
        host, after = rest[1:end], rest[end + 1:]
        if after and not after.startswith(":"):
            raise ValueError(f"bad address {text!r}")
        port_text = after[1:] if after else ""
    else:
        host, sep, port_text = rest.partition(":")
        if sep and not port_text:
            raise ValueError(f"bad address {text!r}: empty port")
        if ":" in port_text:
            raise ValueError(f"bad address {text!r}: IPv6 addresses need [brackets]")
    if not host:
        raise ValueError(f"bad address {text!r}: no host")
    if port_text:
        if not port_text.isdigit() or int(port_text) > 65535:
            raise ValueError(f"bad address {text!r}: bad port {port_text!r}")
        port = int(port_text)
    else:
        port = default_port(transport)
    return Address(transport, normalize_host(host), port)
