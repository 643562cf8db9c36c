"""TCP and TLS: listeners, a connection table, framing, keep-alives, idle timeout.

Rules of this module: every connection, accepted or opened, gets one
:class:`~siptm.sip.StreamFramer` and an integer id; each framed message is handed up
with a source ``Address(transport, peer_host, peer_port, connection=id)`` so a response
can go back over the same connection. A double-CRLF ping is answered with a CRLF pong
(RFC 5626 §4.4.1). A framing error closes the connection (the stream cannot be
resynchronised). Connections are kept in a table keyed by the peer's address and reused
for any message to that address; a connection to a new address is opened on demand,
with messages queued until it is up, and its failure reported for each of them. A
connection idle for ``idle_timeout`` seconds is closed by a periodic sweep.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import socket
import ssl
from collections.abc import Callable

from ..errors import ParseError
from ..net import Address
from ..sip.parse import PING, PONG, StreamFramer

__all__ = ["StreamConnection", "StreamTransports"]

log = logging.getLogger("siptm.runtime.stream")

MessageCallback = Callable[[bytes, Address, Address], None]
ErrorCallback = Callable[[Address, str, object], None]


class StreamConnection(asyncio.Protocol):
    """One TCP or TLS connection (accepted or opened by us)."""

    def __init__(self, manager: StreamTransports, transport_name: str, local: Address | None,
                 remote: Address | None = None) -> None:
        self.manager = manager
        self.name = transport_name
        self.id = manager._next_id()
        self.local = local
        self.remote = remote  # known up front for outgoing connections
        self.transport: asyncio.Transport | None = None
        self.framer = StreamFramer(manager.max_header_bytes, manager.max_body_bytes)
        self.pending: list[tuple[bytes, object]] | None = None  # queued while connecting
        self.last_activity = manager.loop.time()
        self.closed = False

    @property
    def usable(self) -> bool:
        return not self.closed and (
            (self.transport is None and self.pending is not None)
            or (self.transport is not None and not self.transport.is_closing())
        )

    # --- asyncio protocol -----------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        peer = transport.get_extra_info("peername")
        if self.remote is None:
            self.remote = Address(self.name, peer[0], peer[1], self.id)
        if self.local is None:
            sockname = transport.get_extra_info("sockname")
            self.local = Address(self.name, sockname[0], sockname[1])
        self.manager._live.add(self)
        if not self.manager._register(self):
            transport.close()
            return
        pending, self.pending = self.pending, None
        for data, _ in pending or ():
            self.transport.write(data)

    def data_received(self, data: bytes) -> None:
        self.last_activity = self.manager.loop.time()
        try:
            frames = self.framer.feed(data)
        except ParseError as exc:
            log.info("%s from %s: %s; closing the connection", self.name, self.remote, exc)
            self.manager.framing_errors += 1
            self.close()
            return
        on_message = self.manager._on_message
        for frame in frames:
            if frame is PING or frame == PING:
                if self.transport is not None:
                    self.transport.write(PONG)
                continue
            on_message(frame, self.remote, self.local)  # type: ignore[arg-type]
        broken = self.framer.broken
        if broken is not None:  # a bad message after good ones: those were handled
            log.info("%s from %s: %s; closing the connection", self.name, self.remote,
                     broken)
            self.manager.framing_errors += 1
            self.close()

    def eof_received(self) -> bool | None:
        return False  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.transport = None
        self.manager._unregister(self)
        self.manager._lost(self)

    # --- ours -------------------------------------------------------------------------------
    def write(self, data: bytes, token: object = None) -> None:
        self.last_activity = self.manager.loop.time()
        if self.transport is None:
            assert self.pending is not None
            self.pending.append((data, token))
        else:
            self.transport.write(data)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
        self.closed = True
        self.manager._unregister(self)


class StreamTransports:
    """The TCP/TLS side of a worker: listeners plus the shared connection table."""

    def __init__(
        self,
        on_message: MessageCallback,
        on_error: ErrorCallback,
        *,
        server_ssl: ssl.SSLContext | None = None,
        client_ssl: ssl.SSLContext | None = None,
        idle_timeout: float = 120.0,
        connect_timeout: float = 10.0,
        max_connections: int = 2048,
        max_header_bytes: int = 65536,
        max_body_bytes: int = 1 << 20,
    ) -> None:
        self.loop = asyncio.get_running_loop()
        self._on_message = on_message
        self._on_error = on_error
        self.server_ssl = server_ssl
        self.client_ssl = client_ssl
        self.idle_timeout = idle_timeout
        self.connect_timeout = connect_timeout
        self.max_connections = max_connections
        self.max_header_bytes = max_header_bytes
        self.max_body_bytes = max_body_bytes
        self.listeners: list[Address] = []
        self._servers: list[asyncio.AbstractServer] = []
        self._ids = itertools.count(1)
        self.by_id: dict[int, StreamConnection] = {}
        self.by_remote: dict[Address, StreamConnection] = {}
        self._connecting: set[asyncio.Task] = set()
        self._sweeper: asyncio.TimerHandle | None = None
        self.framing_errors = 0
        self._closing = False
        self._live: set[StreamConnection] = set()  # connections whose socket is open
        self._all_lost: asyncio.Future[None] | None = None

    def _next_id(self) -> int:
        return next(self._ids)

    # --- listening --------------------------------------------------------------------------
    async def listen(self, local: Address, *, reuse_port: bool = False) -> Address:
        """Listen on ``local`` (``tcp`` or ``tls``); returns the bound address."""
        name = local.transport
        if name == "tls" and self.server_ssl is None:
            raise ValueError("a tls listener needs a certificate and private key")
        family = socket.AF_INET6 if ":" in local.host else socket.AF_INET
        server = await self.loop.create_server(
            lambda: StreamConnection(self, name, None),
            local.host, local.port, family=family, reuse_address=True,
            reuse_port=reuse_port or None,
            ssl=self.server_ssl if name == "tls" else None,
            ssl_handshake_timeout=self.connect_timeout if name == "tls" else None,
            backlog=1024,
        )
        port = server.sockets[0].getsockname()[1]
        bound = Address(name, local.host, port)
        self._servers.append(server)
        self.listeners.append(bound)
        self._arm_sweeper()
        return bound

    def local_for(self, transport: str, host: str) -> Address | None:
        """The listener a connection we open speaks for (same transport and family)."""
        v6 = ":" in host
        for addr in self.listeners:
            if addr.transport == transport and (":" in addr.host) == v6:
                return addr
        return None

    # --- the table --------------------------------------------------------------------------
    def _register(self, conn: StreamConnection) -> bool:
        if self._closing:
            return False
        if conn.id not in self.by_id:
            if len(self.by_id) >= self.max_connections:
                log.warning("%s: %d connections open; refusing %s", conn.name,
                            len(self.by_id), conn.remote)
                return False
            self.by_id[conn.id] = conn
        key = conn.remote
        assert key is not None
        self.by_remote.setdefault(key, conn)
        return True

    def _unregister(self, conn: StreamConnection) -> None:
        self.by_id.pop(conn.id, None)
        if conn.remote is not None and self.by_remote.get(conn.remote) is conn:
            del self.by_remote[conn.remote]

    def _lost(self, conn: StreamConnection) -> None:
        self._live.discard(conn)
        if not self._live and self._all_lost is not None and not self._all_lost.done():
            self._all_lost.set_result(None)

    def lookup(self, dest: Address) -> StreamConnection | None:
        """The usable connection for ``dest``: by its id first, then by its address."""
        if dest.connection is not None:
            conn = self.by_id.get(dest.connection)
            if conn is not None and conn.usable:
                return conn
        conn = self.by_remote.get(dest)
        if conn is not None and conn.usable:
            return conn
        return None

    # --- sending ----------------------------------------------------------------------------
    def send(self, data: bytes, dest: Address, token: object = None) -> None:
        """Write ``data`` to ``dest`` (an IP literal), opening a connection if needed.
        A failure is reported as ``on_error(dest, reason, token)``."""
        conn = self.lookup(dest)
        if conn is None:
            if self._closing:
                self._on_error(dest, "shutting down", token)
                return
            conn = self._open(dest)
        conn.write(data, token)

    def _open(self, dest: Address) -> StreamConnection:
        name = dest.transport
        remote = Address(name, dest.host, dest.port)
        conn = StreamConnection(self, name, self.local_for(name, dest.host), remote)
        conn.pending = []
        conn.remote = Address(name, dest.host, dest.port, conn.id)
        self.by_id[conn.id] = conn
        self.by_remote[remote] = conn
        task = self.loop.create_task(self._connect(conn))
        self._connecting.add(task)
        task.add_done_callback(self._connecting.discard)
        return conn

    async def _connect(self, conn: StreamConnection) -> None:
        remote = conn.remote
        assert remote is not None
        tls = remote.transport == "tls"
        if tls and self.client_ssl is None:
            self._fail(conn, "no TLS client context")
            return
        try:
            await asyncio.wait_for(
                self.loop.create_connection(
                    lambda: conn, remote.host, remote.port,
                    ssl=self.client_ssl if tls else None,
                    server_hostname=(remote.host if tls else None),
                    ssl_handshake_timeout=self.connect_timeout if tls else None,
                ),
                self.connect_timeout,
            )
        except asyncio.CancelledError:
            self._fail(conn, "shutting down")
            raise
        except (TimeoutError, OSError, ssl.SSLError) as exc:
            reason = "connect timeout" if isinstance(exc, TimeoutError) else (
                f"connect failed: {getattr(exc, 'strerror', None) or exc}")
            self._fail(conn, reason)

    def _fail(self, conn: StreamConnection, reason: str) -> None:
        pending, conn.pending = conn.pending or [], None
        conn.closed = True
        self._unregister(conn)
        dest = Address(conn.name, conn.remote.host, conn.remote.port)  # type: ignore[union-attr]
        log.info("%s %s: %s", conn.name, dest, reason)
        for _, token in pending:
            self._on_error(dest, reason, token)

    # --- idle sweep -------------------------------------------------------------------------
    def _arm_sweeper(self) -> None:
        if self._sweeper is None and not self._closing:
            interval = min(max(self.idle_timeout / 4, 0.05), 5.0)
            self._sweeper = self.loop.call_later(interval, self._sweep)

    def _sweep(self) -> None:
        self._sweeper = None
        limit = self.loop.time() - self.idle_timeout
        for conn in list(self.by_id.values()):
            if conn.last_activity < limit and conn.transport is not None:
                log.debug("%s %s idle; closing", conn.name, conn.remote)
                conn.close()
        self._arm_sweeper()

    # --- shutdown ---------------------------------------------------------------------------
    def close(self) -> None:
        self._closing = True
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        for server in self._servers:
            server.close()
        for task in list(self._connecting):
            task.cancel()
        for conn in list(self.by_id.values()):
            if conn.transport is not None:
                conn.transport.abort() if conn.name == "tls" else conn.transport.close()
            conn.closed = True
        self.by_id.clear()
        self.by_remote.clear()

    async def wait_closed(self, timeout: float = 2.0) -> None:
        """Wait until every socket is closed (aborting those still open after ``timeout``)."""
        if self._connecting:
            await asyncio.gather(*self._connecting, return_exceptions=True)
        if self._live:
            self._all_lost = self.loop.create_future()
            try:
                await asyncio.wait_for(asyncio.shield(self._all_lost), timeout)
            except TimeoutError:
                for conn in list(self._live):
                    if conn.transport is not None:
                        conn.transport.abort()
                self._live.clear()
        for server in self._servers:
            await server.wait_closed()
        self._servers.clear()
