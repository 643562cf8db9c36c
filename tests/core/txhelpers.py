"""Helpers for the transaction layer tests: messages, a fake clock driver.

(A module of its own, not conftest.py: several test directories have a conftest and
``from conftest import`` would pick whichever was imported last.)
"""

from __future__ import annotations

from collections.abc import Iterable

from siptm.core import (
    DeliverRequest,
    DeliverResponse,
    IdFactory,
    Send,
    SendKind,
    Terminated,
    Timeout,
    TimerConfig,
    TransactionLayer,
)
from siptm.net import Address
from siptm.sip import Request, Response, parse

UAC = Address("udp", "192.0.2.1", 5060)
UAS = Address("udp", "192.0.2.9", 5060)
UAS_TCP = Address("tcp", "192.0.2.9", 5060, connection=7)
UAC_TCP = Address("tcp", "192.0.2.1", 40000, connection=3)


def request(
    method: str = "INVITE",
    *,
    branch: str | None = "z9hG4bKclient1",
    via_host: str = "192.0.2.1",
    via_port: int | None = 5060,
    transport: str = "UDP",
    ruri: str = "sip:bob@example.com",
    call_id: str = "call-1@192.0.2.1",
    cseq: int = 1,
    cseq_method: str | None = None,
    from_tag: str = "fromtag1",
    to_tag: str | None = None,
    extra: Iterable[str] = (),
) -> Request:
    """A request as it would arrive on the wire (parsed from bytes)."""
    port = f":{via_port}" if via_port is not None else ""
    params = f";branch={branch}" if branch else ""
    to = "<sip:bob@example.com>" + (f";tag={to_tag}" if to_tag else "")
    lines = [
        f"{method} {ruri} SIP/2.0",
        f"Via: SIP/2.0/{transport} {via_host}{port}{params}",
        "Max-Forwards: 70",
        f"From: Alice <sip:alice@example.com>;tag={from_tag}",
        f"To: {to}",
        f"Call-ID: {call_id}",
        f"CSeq: {cseq} {cseq_method or method}",
        *extra,
        "Content-Length: 0",
    ]
    msg = parse(("\r\n".join(lines) + "\r\n\r\n").encode())
    assert isinstance(msg, Request)
    return msg


def response(req: Request, status: int, to_tag: str | None = "totag9",
             reason: str | None = None) -> Response:
    """A response to ``req`` as it would arrive on the wire."""
    tag = to_tag if status > 100 else None
    msg = parse(bytes(Response.for_request(req, status, reason, to_tag=tag)))
    assert isinstance(msg, Response)
    return msg


def make_layer(**timers: int) -> TransactionLayer:
    """A layer on the RFC's own wait timers (D, I, K, L, M): the figures' tests check
    RFC 3261/6026 exactly; the seeds' wt_timer default is tested on its own."""
    timers.setdefault("rfc_wait_timers", 1)
    return TransactionLayer(TimerConfig(**timers), ids=IdFactory("test"))


def advance(layer: TransactionLayer, until: float) -> list:
    """Fire every timer up to ``until``, jumping from deadline to deadline."""
    out: list = []
    while True:
        deadline = layer.next_deadline()
        if deadline is None or deadline > until:
            return out
        out.extend(layer.handle_timers(deadline))


def advance_log(layer: TransactionLayer, until: float) -> list[tuple[float, object]]:
    """Like :func:`advance`, with the time each effect came out."""
    out: list[tuple[float, object]] = []
    while True:
        deadline = layer.next_deadline()
        if deadline is None or deadline > until:
            return out
        out.extend((deadline, e) for e in layer.handle_timers(deadline))


def summary(effects: Iterable[object], tx: object | None = None) -> list[str]:
    """Effects as short strings (``Send:ACK``, ``Timeout:B``, ``DeliverResponse``...),
    only those of ``tx`` when given."""
    out = []
    for e in effects:
        if tx is not None and getattr(e, "tx", None) is not tx:
            continue
        if isinstance(e, Send):
            out.append(f"Send:{e.kind.name}")
        elif isinstance(e, Timeout):
            out.append(f"Timeout:{e.timer.name}")
        else:
            out.append(type(e).__name__)
    return out


def fire_at(layer: TransactionLayer, when: float) -> list:
    """Fire everything due before ``when`` (discarded), then what is due at ``when``."""
    advance(layer, when - 1e-9)
    layer.drain()
    return layer.handle_timers(when)


def sends(effects: Iterable[object], kind: SendKind | None = None) -> list[Send]:
    return [e for e in effects if isinstance(e, Send) and (kind is None or e.kind == kind)]


def of_type(effects: Iterable[object], cls: type) -> list:
    return [e for e in effects if isinstance(e, cls)]


def outgoing(layer: TransactionLayer, method: str = "INVITE", now: float = 0.0,
             destination: Address = UAS, **kw: object) -> tuple[object, Request]:
    """Start a client transaction for a fresh request; returns (tx, request)."""
    branch = layer.new_branch()
    req = request(method, branch=branch, via_host="198.51.100.1", **kw)  # type: ignore[arg-type]
    tx = layer.send_request(req, destination, now)
    return tx, req


__all__ = [
    "UAC",
    "UAC_TCP",
    "UAS",
    "UAS_TCP",
    "DeliverRequest",
    "DeliverResponse",
    "Terminated",
    "advance",
    "advance_log",
    "fire_at",
    "make_layer",
    "of_type",
    "outgoing",
    "request",
    "response",
    "sends",
    "summary",
]
