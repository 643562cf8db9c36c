"""The server: transports + an engine + one re-armed timer (the aioquic pattern).

Rules of this module: the engine is called from exactly four places, each followed by
dispatching the effects it returned and re-arming the one timer at
``engine.next_deadline()``: a message arrived (``receive``), the timer fired
(``handle_timers``), a send failed (``transport_error``, always reported on a later loop
turn, never from inside a dispatch), and a coroutine the engine asked for ended (its
``on_done``). Those calls, the dispatch of sends and the timer arithmetic run in
:class:`~siptm.runtime.pump.Pump` (compiled with the core in the optional mypyc build);
this module wires it and does the rest. ``now`` is the loop clock. An exception raised
by the engine or by an
effect handler is logged (rate-limited) and the message dropped: nothing a peer sends
can stop the process. There is no process-global state; everything hangs off a
:class:`Server`, and ``worker_id`` is passed to the engine so that a later issue can run
one server per process on a shared ``SO_REUSEPORT`` port. The management interface
(``[mgmt] listen``, :mod:`siptm.mgmt`) is bound by :meth:`Server.start` and answered
inside the same loop, so its methods read the engine between two of its calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from ..config import Config
from ..net import Address
from .effects import EffectDispatcher, OnSendError, RunCoroutine, Send
from .pump import Pump
from .transports import Transports

__all__ = ["Engine", "EngineFactory", "RuntimeInfo", "Server", "run"]

log = logging.getLogger("siptm.runtime")

# The cyclic GC of a running proxy walks the live transactions (some 70 objects per call
# for wt_timer) and finds nothing: the engine cuts its cycles and reference counting frees
# every finished call. Python's default (700, 10, 10) spends ~40 us per call there and
# stops the loop ~100 ms for each full collection (SIPp sees retransmissions); fewer,
# larger young collections cost ~6x less and pause a few ms. Cycles are still collected.
GC_THRESHOLDS = (10_000, 50, 100)


class Engine(Protocol):
    """What the runtime calls. Every method returns an iterable of effects (or None).

    Optional: ``shutdown(now)``, called once before the sockets close; its effects are
    dispatched (e.g. final replies) while the transports still work.
    """

    def receive(self, data: bytes, source: Address, local: Address,
                now: float) -> Iterable[object] | None: ...

    def handle_timers(self, now: float) -> Iterable[object] | None: ...

    def next_deadline(self) -> float | None: ...

    def transport_error(self, dest: Address, error: str,
                        now: float) -> Iterable[object] | None: ...


@dataclass(frozen=True, slots=True)
class RuntimeInfo:
    """What an engine factory gets: who it is and where it listens."""

    worker_id: int
    listeners: tuple[Address, ...]
    config: Config
    effects: EffectDispatcher  # register handlers for the engine's own effect types here
    server: Server


EngineFactory = Callable[[RuntimeInfo], Engine]


class _RateLimitedLog:
    """Log at most ``burst`` tracebacks per ``window`` seconds; count the rest."""

    def __init__(self, burst: int = 10, window: float = 10.0) -> None:
        self.burst = burst
        self.window = window
        self._start = 0.0
        self._count = 0
        self.suppressed = 0

    def exception(self, message: str, *args: Any) -> None:
        now = time.monotonic()
        if now - self._start > self.window:
            if self.suppressed:
                log.error("%d more engine errors were not logged", self.suppressed)
            self._start, self._count, self.suppressed = now, 0, 0
        self._count += 1
        if self._count <= self.burst:
            log.exception(message, *args)
        else:
            self.suppressed += 1


class Server:
    """Owns the transports and the engine of one worker.

    ``await start()`` binds the listeners and builds the engine with
    ``engine_factory(RuntimeInfo)``; ``stop()`` (signal-safe) asks :meth:`serve` to
    return; ``await close()`` releases everything. Also an async context manager.
    """

    def __init__(self, config: Config, engine_factory: EngineFactory, *, worker_id: int = 0,
                 reuse_port: bool = False, idle_timeout: float | None = None) -> None:
        self.config = config
        self.worker_id = worker_id
        self._engine_factory = engine_factory
        self._reuse_port = reuse_port
        self._idle_timeout = idle_timeout
        self.engine: Engine | None = None
        self.mgmt: Any = None  # the management endpoint ([mgmt] listen), when on
        self.transports: Transports | None = None
        self.listeners: tuple[Address, ...] = ()
        self.effects = EffectDispatcher()
        self.effects.register(Send, self._do_send)
        self.effects.register(RunCoroutine, self._do_run_coroutine)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task] = set()
        self._stopped: asyncio.Event | None = None
        self._closed = False
        self._errors = _RateLimitedLog()
        # the hot path (messages in, effects out, the timer); wired to the engine in start()
        self._pump = Pump()
        self.transport_errors = 0

    @property
    def received(self) -> int:
        """Messages handed to the engine."""
        return self._pump.received

    @property
    def engine_failures(self) -> int:
        """Engine calls that raised (each logged, rate-limited)."""
        return self._pump.engine_failures

    @property
    def _timer_when(self) -> float:
        return self._pump.timer_when

    # --- life cycle -------------------------------------------------------------------------
    async def start(self) -> None:
        loop = self._loop = asyncio.get_running_loop()
        self._stopped = asyncio.Event()
        self.transports = Transports(self.config, self._pump.on_message, self._on_transport_error,
                                     reuse_port=self._reuse_port,
                                     idle_timeout=self._idle_timeout)
        self.listeners = tuple(await self.transports.bind(self.config.listen))
        try:
            self.engine = self._engine_factory(RuntimeInfo(
                self.worker_id, self.listeners, self.config, self.effects, self))
        except BaseException:
            await self.transports.close()
            raise
        try:
            await self._start_mgmt()
        except BaseException:
            await self.transports.close()
            raise
        self._send = self.transports.send
        self._time = loop.time
        pump = self._pump
        pump.receive = self.engine.receive
        pump.handle_timers = self.engine.handle_timers
        pump.next_deadline = self.engine.next_deadline
        pump.time = loop.time
        pump.arm = self._arm
        pump.send = self.transports.send
        pump.dispatch_effects = self.effects.dispatch
        pump.engine_failed = self._engine_failed
        pump.send_failed = self._send_failed
        pump.direct_send = self.effects.handler_for(Send) == self._do_send
        pump.udp = [endpoint.sender for endpoint in self.transports.udp]
        pump.rearm()
        log.info("worker %d ready: listening on %s (%s loop)", self.worker_id,
                 ", ".join(map(str, self.listeners)), _loop_name(loop))

    async def _start_mgmt(self) -> None:
        """Bind the management interface (``[mgmt] listen``; worker N on port + N)."""
        mgmt = getattr(self.config, "mgmt", None)
        address = mgmt.address if mgmt is not None else None
        if address is None:
            return
        from ..mgmt.endpoint import start_endpoint

        if self.worker_id:
            address = Address(address.transport, address.host, address.port + self.worker_id)
        self.mgmt = await start_endpoint(self, address)

    def stop(self) -> None:
        """Ask :meth:`serve` to return (safe from a signal handler)."""
        if self._stopped is not None:
            self._stopped.set()

    async def wait_stopped(self) -> None:
        assert self._stopped is not None, "start() first"
        await self._stopped.wait()

    async def serve(self) -> None:
        """Start (if needed), run until :meth:`stop`, then close."""
        if self.engine is None:
            await self.start()
        try:
            await self.wait_stopped()
        finally:
            await self.close()

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._pump.closed = True
        engine = self.engine
        shutdown = getattr(engine, "shutdown", None)
        if shutdown is not None and self._loop is not None:
            self._call_engine("shutdown", shutdown)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.mgmt is not None:
            self.mgmt.close()
        if self.transports is not None:
            await self.transports.close()
        if self._stopped is not None:
            self._stopped.set()
        log.info("worker %d stopped", self.worker_id)

    async def __aenter__(self) -> Server:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # --- the four ways into the engine -----------------------------------------------------
    # A message: self._pump.on_message (the transports call it). The timer:
    def _on_timer(self) -> None:
        self._timer = None
        self._pump.on_timer()

    def _on_transport_error(self, dest: Address, error: str, token: object) -> None:
        self.transport_errors += 1
        if self._closed or self._loop is None:
            return
        self._loop.call_soon(self._report_transport_error, dest, error, token)

    def _report_transport_error(self, dest: Address, error: str, token: object) -> None:
        if self._closed:
            return
        log.debug("transport error to %s: %s", dest, error)
        if token is not None:
            on_error: OnSendError = token  # type: ignore[assignment]
            self._call_engine("on_error", lambda now: on_error(dest, error, now))
            return
        engine = self.engine
        assert engine is not None
        self._call_engine("transport_error", lambda now: engine.transport_error(dest, error, now))

    def send(self, data: bytes, dest: Address, local: Address | None = None,
             on_error: OnSendError | None = None) -> None:
        """Send now (what a :class:`Send` effect does); for handlers of engine-defined
        effects. A failure calls ``on_error(dest, reason, now)`` on a later loop turn, or
        ``engine.transport_error`` without one; either's effects are dispatched."""
        self._send(data, dest, local, on_error)

    def apply(self, call: Callable[[float], Iterable[object] | None]) -> None:
        """Run ``call(now)`` (something that talks to the engine), dispatch its effects,
        re-arm the timer. For management commands and other callers outside a message."""
        self._call_engine("apply", call)

    def _call_engine(self, what: str, call: Callable[[float], Iterable[object] | None],
                     now: float | None = None) -> None:
        self._pump.call(call, self._time() if now is None else now, what)

    # --- what the pump calls back -----------------------------------------------------------
    def _arm(self, when: float) -> None:
        """(Re-)arm the loop's one timer at ``when``."""
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self._loop.call_at(when, self._on_timer)  # type: ignore[union-attr]

    def _engine_failed(self, what: str, source: Address | None, size: int) -> None:
        if source is not None:
            self._errors.exception("engine failed on a message from %s (%d bytes)",
                                   source, size)
        else:
            self._errors.exception("engine failed in %s", what)

    def _send_failed(self) -> None:
        self.effects.failed += 1
        log.exception("effect Send failed")

    # --- effect handlers --------------------------------------------------------------------
    def _do_send(self, effect: Send, now: float) -> None:
        self._send(effect.data, effect.dest, effect.local, effect.on_error)

    def _do_run_coroutine(self, effect: RunCoroutine, now: float) -> None:
        loop = self._loop
        assert loop is not None
        task = loop.create_task(_as_coroutine(effect.coroutine), name=effect.name or None)
        self._tasks.add(task)
        task.add_done_callback(lambda t: self._coroutine_done(t, effect))

    def _coroutine_done(self, task: asyncio.Task, effect: RunCoroutine) -> None:
        self._tasks.discard(task)
        if task.cancelled() or self._closed:
            return
        error = task.exception()
        result = None if error is not None else task.result()
        name = effect.name or "coroutine"
        self._call_engine(f"on_done of {name}",
                          lambda now: effect.on_done(result, error, now))


async def _as_coroutine(awaitable: Any) -> Any:
    return await awaitable


def _loop_name(loop: asyncio.AbstractEventLoop) -> str:
    return "uvloop" if type(loop).__module__.startswith("uvloop") else "asyncio"


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    try:
        import uvloop  # type: ignore[import-not-found]
    except ImportError:
        return None
    return uvloop.new_event_loop


def run(config: Config, engine_factory: EngineFactory, *, worker_id: int = 0,
        reuse_port: bool = False) -> int:
    """Run one worker until SIGINT or SIGTERM; returns the process exit code.

    0 after a clean stop; 1 when a listener cannot be bound or the engine cannot be
    built (the reason is logged). Uses uvloop when it is installed.
    """

    async def main() -> int:
        server = Server(config, engine_factory, worker_id=worker_id, reuse_port=reuse_port)
        try:
            await server.start()
        except OSError as exc:
            log.error("cannot listen: %s", exc)
            return 1
        except Exception:
            log.exception("cannot start the engine")
            return 1
        loop = asyncio.get_running_loop()
        signals = (signal.SIGINT, signal.SIGTERM)
        for sig in signals:
            loop.add_signal_handler(sig, _on_signal, server, sig)
        try:
            await server.serve()
        finally:
            for sig in signals:
                with contextlib.suppress(Exception):
                    loop.remove_signal_handler(sig)
        return 0

    gc.set_threshold(*GC_THRESHOLDS)
    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        return runner.run(main())


def _on_signal(server: Server, sig: signal.Signals) -> None:
    log.info("worker %d: %s, shutting down", server.worker_id, signal.Signals(sig).name)
    server.stop()
