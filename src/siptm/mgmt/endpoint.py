"""The management endpoint: JSON-RPC 2.0 datagrams on a loopback UDP socket.

Rules of this module: one asyncio datagram endpoint per worker, owned by the runtime
:class:`~siptm.runtime.server.Server`. Each datagram is answered from inside the event
loop that runs the engine (no threads, no locks): what a method reads is the state
between two engine calls. The answer goes back to the datagram's source.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from ..net import Address
from .methods import build_dispatcher
from .rpc import Dispatcher

__all__ = ["MgmtEndpoint", "start_endpoint"]

log = logging.getLogger("siptm.mgmt")


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, dispatcher: Dispatcher) -> None:
        self.dispatcher = dispatcher
        self.transport: asyncio.DatagramTransport | None = None
        self.requests = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.requests += 1
        answer = self.dispatcher.handle(data)
        if answer is not None and self.transport is not None:
            self.transport.sendto(answer, addr)

    def error_received(self, exc: Exception) -> None:
        log.debug("management socket error: %s", exc)


class MgmtEndpoint:
    """A bound management socket; ``close()`` releases it."""

    def __init__(self, transport: asyncio.DatagramTransport, protocol: _Protocol) -> None:
        self._transport = transport
        self.protocol = protocol
        sock = transport.get_extra_info("sockname")
        self.address = Address("udp", sock[0], sock[1])

    @property
    def dispatcher(self) -> Dispatcher:
        return self.protocol.dispatcher

    def close(self) -> None:
        self._transport.close()


async def start_endpoint(server: Any, address: Address,
                         dispatcher: Dispatcher | None = None) -> MgmtEndpoint:
    """Bind ``address`` (UDP) and answer JSON-RPC requests about ``server``'s engine."""
    loop = asyncio.get_running_loop()
    protocol = _Protocol(dispatcher or build_dispatcher(server))
    transport, _ = await loop.create_datagram_endpoint(
        lambda: protocol, local_addr=(address.host, address.port))
    endpoint = MgmtEndpoint(transport, protocol)  # type: ignore[arg-type]
    log.info("management interface on %s (JSON-RPC 2.0)", endpoint.address)
    return endpoint
