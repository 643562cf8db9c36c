"""The runtime's hot path: a datagram in, the engine's effects out, the timer re-armed.

Rules of this module: no asyncio, socket or logging imports, so that it compiles with the
core in the optional mypyc build and no interpreted frame runs between the event loop
and the engine for the common case (a UDP datagram in, UDP sends to IP addresses out).
Everything else is a callback into the server (:mod:`siptm.runtime.server`) and the
transports: effects other than sends, sends over TCP/TLS or to host names, arming the
loop's timer, and reporting failures (the server logs them, rate-limited). The server
owns the life cycle; this module only moves messages.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any, Final

from ..core.sip_transport import is_ip
from ..net import Address
from .effects import Send

__all__ = ["TIMER_RESOLUTION", "Pump", "UdpReceiver", "UdpSender"]

# Timers fire on a 10 ms grid (Kamailio's tick is 62.5 ms): never early, at most one tick
# late, and one wake-up serves every timer due in the same tick.
TIMER_RESOLUTION: Final = 0.01
MAX_DATAGRAM: Final = 65535

Receive = Callable[[bytes, Address, Address, float], "Iterable[object] | None"]
Effects = Callable[[float], "Iterable[object] | None"]
MessageCallback = Callable[[bytes, Address, Address], None]


def _nothing(*args: Any) -> Any:
    """What the pump calls until the server wires it: a datagram that arrives while the
    server is starting (its listeners bound, its engine not built yet) is dropped; an
    exception here would reach the loop (uvloop then closes the datagram transport)."""
    return None


def _no_time() -> float:
    return 0.0


class UdpSender:
    """Sends on one bound UDP socket: ``sendto`` now, or (when the socket would block)
    ``buffered(data, dest, token)``, which hands the datagram to the asyncio transport
    (False: it could not); a failure goes to ``on_error(dest, reason, token)``.
    ``local`` is the listener, ``v6`` whether its socket is IPv6."""

    def __init__(self, local: Address, v6: bool,
                 sendto: Callable[[bytes, tuple[str, int]], Any],
                 buffered: Callable[[bytes, Address, object], bool],
                 on_error: Callable[[Address, str, object], None]) -> None:
        self.local = local
        self.v6 = v6
        self.sendto = sendto
        self.buffered = buffered
        self.on_error = on_error
        self.sent = 0

    def send(self, data: bytes, dest: Address, token: object = None) -> None:
        try:
            self.sendto(data, (dest.host, dest.port))
        except BlockingIOError:
            if not self.buffered(data, dest, token):
                return
        except OSError as exc:
            self.on_error(dest, f"udp send failed: {exc.strerror or exc}", token)
            return
        self.sent += 1


class UdpReceiver:
    """``datagram_received`` of one UDP listener: the peer's address as an
    :class:`Address` (made once per peer), then ``on_message(data, source, local)``.

    With ``budget`` > 1 it also reads what else is queued on the socket (``recvfrom``),
    up to ``budget`` datagrams per readiness event: asyncio's selector loop reads one
    per event, libuv (uvloop) already reads until the socket is empty. Nothing escapes
    to the loop (uvloop closes a datagram transport whose protocol raises): a failed
    read goes to ``on_read_error``, an exception out of ``on_message`` (the engine's
    are caught before) to ``on_failure``, called inside the ``except`` block.
    """

    def __init__(self, local: Address, on_message: MessageCallback,
                 recvfrom: Callable[[int], tuple[bytes, Any]], budget: int,
                 on_read_error: Callable[[OSError], None],
                 on_failure: Callable[[], None] | None = None) -> None:
        self.local = local
        self.on_message = on_message
        self.recvfrom = recvfrom
        self.budget = budget
        self.on_read_error = on_read_error
        self.on_failure: Callable[[], None] = _nothing if on_failure is None else on_failure
        self.failures = 0
        self.sources: dict[Any, Address] = {}  # peer tuple -> Address, reused
        self.received = 0

    def datagram_received(self, data: bytes, addr: Any) -> None:
        local = self.local
        sources = self.sources
        budget = self.budget
        while True:
            source = sources.get(addr)
            if source is None:
                if len(sources) >= 4096:
                    sources.clear()
                source = Address("udp", addr[0], addr[1])
                sources[addr] = source
            self.received += 1
            try:
                self.on_message(data, source, local)
            except Exception:
                self.failures += 1
                self.on_failure()
            budget -= 1
            if budget <= 0:
                return
            try:
                data, addr = self.recvfrom(MAX_DATAGRAM)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # e.g. ECONNREFUSED queued by an ICMP error
                self.on_read_error(exc)
                return


class Pump:
    """Calls the engine for a message or a timer, dispatches its effects and keeps one
    loop timer armed at the engine's next deadline (rounded up to the grid).

    The server wires it: ``receive``/``handle_timers``/``next_deadline`` (the engine),
    ``time`` (the loop's clock), ``arm(when)`` (cancel the loop timer, arm one at
    ``when`` that calls :meth:`on_timer`), ``send(data, dest, local, token)`` (the
    transports, for every send the UDP fast path does not take), ``dispatch(effects,
    now)`` (the effect registry, for everything but sends), ``engine_failed(what,
    source, size)`` and ``send_failed()`` (called inside the ``except`` block: the server
    logs the current exception). ``direct_send`` False sends every effect through
    ``dispatch`` (an engine registered its own Send handler).
    """

    def __init__(self) -> None:
        self.receive: Receive = _nothing
        self.handle_timers: Effects = _nothing
        self.next_deadline: Callable[[], float | None] = _nothing
        self.time: Callable[[], float] = _no_time
        self.arm: Callable[[float], None] = _nothing
        self.send: Callable[[bytes, Address, Address | None, object], None] = _nothing
        self.dispatch_effects: Callable[[Iterable[object], float], None] = _nothing
        self.engine_failed: Callable[[str, Address | None, int], None] = _nothing
        self.send_failed: Callable[[], None] = _nothing
        self.direct_send = True
        self.udp: list[UdpSender] = []
        self.closed = False
        self.armed = False  # a loop timer is armed, for timer_when
        self.timer_when = 0.0
        self.received = 0
        self.engine_failures = 0

    # --- the ways in ------------------------------------------------------------------------
    def on_message(self, data: bytes, source: Address, local: Address) -> None:
        self.received += 1
        now = self.time()
        try:
            effects = self.receive(data, source, local, now)
        except Exception:
            self.engine_failures += 1
            self.engine_failed("a message", source, len(data))
            effects = None
        if effects:
            self.dispatch(effects, now)
        self.rearm()

    def on_timer(self) -> None:
        """The loop timer fired (the server's callback calls this)."""
        self.armed = False
        # call_at may fire a hair early; never hand the engine a time before its deadline
        now = max(self.time(), self.timer_when)
        self.call(self.handle_timers, now, "handle_timers")

    def call(self, call: Effects, now: float, what: str) -> None:
        """Run ``call(now)`` (something that talks to the engine), dispatch its effects,
        re-arm the timer."""
        try:
            effects = call(now)
        except Exception:
            self.engine_failures += 1
            self.engine_failed(what, None, 0)
            effects = None
        if effects:
            self.dispatch(effects, now)
        if not self.closed:
            self.rearm()

    # --- effects ----------------------------------------------------------------------------
    def dispatch(self, effects: Iterable[object], now: float) -> None:
        """Sends go straight out (unless ``direct_send`` is off); every other effect
        through ``dispatch_effects``."""
        if not self.direct_send:
            self.dispatch_effects(effects, now)
            return
        for effect in effects:
            if type(effect) is Send:
                send: Any = effect
                try:
                    self.send_one(send.data, send.dest, send.local, send.on_error)
                except Exception:
                    self.send_failed()
            else:
                self.dispatch_effects((effect,), now)

    def send_one(self, data: bytes, dest: Address, local: Address | None,
                 token: object) -> None:
        """UDP to an IP address goes out on the socket of the listener the engine named
        (or, with none named, of the first listener of the address's family, as the
        transports choose); the transports take everything else."""
        if dest.transport == "udp" and not self.closed:
            host = dest.host
            if not host.startswith("[") and is_ip(host):
                sender = self._sender_for(host, local)
                if sender is not None:
                    sender.send(data, dest, token)
                    return
        self.send(data, dest, local, token)

    def _sender_for(self, host: str, local: Address | None) -> UdpSender | None:
        if local is not None:
            for sender in self.udp:
                if sender.local is local:  # the engine hands back our listener objects
                    return sender
            return None  # (an equal copy: the transports compare)
        v6 = ":" in host
        for sender in self.udp:
            if sender.v6 == v6:
                return sender
        return None

    # --- the timer --------------------------------------------------------------------------
    def rearm(self) -> None:
        try:
            deadline = self.next_deadline()
        except Exception:
            self.engine_failed("next_deadline", None, 0)
            return
        if deadline is None:
            return  # a timer already armed fires harmlessly and is not re-armed
        # the next tick at or after the deadline: timers due within one tick of each other
        # fire in one wake-up (at 500 calls/s most transactions' timers do)
        when = math.ceil(deadline / TIMER_RESOLUTION) * TIMER_RESOLUTION
        if self.armed and self.timer_when <= when:
            return  # it fires first; we re-arm then
        self.timer_when = when
        self.armed = True
        self.arm(when)
