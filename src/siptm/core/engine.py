"""The engine: bytes in, effects out. The one object the runtime talks to.

Rules of this module: pure (no sockets, no clock, no asyncio). ``receive`` parses,
stamps the Via (§18.2.1), hands the message to the transaction layer and turns the
layer's events into proxy work: new requests are routed by the script (through the
injected :class:`~siptm.core.proxy.RouteRunner`), replies go to their proxy
transaction, stray replies are forwarded statelessly (seed behaviour) or dropped
(RFC 6026 strict mode). What goes out is :class:`siptm.runtime.effects.Send`.
"""

from __future__ import annotations

import re
from functools import partial
from typing import Any, ClassVar, Final

from ..config import Config, TmSettings
from ..errors import ParseError
from ..net import Address
from ..runtime.effects import new_send
from ..sip import Request, Response, parse
from . import effects as tx_effects
from .forking import flag_bit
from .forward import LocalIdentity
from .ids import IdFactory
from .keys import MatchingConfig
from .layer import TransactionLayer
from .proxy import ProxyTransaction, RouteRunner
from .request_context import RequestContext
from .sip_transport import response_address, stamp_received
from .timers import TimerConfig, TimerQueue

_LINE_NAME: Final = re.compile(rb"^([A-Za-z.!%*_+`'~-]+)[ \t]*:", re.M)
_RESPONSE_HEADERS: Final = {b"via", b"v", b"from", b"f", b"to", b"t", b"call-id", b"i", b"cseq"}
_SEND: Final = tx_effects.Send
_DELIVER_REQUEST: Final = tx_effects.DeliverRequest
_DELIVER_RESPONSE: Final = tx_effects.DeliverResponse
_TERMINATED: Final = tx_effects.Terminated
_FINAL_CLASS_COUNTERS: Final = (None, None, "x2xx", "x3xx", "x4xx", "x5xx", "x6xx")


class TmStats:
    """The seed 003 statistics (``inuse_transactions`` is read from the table)."""

    bad_messages: int
    local_replies: int
    received_replies: int
    relayed_replies: int
    sl_replies: int
    stray_replies: int
    x2xx: int
    x3xx: int
    x4xx: int
    x5xx: int
    x6xx: int

    # (one tuple for both: compiled classes have no __slots__ attribute to read back)
    _NAMES: ClassVar[tuple[str, ...]] = (
        "bad_messages", "local_replies", "received_replies", "relayed_replies",
        "sl_replies", "stray_replies", "x2xx", "x3xx", "x4xx", "x5xx", "x6xx")
    __slots__ = _NAMES

    def __init__(self) -> None:
        self.bad_messages = 0
        self.local_replies = 0
        self.received_replies = 0
        self.relayed_replies = 0
        self.sl_replies = 0
        self.stray_replies = 0
        self.x2xx = 0
        self.x3xx = 0
        self.x4xx = 0
        self.x5xx = 0
        self.x6xx = 0

    def count_final(self, status: int) -> None:
        klass = status // 100
        if 2 <= klass <= 6:
            name = _FINAL_CLASS_COUNTERS[klass]
            if name is not None:
                setattr(self, name, getattr(self, name) + 1)

    def as_dict(self) -> dict[str, int]:
        out = {name: getattr(self, name) for name in self._NAMES}
        for klass in range(2, 7):
            out[f"{klass}xx_transactions"] = out.pop(f"x{klass}xx")
        return out


def _send_failed(engine: Engine, event: tx_effects.Send, dest: Address, reason: str,
                 now: float) -> list[Any]:
    """A transaction's send failed (the runtime's ``on_error``): its transaction hears
    of it, and the effects that follow go back to the runtime."""
    engine.process(engine.layer.send_failed(event, now, reason), now)
    return engine.take_effects()


def timer_config(tm: TmSettings) -> TimerConfig:
    values = tm.timer_values()
    known = set(TimerConfig.__dataclass_fields__)
    return TimerConfig(**{k: v for k, v in values.items() if k in known})


class Engine:
    """A stateful SIP proxy for one worker."""

    def __init__(self, config: Config, listeners: tuple[Address, ...], *,
                 runner: RouteRunner | None = None, worker_id: int = 0,
                 seed: bytes = b"", aliases: tuple[str, ...] = ()) -> None:
        self.config = config
        self.tm = config.tm
        self.runner = runner
        self.identity = LocalIdentity(tuple(listeners), frozenset(a.lower() for a in aliases))
        self.layer = TransactionLayer(
            timer_config(config.tm),
            ids=IdFactory(seed, prefix=f"{worker_id:x}"),
            matching=MatchingConfig(ruri_matching=bool(config.tm.ruri_matching),
                                    via1_matching=bool(config.tm.via1_matching)),
            cancel_b_method=config.tm.cancel_b_method,
            ac_extra_hdrs=config.tm.ac_extra_hdrs,
        )
        self.stats = TmStats()
        # flags named by the script (bits above 63) and minor_branch_flag (seed 003)
        self.flag_names: dict[str, int] = {}
        minor = config.tm.minor_branch_flag
        self.minor_mask = 0 if minor is None or minor == "" else 1 << self.flag_bit(minor)
        # the proxy's own timers (a suspended route's fr_timer), beside the layer's
        self.timers = TimerQueue()
        self.timers_running = 0
        self._out: list[Any] = []
        # with several UDP listeners, a server transaction answers from the one the
        # request came in on (with one, the runtime's default is that listener)
        self._many_udp = sum(a.transport == "udp" for a in listeners) > 1

    def flag_bit(self, flag: int | str) -> int:
        """The bit of a flag given by number or by name (names get bits of their own)."""
        return flag_bit(flag, self.flag_names)

    # --- the runtime's interface ------------------------------------------------------------
    def take_effects(self) -> list[Any]:
        if self.layer.queued:
            self.process(self.layer.drain(), None)
        out = self._out
        self._out = []
        return out

    def next_deadline(self) -> float | None:
        deadline = self.layer.next_deadline()
        if self.timers_running:
            own = self.timers.next_deadline()
            if own is not None and (deadline is None or own < deadline):
                return own
        return deadline

    def handle_timers(self, now: float) -> list[Any]:
        self.process(self.layer.handle_timers(now), now)
        if self.timers_running:
            for target, kind in self.timers.pop_due(now):
                self.timers_running -= 1
                target.on_proxy_timer(kind, now)
            if self.layer.queued:
                self.process(self.layer.drain(), now)
        return self.take_effects()

    def transport_error(self, dest: Address, error: str, now: float) -> list[Any]:
        return self.take_effects()  # sends we care about carry their own on_error

    def receive(self, data: bytes, source: Address, local: Address, now: float) -> list[Any]:
        try:
            msg = parse(data)
        except ParseError as exc:
            self.stats.bad_messages += 1
            self._reject(data, exc, source, local)
            return self.take_effects()
        reply_to = None
        if isinstance(msg, Request):
            via = msg.via
            assert via is not None  # parse() refuses a request without one
            try:
                stamp_received(via, source)
                reply_to = response_address(via, source)
            except ValueError:
                reply_to = source
        self.process(self.layer.receive(msg, source, now, reply_to), now, local)
        return self.take_effects()

    # --- events of the transaction layer --------------------------------------------------
    def process(self, events: list[Any], now: float | None, local: Address | None = None
                ) -> None:
        layer = self.layer
        while True:
            for event in events:
                kind = type(event)
                if kind is _SEND:
                    # what the runtime performs; a failure comes back to the layer
                    tx = event.tx
                    self._out.append(new_send(event.data, event.destination,
                                              tx.local if tx is not None else None,
                                              partial(_send_failed, self, event)))
                elif kind is _DELIVER_REQUEST:
                    self._route_request(event, now, local)
                elif kind is _DELIVER_RESPONSE:
                    self._deliver_response(event, now)
                elif kind is _TERMINATED:
                    tx = event.tx
                    tx.local = None
                    # tx.owner <-> cell is a reference cycle: cut it so reference
                    # counting, not the cyclic GC, frees a finished call.
                    tx.owner = None
                elif kind is tx_effects.Timeout:
                    owner = event.tx.owner
                    if isinstance(owner, ProxyTransaction):
                        owner.on_timeout(event.tx, event.timer, now or 0.0)
                    elif event.tx.is_server and event.tx.last_status < 200:
                        layer.reply(event.tx, 408, now or 0.0, "Request Timeout")
                elif kind is tx_effects.TransportError:
                    owner = event.tx.owner
                    if isinstance(owner, ProxyTransaction):
                        owner.on_transport_error(event.tx, now or 0.0)
            # effects queued by the calls above come out with the next drain
            if not layer.queued:
                return
            events = layer.drain()

    def send_raw(self, data: bytes, dest: Address, local: Address | None) -> None:
        self._out.append(new_send(data, dest, local))

    def note_local(self, tx: Any, listener: Address) -> None:
        if listener.transport == "udp":
            tx.local = listener

    def local_for(self, tx: Any) -> Address | None:
        """The UDP listener ``tx`` sends from, when one was noted."""
        return tx.local

    def _route_request(self, event: tx_effects.DeliverRequest, now: float | None,
                       local: Address | None) -> None:
        request = event.request
        runner = self.runner
        if self._many_udp and event.tx is not None and local is not None:
            self.note_local(event.tx, local)
        ctx = RequestContext(self, request, event.source, now or 0.0, uas=event.tx,
                             local=local)
        if runner is None:
            ctx.sl_reply(500, "No routing script")
            ctx.finish(now or 0.0)
            return
        runner.request_route(ctx)

    def _deliver_response(self, event: tx_effects.DeliverResponse, now: float | None) -> None:
        tx = event.tx
        response = event.response
        if tx is not None:
            owner = tx.owner
            if isinstance(owner, ProxyTransaction):
                owner.on_response(tx, response, now or 0.0)
            return
        self.stats.stray_replies += 1
        if self.tm.rfc6026_strict_stray_replies:
            return
        runner = self.runner
        if self.tm.on_sl_reply and runner is not None:
            keep = runner.stray_reply_route(response, self.tm.on_sl_reply) \
                if hasattr(runner, "stray_reply_route") else True
            if not keep:
                return
        self.forward_reply_statelessly(response)

    def forward_reply_statelessly(self, response: Response) -> bool:
        """§16.11 / seed behaviour: a reply with no transaction follows its second Via
        when the top one is ours."""
        try:
            top = response.via
            if top is None or not self.identity.is_local(top.host, top.port):
                return False
            response.pop_via()
            via = response.via
            if via is None:
                return False
            dest = response_address(via)
        except ValueError:  # ParseError (a malformed Via) or an unsupported transport
            return False
        if dest.host in ("255.255.255.255", "0.0.0.0"):
            return False  # RFC 4475 §3.3.10: never to a broadcast address
        self.send_raw(bytes(response), dest, None)
        return True

    # --- bad input ----------------------------------------------------------------------
    def _reject(self, data: bytes, error: ParseError, source: Address, local: Address) -> None:
        """A request we cannot parse gets a 400 (or 505) with the reason, when enough of
        it is readable to address a reply; anything else is dropped (counted)."""
        if data[:4].upper() == b"SIP/" or not data.strip():  # never answer a response
            return
        head = data.split(b"\r\n\r\n", 1)[0]
        lines = head.split(b"\r\n")
        kept = []
        has_via = False
        for line in lines[1:]:
            m = _LINE_NAME.match(line)
            if m and m.group(1).lower() in _RESPONSE_HEADERS:
                kept.append(line)
                has_via = has_via or m.group(1).lower() in (b"via", b"v")
        if not has_via or len(lines[0]) > 8192:
            return
        reason = str(error).replace("\r", " ").replace("\n", " ")[:100]
        status = error.status if 400 <= error.status < 700 else 400
        reply = b"SIP/2.0 %d %s\r\n" % (status, reason.encode("utf-8", "replace"))
        reply += b"\r\n".join(kept) + b"\r\nContent-Length: 0\r\n\r\n"
        self.send_raw(reply, source, local)

    @property
    def in_use(self) -> int:
        return self.layer.in_use


def create_engine(info: Any, script: str | None) -> Any:
    """The factory ``siptm run`` calls: the engine wired to the routing script (the
    script layer does the wiring; imported here lazily to keep the core pure)."""
    from ..script.runner import create

    return create(info, script)
