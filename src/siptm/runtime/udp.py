"""UDP listeners: one datagram = one message, sent and received on the listening socket.

Rules of this module: the socket is created and bound here (``SO_REUSEPORT`` when asked,
for several worker processes on one port) and handed to asyncio; sends go straight to
``socket.sendto`` so that an immediate failure is reported with its destination
(asyncio's ``sendto`` would report it without one). A datagram that would block is
handed to the asyncio transport, which buffers it. Nothing here parses SIP.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable

from ..net import Address
from .pump import UdpReceiver, UdpSender

__all__ = ["MessageCallback", "UdpEndpoint", "open_udp"]

log = logging.getLogger("siptm.runtime.udp")

MessageCallback = Callable[[bytes, Address, Address], None]
BATCH = 64  # datagrams read per readiness event at most
ErrorCallback = Callable[[Address, str, object], None]


class UdpEndpoint(asyncio.DatagramProtocol):
    """One bound UDP socket; ``local`` is its address (with the real port).

    Receiving and sending are a :class:`~siptm.runtime.pump.UdpReceiver` and a
    :class:`~siptm.runtime.pump.UdpSender` (compiled with the core in the optional mypyc
    build): the loop calls the receiver's ``datagram_received`` directly.
    """

    def __init__(self, sock: socket.socket, local: Address, on_message: MessageCallback,
                 on_error: ErrorCallback, *, drain: bool = True) -> None:
        self.sock = sock
        self.local = local
        self.family = sock.family
        self._on_error = on_error
        self.transport: asyncio.DatagramTransport | None = None
        # asyncio's selector loop reads one datagram per readiness event, so we read on
        # while more are queued; libuv (uvloop) already reads until EAGAIN, where trying
        # again would only cost a failing syscall and an exception per datagram
        self.receiver = UdpReceiver(local, on_message, sock.recvfrom, BATCH if drain else 1,
                                    self._read_error, self._message_failed)
        self.sender = UdpSender(local, sock.family == socket.AF_INET6, sock.sendto,
                                self._buffered, on_error)
        # the loop looks the handler up on the protocol: an instance attribute wins
        self.datagram_received = self.receiver.datagram_received  # type: ignore[method-assign]

    @property
    def received(self) -> int:
        return self.receiver.received

    @property
    def sent(self) -> int:
        return self.sender.sent

    # --- asyncio protocol ------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def _read_error(self, exc: OSError) -> None:
        log.debug("udp %s: %s", self.local, exc)

    def _message_failed(self) -> None:
        log.exception("udp %s: a message could not be handled; dropped", self.local)

    def error_received(self, exc: Exception) -> None:
        # ICMP errors on an unconnected socket (or a buffered send that failed later):
        # the destination is unknown here, so it can only be logged.
        log.debug("udp %s: %s", self.local, exc)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None

    # --- sending --------------------------------------------------------------------------
    def send(self, data: bytes, dest: Address, token: object = None) -> None:
        self.sender.send(data, dest, token)

    def _buffered(self, data: bytes, dest: Address, token: object) -> bool:
        """The socket would block: the asyncio transport queues the datagram."""
        if self.transport is None:
            self._on_error(dest, "udp socket closed", token)
            return False
        self.transport.sendto(data, (dest.host, dest.port))
        return True

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
        else:
            self.sock.close()


def _bind(local: Address, reuse_port: bool, receive_buffer: int = 0) -> socket.socket:
    family = socket.AF_INET6 if ":" in local.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        if receive_buffer:
            # datagrams queue here while the loop is busy (a long route, a collection of
            # the cyclic GC): the system default (~200 KB) holds ~40 ms of traffic at
            # 1,000 calls/s, and a datagram lost there comes back as a retransmission
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
            except OSError as exc:
                log.warning("udp %s: receive buffer of %d bytes refused: %s", local,
                            receive_buffer, exc)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.setblocking(False)
        sock.bind((local.host, local.port))
    except BaseException:
        sock.close()
        raise
    return sock


async def open_udp(local: Address, on_message: MessageCallback, on_error: ErrorCallback,
                   *, reuse_port: bool = False, receive_buffer: int = 0) -> UdpEndpoint:
    """Bind ``local`` (port 0 picks a free port) and start receiving; ``receive_buffer``
    (bytes, 0: the system's default) is the socket's SO_RCVBUF."""
    loop = asyncio.get_running_loop()
    sock = _bind(local, reuse_port, receive_buffer)
    bound = Address("udp", local.host, sock.getsockname()[1])
    reads_until_empty = type(loop).__module__.startswith("uvloop")
    endpoint = UdpEndpoint(sock, bound, on_message, on_error, drain=not reads_until_empty)
    try:
        await loop.create_datagram_endpoint(lambda: endpoint, sock=sock)
    except BaseException:
        sock.close()
        raise
    return endpoint
