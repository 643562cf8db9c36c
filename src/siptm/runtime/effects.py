"""What an engine asks the runtime to do, and the registry that does it.

Rules of this module: it is pure (no asyncio, socket or time imports) so that the sans-IO
core can build these effects. Effects are frozen, slotted dataclasses. The runtime
dispatches each effect through an :class:`EffectDispatcher` keyed by the effect's type
(subclasses found through the MRO), so the engine author can add effect types and
register their handlers without touching the runtime. A handler that raises, or an
effect nobody handles, is logged and skipped: one bad effect never stops a batch.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from ..frozen import constructor, fast_frozen
from ..net import Address

__all__ = ["EffectDispatcher", "EffectHandler", "OnDone", "OnSendError", "RunCoroutine", "Send",
           "new_send"]

log = logging.getLogger("siptm.runtime")

OnSendError = Callable[[Address, str, float], "Iterable[object] | None"]
OnDone = Callable[[Any, "BaseException | None", float], "Iterable[object] | None"]


@fast_frozen
@dataclass(frozen=True, slots=True)
class Send:
    """Send ``data`` to ``dest``.

    UDP goes out from ``local`` (a listener address) or the first UDP listener of the
    destination's address family. TCP/TLS use connection ``dest.connection`` while it is
    open, else a connection to (host, port) from the connection table, else a new one.
    A host name in ``dest`` is resolved first. A failure never raises: it comes back
    as ``on_error(dest, reason, now)`` when given (its effects are dispatched), else as
    ``engine.transport_error(dest, reason, now)``.
    """

    data: bytes
    dest: Address
    local: Address | None = None
    on_error: OnSendError | None = None


new_send = constructor(Send)  # Send(...) for the engine's every send, without a class call


@dataclass(frozen=True, slots=True, eq=False)
class RunCoroutine:
    """Run ``coroutine`` as a task; when it ends call ``on_done(result, error, now)``.

    ``error`` is the exception the coroutine raised (``result`` is then ``None``). The
    effects ``on_done`` returns are dispatched like any batch and the timer re-armed, so
    this is how an ``async def`` route (or a DNS lookup, or a database query) feeds its
    outcome back into the engine. A coroutine still running at shutdown is cancelled and
    its ``on_done`` is not called.
    """

    coroutine: Awaitable[Any]
    on_done: OnDone
    name: str = field(default="")


EffectHandler = Callable[[Any, float], None]
_UNRESOLVED: Any = object()


class EffectDispatcher:
    """Maps effect types to handlers ``handler(effect, now) -> None``."""

    def __init__(self) -> None:
        self._handlers: dict[type, EffectHandler] = {}
        self._resolved: dict[type, EffectHandler | None] = {}
        self.unhandled = 0
        self.failed = 0

    def register(self, effect_type: type, handler: EffectHandler) -> None:
        """Handle effects of ``effect_type`` (and its subclasses) with ``handler``."""
        self._handlers[effect_type] = handler
        self._resolved.clear()

    def handler_for(self, effect_type: type) -> EffectHandler | None:
        try:
            return self._resolved[effect_type]
        except KeyError:
            pass
        found = None
        for klass in effect_type.__mro__:
            found = self._handlers.get(klass)
            if found is not None:
                break
        self._resolved[effect_type] = found
        return found

    def dispatch(self, effects: Iterable[object], now: float) -> None:
        resolved = self._resolved
        for effect in effects:
            kind = type(effect)
            handler = resolved.get(kind, _UNRESOLVED)
            if handler is _UNRESOLVED:
                handler = self.handler_for(kind)
            if handler is None:
                self.unhandled += 1
                log.error("no handler for effect %s; dropped", kind.__name__)
                continue
            try:
                handler(effect, now)
            except Exception:
                self.failed += 1
                log.exception("effect %s failed", kind.__name__)
