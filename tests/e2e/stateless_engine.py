"""A stateless relay engine for harness tests only (the real engine is siptm.core.engine).

It proves the runtime end to end without the transaction layer: Via stamping
(§18.2.1/RFC 3581), a pushed Via with a branch derived from the incoming one (the
RFC 3261 §16.11 stateless-proxy rule, so retransmissions keep their branch), responses
popped and routed back by ``response_address`` (§18.2.2). Every request goes to
``TARGET`` from the routing script (``TARGET = "udp:127.0.0.1:5080"``), except an
OPTIONS whose R-URI is the relay itself, answered 200 (the harness's readiness probe).
"""

from __future__ import annotations

import hashlib
import runpy

from siptm.core.sip_transport import parse_hostport_target, response_address, stamp_received
from siptm.net import Address
from siptm.runtime.effects import Send
from siptm.sip import ParseError, Request, Response, parse


class StatelessRelay:
    def __init__(self, info, target: Address) -> None:
        self.listeners = info.listeners
        self.target = target
        self.dropped = 0
        self.out = {a.transport: a for a in reversed(self.listeners)}

    def receive(self, data: bytes, source: Address, local: Address, now: float):
        try:
            msg = parse(data)
            if msg.via is None:
                raise ParseError("no Via")
        except ParseError:
            self.dropped += 1
            return []
        if isinstance(msg, Response):
            msg.pop_via()
            if msg.via is None:
                return []
            return [Send(bytes(msg), response_address(msg.via))]
        assert isinstance(msg, Request)
        stamp_received(msg.via, source)
        uri = msg.uri
        if msg.method == "OPTIONS" and any(
                getattr(uri, "port", None) == a.port for a in self.listeners):
            reply = Response.for_request(msg, 200, "OK", to_tag="relay")
            return [Send(bytes(reply), response_address(msg.via, source))]
        out = self.out.get(self.target.transport) or local
        key = f"{msg.via.branch}|{msg.via.host}|{msg.via.port}".encode()
        branch = "z9hG4bKsl" + hashlib.blake2s(key, digest_size=8).hexdigest()
        msg.decrement_max_forwards()
        msg.push_via(f"SIP/2.0/{out.transport.upper()} {out.host}:{out.port};branch={branch}")
        return [Send(bytes(msg), self.target, local=out)]

    def handle_timers(self, now: float):
        return []

    def next_deadline(self):
        return None

    def transport_error(self, dest: Address, error: str, now: float):
        return []


def create_engine(info, script):
    target = runpy.run_path(script)["TARGET"]
    return StatelessRelay(info, parse_hostport_target(target))
