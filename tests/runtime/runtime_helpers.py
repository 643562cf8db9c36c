"""Helpers for the runtime tests: a recording fake engine, loopback configs, bounded waits."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterable
from dataclasses import replace

from siptm.config import Config, TransportSettings
from siptm.net import Address
from siptm.runtime.effects import Send
from siptm.runtime.server import RuntimeInfo

WAIT = 5.0  # upper bound for anything a test waits for on loopback


class FakeEngine:
    """Records every call. ``on_receive(data, source, local, now)`` decides the effects
    (default: echo the data back to its source); ``deadlines`` is a sorted list of
    ``(when, effects)`` handed out by ``handle_timers``."""

    def __init__(self, info: RuntimeInfo,
                 on_receive: Callable[..., Iterable[object] | None] | None = None) -> None:
        self.info = info
        self.on_receive = on_receive or (lambda data, source, local, now: [Send(data, source)])
        self.inbox: asyncio.Queue[tuple[bytes, Address, Address, float]] = asyncio.Queue()
        self.errors: asyncio.Queue[tuple[Address, str, float]] = asyncio.Queue()
        self.timer_calls: list[float] = []
        self.deadlines: list[tuple[float, list[object]]] = []
        self.shutdown_called = False

    def receive(self, data, source, local, now):
        self.inbox.put_nowait((data, source, local, now))
        return self.on_receive(data, source, local, now)

    def handle_timers(self, now):
        self.timer_calls.append(now)
        due = [d for d in self.deadlines if d[0] <= now]
        self.deadlines = [d for d in self.deadlines if d[0] > now]
        return [e for _, effects in due for e in effects]

    def next_deadline(self):
        return self.deadlines[0][0] if self.deadlines else None

    def transport_error(self, dest, error, now):
        self.errors.put_nowait((dest, error, now))
        return []

    def shutdown(self, now):
        self.shutdown_called = True
        return []


def loopback_config(*listen: str, **transport: int) -> Config:
    from siptm.core.sip_transport import parse_hostport_target

    cfg = Config.default()
    addrs = tuple(parse_hostport_target(t) for t in (listen or ("udp:127.0.0.1:0",)))
    return replace(cfg, listen=addrs, transport=replace(TransportSettings(), **transport))


def open_sockets() -> set[str]:
    """The socket inodes this process holds open."""
    out = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:"):
            out.add(target)
    return out


async def wait_for(coro, timeout: float = WAIT):
    return await asyncio.wait_for(coro, timeout)


async def until(predicate: Callable[[], bool], timeout: float = WAIT) -> None:
    """Bounded polling for a condition on real sockets."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not predicate():
        if loop.time() > end:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)
