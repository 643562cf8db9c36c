"""Sans-IO test harness for the stateful proxy: a manual clock, a fake network, routes
built in the test.

Rules of this module: nothing here opens a socket, sleeps or reads the real clock.
:class:`ProxyHarness` builds an :class:`~siptm.core.engine.Engine` wired to a
:class:`~siptm.script.runner.ScriptRunner` for a :class:`~siptm.script.Router` the test
made, and plays the runtime's part: it injects datagrams (bytes) from any address,
collects every :class:`~siptm.runtime.effects.Send` per destination (parsed, so a test
can check Vias, tags and codes), moves a :class:`ManualClock` from deadline to deadline
calling ``handle_timers``, and drives ``async def`` routes (the runner's
:class:`~siptm.runtime.effects.RunCoroutine`) either step by step (:meth:`step`, with
:class:`Gate` as the thing a route awaits) or on an asyncio loop (:meth:`drive_async`).

Typical use::

    router = Router()

    @router.request
    def route(msg, tm):
        if not tm.t_relay():
            tm.sl_reply_error()

    h = ProxyHarness(router)
    h.inject(invite_bytes, UAC)
    [trying] = h.take(UAC)          # parsed Responses sent to the UAC
    [invite] = h.take(UAS)          # the relayed INVITE
    h.advance(0.5)                  # timers up to now + 0.5 s
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from .config import Config
from .core.engine import Engine
from .net import Address
from .runtime.effects import RunCoroutine, Send
from .script.router import Router
from .script.runner import ScriptRunner
from .sip import Message, Request, Response, parse

__all__ = [
    "PROXY",
    "UAC",
    "UAS",
    "UAS2",
    "UAS3",
    "UAS4",
    "Gate",
    "ManualClock",
    "ProxyHarness",
    "Sent",
    "make_request",
    "make_response",
    "watch_harnesses",
]

PROXY = Address("udp", "127.0.0.1", 5060)
UAC = Address("udp", "192.0.2.1", 5060)
UAS = Address("udp", "192.0.2.9", 5060)
UAS2 = Address("udp", "192.0.2.10", 5060)  # more callees, for forking
UAS3 = Address("udp", "192.0.2.11", 5060)
UAS4 = Address("udp", "192.0.2.12", 5060)


class ManualClock:
    """A clock that only moves when told to. Calling it returns the time (seconds)."""

    __slots__ = ("now",)

    def __init__(self, start: float = 0.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def set(self, when: float) -> None:
        if when < self.now:
            raise ValueError(f"the clock does not go back ({when} < {self.now})")
        self.now = when


@dataclass(slots=True)
class Sent:
    """One datagram the proxy sent: when, where to, from which listener, the bytes and
    the message parsed from them."""

    time: float
    dest: Address
    local: Address | None
    data: bytes
    on_error: Any = None
    _msg: Message | None = field(default=None, repr=False)

    @property
    def msg(self) -> Request | Response:
        if self._msg is None:
            self._msg = parse(self.data)
        return self._msg  # type: ignore[return-value]

    @property
    def first_line(self) -> str:
        return self.data.split(b"\r\n", 1)[0].decode("utf-8", "replace")


class Gate:
    """Something an ``async def`` route can ``await`` while the test steps it by hand:
    the route stays suspended until :meth:`open` (its value is what ``await`` returns)."""

    def __init__(self) -> None:
        self.opened = False
        self.value: Any = None
        self.error: BaseException | None = None

    def open(self, value: Any = None) -> None:
        self.opened = True
        self.value = value

    def fail(self, error: BaseException) -> None:
        self.opened = True
        self.error = error

    def __await__(self) -> Generator[Gate, None, Any]:
        while not self.opened:
            yield self
        if self.error is not None:
            raise self.error
        return self.value


class _FakeServer:
    """What the runner's ``flush`` expects of ``info.server``: ``apply(call)``."""

    def __init__(self, harness: ProxyHarness) -> None:
        self._harness = harness

    def apply(self, call: Callable[[float], Iterable[object] | None]) -> None:
        self._harness.dispatch(call(self._harness.clock.now))


@dataclass(frozen=True, slots=True)
class _Info:
    worker_id: int
    listeners: tuple[Address, ...]
    config: Config
    server: _FakeServer


class ProxyHarness:
    """An engine + script runner on a fake network and a manual clock.

    ``config``: a :class:`Config`, or a mapping of ``[tm]`` parameters (Kamailio names).
    """

    def __init__(self, router: Router, config: Config | Mapping[str, Any] | None = None,
                 *, listeners: tuple[Address, ...] = (PROXY,), seed: bytes = b"test",
                 start: float = 0.0) -> None:
        if config is None:
            config = Config.default()
        elif not isinstance(config, Config):
            config = Config.from_mapping({"tm": dict(config)})
        self.config = config
        self.clock = ManualClock(start)
        self.listeners = listeners
        self.engine = Engine(config, listeners, seed=seed)
        info = _Info(0, listeners, config, _FakeServer(self))
        self.runner = ScriptRunner(self.engine, router, info, clock=self.clock)
        self.sent: list[Sent] = []  # everything, in order
        self._unread: list[Sent] = []  # not yet returned by take()
        self.coroutines: list[RunCoroutine] = []  # async routes still running
        self.failing: set[Address] = set()  # sends to these fail (on_error is called)
        for watcher in _WATCHERS:
            watcher.append(self)

    # --- time -------------------------------------------------------------------------
    @property
    def now(self) -> float:
        return self.clock.now

    def advance(self, seconds: float) -> list[Sent]:
        """Move the clock ``seconds`` ahead, firing every timer due on the way (at its
        own deadline). Returns what was sent meanwhile."""
        return self.run_until(self.clock.now + seconds)

    def run_until(self, when: float) -> list[Sent]:
        start = len(self.sent)
        while True:
            deadline = self.engine.next_deadline()
            if deadline is None or deadline > when + 1e-9:
                break
            self.clock.set(max(deadline, self.clock.now))
            self.dispatch(self.engine.handle_timers(self.clock.now))
        self.clock.set(when)
        return self.sent[start:]

    def settle(self, limit: float = 600.0) -> list[Sent]:
        """Run timers until none is left (at most ``limit`` seconds ahead)."""
        start = len(self.sent)
        end = self.clock.now + limit
        while True:
            deadline = self.engine.next_deadline()
            if deadline is None or deadline > end:
                break
            self.clock.set(max(deadline, self.clock.now))
            self.dispatch(self.engine.handle_timers(self.clock.now))
        return self.sent[start:]

    # --- the network ------------------------------------------------------------------
    def inject(self, data: bytes | Message, source: Address = UAC,
               local: Address | None = None) -> list[Sent]:
        """A datagram arrives from ``source`` on ``local`` (default: the first
        listener). Returns what the proxy sent in response to it."""
        if not isinstance(data, bytes | bytearray):
            data = bytes(data)
        start = len(self.sent)
        self.dispatch(self.engine.receive(bytes(data), source, local or self.listeners[0],
                                          self.clock.now))
        return self.sent[start:]

    def dispatch(self, effects: Iterable[object] | None) -> None:
        """Perform effects as the runtime would (sends recorded, coroutines kept). A
        send to an address in ``failing`` is not recorded: its ``on_error`` (or the
        engine's ``transport_error``) is called once the batch is done, as the runtime
        reports errors on a later loop turn."""
        failed: list[Send] = []
        for effect in effects or ():
            if isinstance(effect, Send):
                if effect.dest in self.failing:
                    failed.append(effect)
                    continue
                sent = Sent(self.clock.now, effect.dest, effect.local, effect.data,
                            effect.on_error)
                self.sent.append(sent)
                self._unread.append(sent)
            elif isinstance(effect, RunCoroutine):
                self.coroutines.append(effect)
            else:
                raise TypeError(f"unexpected effect {effect!r}")
        for effect in failed:
            now = self.clock.now
            if effect.on_error is not None:
                self.dispatch(effect.on_error(effect.dest, "unreachable", now))
            else:
                self.dispatch(self.engine.transport_error(effect.dest, "unreachable", now))

    def take(self, dest: Address | None = None) -> list[Request | Response]:
        """Messages sent (to ``dest``, or anywhere) since the last ``take``, parsed."""
        return [s.msg for s in self.take_sent(dest)]

    def take_sent(self, dest: Address | None = None) -> list[Sent]:
        if dest is None:
            out, self._unread = self._unread, []
            return out
        out = [s for s in self._unread if s.dest == dest]
        self._unread = [s for s in self._unread if s.dest != dest]
        return out

    def take_one(self, dest: Address | None = None) -> Request | Response:
        out = self.take(dest)
        if len(out) != 1:
            raise AssertionError(f"expected one message to {dest}, got "
                                 f"{[_first_line(m) for m in out]}")
        return out[0]

    def pending(self) -> list[str]:
        """First lines of the messages sent and not taken yet (for assertions)."""
        return [f"{s.dest} {s.first_line}" for s in self._unread]

    # --- async routes ----------------------------------------------------------------
    def step(self) -> int:
        """Resume every suspended route once (manual driving: each runs until its next
        ``await`` of a closed :class:`Gate`, or to its end). Returns how many are still
        running."""
        current, self.coroutines = self.coroutines, []
        still: list[RunCoroutine] = []
        for effect in current:
            try:
                effect.coroutine.send(None)  # type: ignore[attr-defined]
            except StopIteration as stop:
                self.dispatch(effect.on_done(stop.value, None, self.clock.now))
            except Exception as exc:  # the route's error goes to on_done
                self.dispatch(effect.on_done(None, exc, self.clock.now))
            else:
                still.append(effect)
        self.coroutines = still + self.coroutines  # + routes started meanwhile
        return len(self.coroutines)

    def run_async(self) -> None:
        """Run every pending route to its end on a fresh asyncio loop (for routes that
        await asyncio things); the manual clock does not move meanwhile."""
        asyncio.run(self.drive_async())

    async def drive_async(self) -> None:
        while self.coroutines:
            effect = self.coroutines.pop(0)
            try:
                value = await effect.coroutine
            except Exception as exc:  # the route's error goes to on_done
                self.dispatch(effect.on_done(None, exc, self.clock.now))
            else:
                self.dispatch(effect.on_done(value, None, self.clock.now))

    # --- state ---------------------------------------------------------------------------
    @property
    def in_use(self) -> int:
        return self.engine.in_use


_WATCHERS: list[list[ProxyHarness]] = []


@contextmanager
def watch_harnesses() -> Iterator[list[ProxyHarness]]:
    """Collect every :class:`ProxyHarness` made inside the block (e.g. to check, after a
    test, that each one settles with no transaction left)."""
    created: list[ProxyHarness] = []
    _WATCHERS.append(created)
    try:
        yield created
    finally:
        _WATCHERS.remove(created)


# --- messages ----------------------------------------------------------------------------

def _first_line(msg: Message) -> str:
    return bytes(msg).split(b"\r\n", 1)[0].decode("utf-8", "replace")


def make_request(method: str = "INVITE", *, ruri: str = "sip:bob@192.0.2.9",
                 branch: str | None = "z9hG4bKuac1", via: str | None = None,
                 call_id: str = "call-1@192.0.2.1", cseq: int = 1,
                 cseq_method: str | None = None, from_tag: str = "fromtag1",
                 to_tag: str | None = None, max_forwards: int | None = 70,
                 extra: Iterable[str] = (), body: bytes = b"") -> bytes:
    """The bytes of a request as a UAC at 192.0.2.1:5060 would send it."""
    if via is None:
        via = "SIP/2.0/UDP 192.0.2.1:5060" + (f";branch={branch}" if branch else "")
    lines = [f"{method} {ruri} SIP/2.0", f"Via: {via}"]
    if max_forwards is not None:
        lines.append(f"Max-Forwards: {max_forwards}")
    lines += [
        f"From: Alice <sip:alice@192.0.2.1>;tag={from_tag}",
        "To: Bob <sip:bob@192.0.2.9>" + (f";tag={to_tag}" if to_tag else ""),
        f"Call-ID: {call_id}",
        f"CSeq: {cseq} {cseq_method or method}",
        "Contact: <sip:alice@192.0.2.1:5060>",
        *extra,
        f"Content-Length: {len(body)}",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def make_response(request: Request, status: int, reason: str | None = None, *,
                  to_tag: str | None = "uastag", extra: Iterable[tuple[str, str]] = (),
                  body: bytes = b"") -> bytes:
    """The bytes of a response a UAS sends to ``request`` (as it received it): Vias,
    From, To (with ``to_tag`` for > 100), Call-ID and CSeq copied."""
    tag = to_tag if status > 100 else None
    return bytes(Response.for_request(request, status, reason, to_tag=tag,
                                      headers=list(extra), body=body))
