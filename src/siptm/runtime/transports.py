"""The transport manager: every listener of a worker behind one ``send(data, dest)``.

Rules of this module: ``send`` never raises and never blocks. It picks the UDP socket
(by ``local`` or address family) or the stream connection for the destination; a
destination whose host is a name is resolved first with the system resolver
(``loop.getaddrinfo``), asynchronously. Every failure (no listener for that transport,
unresolvable name, refused connection, connect timeout, ``sendto`` error) is reported
to ``on_error(dest, reason, token)`` with the destination exactly as it was given and
the ``token`` the caller passed to ``send`` (the server uses it for per-send callbacks).
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable, Sequence

from ..config import Config
from ..core.sip_transport import is_ip
from ..net import Address
from .stream import StreamTransports
from .tls import client_context, server_context
from .udp import UdpEndpoint, open_udp

__all__ = ["Transports"]

log = logging.getLogger("siptm.runtime")

MessageCallback = Callable[[bytes, Address, Address], None]
ErrorCallback = Callable[[Address, str, object], None]


class Transports:
    """UDP endpoints plus the TCP/TLS connection table of one worker."""

    def __init__(self, config: Config, on_message: MessageCallback, on_error: ErrorCallback,
                 *, reuse_port: bool = False, idle_timeout: float | None = None) -> None:
        self.loop = asyncio.get_running_loop()
        self.config = config
        self._on_message = on_message
        self._on_error = on_error
        self.reuse_port = reuse_port
        self.udp: list[UdpEndpoint] = []
        t = config.transport
        tls = config.tls
        self.stream = StreamTransports(
            on_message, on_error,
            server_ssl=server_context(tls),
            client_ssl=client_context(tls),
            idle_timeout=idle_timeout if idle_timeout is not None else t.tcp_connection_lifetime,
            connect_timeout=t.tcp_connect_timeout,
            max_connections=t.tcp_max_connections,
            max_header_bytes=t.max_header_bytes,
            max_body_bytes=t.max_body_bytes,
        )
        self.listeners: list[Address] = []
        self._resolving: set[asyncio.Task] = set()
        self._closed = False

    async def bind(self, addresses: Sequence[Address]) -> list[Address]:
        """Open every listener; returns their bound addresses (port 0 made real)."""
        bound: list[Address] = []
        try:
            for addr in addresses:
                if addr.transport == "udp":
                    endpoint = await open_udp(addr, self._on_message, self._on_error,
                                              receive_buffer=self.config.transport.maxbuffer,
                                              reuse_port=self.reuse_port)
                    self.udp.append(endpoint)
                    bound.append(endpoint.local)
                else:
                    bound.append(await self.stream.listen(addr, reuse_port=self.reuse_port))
        except BaseException:
            await self.close()
            raise
        self.listeners.extend(bound)
        return bound

    # --- sending ----------------------------------------------------------------------------
    def send(self, data: bytes, dest: Address, local: Address | None = None,
             token: object = None) -> None:
        if self._closed:
            return
        if dest.connection is not None and dest.transport != "udp":
            conn = self.stream.lookup(dest)  # the connection the request came on, if open
            if conn is not None:
                conn.write(data, token)
                return
        if not is_ip(dest.host):
            self._resolve_then_send(data, dest, local, token)
            return
        if dest.host.startswith("["):
            dest = Address(dest.transport, dest.host[1:-1], dest.port, dest.connection)
        if dest.transport == "udp":
            endpoint = self._udp_for(dest, local)
            if endpoint is None:
                self._on_error(dest, "no udp listener for this address family", token)
                return
            endpoint.send(data, dest, token)
        elif dest.transport in ("tcp", "tls"):
            self.stream.send(data, dest, token)
        else:
            self._on_error(dest, f"unsupported transport {dest.transport!r}", token)

    def _udp_for(self, dest: Address, local: Address | None) -> UdpEndpoint | None:
        udp = self.udp
        if local is not None:
            for endpoint in udp:  # the engine hands back our own listener objects
                if endpoint.local is local or endpoint.local == local:
                    return endpoint
        if len(udp) == 1:
            ep = udp[0]
            return ep if (ep.family == socket.AF_INET6) == (":" in dest.host) else None
        v6 = ":" in dest.host
        for endpoint in udp:
            if (endpoint.family == socket.AF_INET6) == v6:
                return endpoint
        return None

    def _resolve_then_send(self, data: bytes, dest: Address, local: Address | None,
                           token: object) -> None:
        task = self.loop.create_task(self._resolve(data, dest, local, token))
        self._resolving.add(task)
        task.add_done_callback(self._resolving.discard)

    async def _resolve(self, data: bytes, dest: Address, local: Address | None,
                       token: object) -> None:
        kind = socket.SOCK_DGRAM if dest.transport == "udp" else socket.SOCK_STREAM
        try:
            infos = await self.loop.getaddrinfo(dest.host, dest.port, type=kind)
        except (OSError, UnicodeError) as exc:
            self._on_error(dest, f"cannot resolve {dest.host}: {exc}", token)
            return
        families = {e.family for e in self.udp} if dest.transport == "udp" else None
        hosts = [info[4][0] for info in infos if families is None or info[0] in families]
        if not hosts:
            self._on_error(dest, f"{dest.host}: no address of a family we listen on", token)
            return
        resolved = Address(dest.transport, hosts[0], dest.port, dest.connection)
        if self._closed:
            return
        self.send(data, resolved, local, token)

    # --- shutdown ---------------------------------------------------------------------------
    async def close(self) -> None:
        """Close every socket and wait until they are closed."""
        self._closed = True
        for task in list(self._resolving):
            task.cancel()
        for endpoint in self.udp:
            endpoint.close()
        self.stream.close()
        if self._resolving:
            await asyncio.gather(*self._resolving, return_exceptions=True)
        await self.stream.wait_closed()
        # let the datagram transports run their close callbacks (they close the sockets)
        for _ in range(3):
            if all(ep.transport is None for ep in self.udp):
                break
            await asyncio.sleep(0)
