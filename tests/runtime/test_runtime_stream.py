"""TCP and TLS on loopback: framing (byte by byte), keep-alive pings, framing errors,
replies over the same connection, connection reuse, idle timeout, TLS both ways."""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import replace

from runtime_helpers import FakeEngine, loopback_config, until, wait_for

from siptm.config import TlsSettings
from siptm.net import Address
from siptm.runtime.effects import Send
from siptm.runtime.server import Server

MSG = (
    b"OPTIONS sip:a@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:5999;branch=z9hG4bKs\r\n"
    b"From: <sip:b@x>;tag=1\r\nTo: <sip:a@x>\r\nCall-ID: s1\r\nCSeq: 1 OPTIONS\r\n"
    b"Content-Length: 4\r\n\r\nbody"
)


def server_for(*listen: str, on_receive=None, tls: TlsSettings | None = None,
               idle_timeout: float | None = None, **transport) -> tuple[Server, list]:
    box: list[FakeEngine] = []
    cfg = loopback_config(*listen, **transport)
    if tls is not None:
        cfg = replace(cfg, tls=tls)

    def factory(info):
        box.append(FakeEngine(info, on_receive))
        return box[-1]

    return Server(cfg, factory, idle_timeout=idle_timeout), box


def listener(server: Server, transport: str) -> Address:
    return next(a for a in server.listeners if a.transport == transport)


def test_tcp_byte_by_byte_framing_and_reply_on_the_same_connection():
    async def main():
        server, box = server_for("tcp:127.0.0.1:0")
        async with server:
            lst = listener(server, "tcp")
            reader, writer = await asyncio.open_connection(lst.host, lst.port)
            for i in range(len(MSG)):
                writer.write(MSG[i:i + 1])
                await writer.drain()
            data, source, local, _ = await wait_for(box[0].inbox.get())
            assert data == MSG and local == lst
            assert source.transport == "tcp" and source.connection is not None
            assert (source.host, source.port) == writer.get_extra_info("sockname")[:2]
            # the echo went back over this very connection
            assert await wait_for(reader.readexactly(len(MSG))) == MSG
            writer.close()

    asyncio.run(main())


def test_two_messages_in_one_segment_and_a_ping():
    async def main():
        server, box = server_for("tcp:127.0.0.1:0", on_receive=lambda *a: [])
        async with server:
            lst = listener(server, "tcp")
            reader, writer = await asyncio.open_connection(lst.host, lst.port)
            writer.write(MSG + b"\r\n\r\n" + MSG)
            assert (await wait_for(box[0].inbox.get()))[0] == MSG
            assert (await wait_for(box[0].inbox.get()))[0] == MSG
            assert await wait_for(reader.readexactly(2)) == b"\r\n"  # pong
            writer.close()

    asyncio.run(main())


def test_framing_error_closes_the_connection_and_the_server_goes_on():
    async def main():
        server, _box = server_for("tcp:127.0.0.1:0")
        async with server:
            lst = listener(server, "tcp")
            reader, writer = await asyncio.open_connection(lst.host, lst.port)
            writer.write(b"OPTIONS sip:a SIP/2.0\r\nVia: x\r\n\r\n")  # no Content-Length
            assert await wait_for(reader.read()) == b""
            writer.close()
            assert server.transports.stream.framing_errors == 1
            reader, writer = await asyncio.open_connection(lst.host, lst.port)
            writer.write(MSG)
            assert await wait_for(reader.readexactly(len(MSG))) == MSG
            writer.close()

    asyncio.run(main())


def test_a_good_message_before_a_framing_error_in_the_same_chunk_is_handled():
    async def main():
        server, _box = server_for("tcp:127.0.0.1:0")
        async with server:
            lst = listener(server, "tcp")
            reader, writer = await asyncio.open_connection(lst.host, lst.port)
            writer.write(MSG + b"OPTIONS sip:a SIP/2.0\r\nVia: x\r\n\r\n")  # 2nd: no CL
            assert await wait_for(reader.read()) == MSG  # answered, then closed
            writer.close()
            assert server.transports.stream.framing_errors == 1

    asyncio.run(main())


def test_outgoing_connection_is_opened_on_demand_and_reused_both_ways():
    async def main():
        accepted: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        peer = await asyncio.start_server(lambda r, w: accepted.append((r, w)), "127.0.0.1", 0)
        peer_addr = Address("tcp", "127.0.0.1", peer.sockets[0].getsockname()[1])
        server, box = server_for("tcp:127.0.0.1:0", on_receive=lambda *a: [])
        async with server:
            server.apply(lambda now: [Send(MSG, peer_addr), Send(MSG, peer_addr)])
            await until(lambda: len(accepted) == 1)
            reader, writer = accepted[0]
            assert await wait_for(reader.readexactly(2 * len(MSG))) == MSG + MSG
            # the peer answers on that connection: it arrives tagged with its id ...
            writer.write(MSG)
            data, source, local, _ = await wait_for(box[0].inbox.get())
            assert data == MSG and source == peer_addr and source.connection is not None
            assert local == listener(server, "tcp")
            # ... and a later send to the same address still uses it
            server.apply(lambda now: [Send(b"\r\n\r\n", peer_addr)])
            assert await wait_for(reader.readexactly(4)) == b"\r\n\r\n"
            assert len(accepted) == 1
            writer.close()
        peer.close()
        await peer.wait_closed()

    asyncio.run(main())


def test_reply_to_a_closed_connection_opens_one_to_the_fallback_address():
    async def main():
        accepted: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        peer = await asyncio.start_server(lambda r, w: accepted.append((r, w)), "127.0.0.1", 0)
        peer_port = peer.sockets[0].getsockname()[1]
        server, box = server_for("tcp:127.0.0.1:0", on_receive=lambda *a: [])
        async with server:
            lst = listener(server, "tcp")
            _reader, writer = await asyncio.open_connection(lst.host, lst.port)
            writer.write(MSG)
            _, source, _, _ = await wait_for(box[0].inbox.get())
            writer.close()
            await until(lambda: source.connection not in server.transports.stream.by_id)
            # what response_address() gives: the dead connection id, the sent-by fallback
            dest = Address("tcp", "127.0.0.1", peer_port, source.connection)
            server.apply(lambda now: [Send(MSG, dest)])
            await until(lambda: len(accepted) == 1)
            assert await wait_for(accepted[0][0].readexactly(len(MSG))) == MSG
            accepted[0][1].close()
        peer.close()
        await peer.wait_closed()

    asyncio.run(main())


def test_idle_connections_are_closed():
    async def main():
        server, _box = server_for("tcp:127.0.0.1:0", idle_timeout=0.2)
        async with server:
            lst = listener(server, "tcp")
            reader, writer = await asyncio.open_connection(lst.host, lst.port)
            writer.write(MSG)
            assert await wait_for(reader.readexactly(len(MSG))) == MSG
            assert await wait_for(reader.read(), 3.0) == b""  # closed by the sweep
            writer.close()
            assert not server.transports.stream.by_id

    asyncio.run(main())


def test_connection_limit():
    async def main():
        server, _box = server_for("tcp:127.0.0.1:0", tcp_max_connections=1)
        async with server:
            lst = listener(server, "tcp")
            r1, w1 = await asyncio.open_connection(lst.host, lst.port)
            w1.write(MSG)
            assert await wait_for(r1.readexactly(len(MSG))) == MSG
            r2, w2 = await asyncio.open_connection(lst.host, lst.port)
            assert await wait_for(r2.read()) == b""  # refused: closed at once
            w1.close()
            w2.close()

    asyncio.run(main())


def test_tls_listener_and_outgoing_tls(tls_files):
    cert, key = tls_files

    async def main():
        settings = TlsSettings(certificate=str(cert), private_key=str(key))
        server, box = server_for("tls:127.0.0.1:0", tls=settings)
        async with server:
            lst = listener(server, "tls")
            client_ctx = ssl.create_default_context(cafile=str(cert))  # verifies the cert
            reader, writer = await asyncio.open_connection(lst.host, lst.port, ssl=client_ctx)
            writer.write(MSG[:10])
            writer.write(MSG[10:] + b"\r\n\r\n")
            data, source, local, _ = await wait_for(box[0].inbox.get())
            assert data == MSG and source.transport == "tls" and local == lst
            assert await wait_for(reader.readexactly(len(MSG))) == MSG
            assert await wait_for(reader.readexactly(2)) == b"\r\n"
            writer.close()

            # siptm opening a TLS connection to a TLS peer
            peer_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            peer_ctx.load_cert_chain(str(cert), str(key))
            got: asyncio.Queue[bytes] = asyncio.Queue()

            async def handle(r, w):
                got.put_nowait(await r.readexactly(len(MSG)))
                w.close()

            peer = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=peer_ctx)
            dest = Address("tls", "127.0.0.1", peer.sockets[0].getsockname()[1])
            server.apply(lambda now: [Send(MSG, dest)])
            assert await wait_for(got.get()) == MSG
            peer.close()
            await peer.wait_closed()

    asyncio.run(main())


def test_tls_connect_to_a_plain_tcp_peer_reports_a_transport_error(tls_files):
    cert, key = tls_files

    async def main():
        async def handle(r, w):
            w.write(b"not tls at all\r\n" * 10)
            await w.drain()
            w.close()

        peer = await asyncio.start_server(handle, "127.0.0.1", 0)
        dest = Address("tls", "127.0.0.1", peer.sockets[0].getsockname()[1])
        server, box = server_for("udp:127.0.0.1:0",
                                 tls=TlsSettings(certificate=str(cert), private_key=str(key)))
        async with server:
            server.apply(lambda now: [Send(MSG, dest)])
            err_dest, error, _ = await wait_for(box[0].errors.get())
            assert err_dest == dest and "connect failed" in error
        peer.close()
        await peer.wait_closed()

    asyncio.run(main())
