"""The clock the runtime gives an engine: the event loop's monotonic time.

Rules of this module: one protocol, ``now()`` and ``call_at(when, callback)``, both on
the loop's clock (seconds, float, monotonic, the same value every entry point of the
engine receives as ``now``). Tests may pass any object with these two methods.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Protocol

__all__ = ["Cancellable", "Clock", "LoopClock"]


class Cancellable(Protocol):
    def cancel(self) -> None: ...


class Clock(Protocol):
    def now(self) -> float: ...

    def call_at(self, when: float, callback: Callable[[], object]) -> Cancellable: ...


class LoopClock:
    """:class:`Clock` on an asyncio event loop (``loop.time()`` / ``loop.call_at``)."""

    __slots__ = ("_loop",)

    def __init__(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self._loop = loop or asyncio.get_running_loop()

    def now(self) -> float:
        return self._loop.time()

    def call_at(self, when: float, callback: Callable[[], object]) -> asyncio.TimerHandle:
        return self._loop.call_at(when, callback)
