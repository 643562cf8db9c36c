"""siptm.runtime.server over real UDP sockets: dispatch, timer re-arming, coroutines,
failures reported back to the engine, bad input and engine bugs, clean shutdown."""

from __future__ import annotations

import asyncio
import logging
import socket
from dataclasses import dataclass

from runtime_helpers import FakeEngine, loopback_config, open_sockets, until, wait_for

from siptm.net import Address
from siptm.runtime.effects import RunCoroutine, Send
from siptm.runtime.server import Server


class UdpClient(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.inbox: asyncio.Queue[tuple[bytes, tuple]] = asyncio.Queue()
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        self.inbox.put_nowait((data, addr))

    @property
    def address(self) -> Address:
        host, port = self.transport.get_extra_info("sockname")[:2]
        return Address("udp", host, port)


async def udp_client() -> UdpClient:
    loop = asyncio.get_running_loop()
    _, proto = await loop.create_datagram_endpoint(UdpClient, local_addr=("127.0.0.1", 0))
    return proto


def start(engine_box: list, **kwargs) -> Server:
    def factory(info):
        engine = FakeEngine(info, **kwargs)
        engine_box.append(engine)
        return engine

    return Server(loopback_config("udp:127.0.0.1:0"), factory)


def test_udp_echo_with_source_and_local():
    async def main():
        box: list[FakeEngine] = []
        async with start(box) as server:
            engine = box[0]
            (listener,) = server.listeners
            assert listener.transport == "udp" and listener.port != 0
            assert engine.info.listeners == (listener,) and engine.info.worker_id == 0
            endpoint = server.transports.udp[0]  # the loop calls the receiver directly
            assert endpoint.datagram_received == endpoint.receiver.datagram_received
            client = await udp_client()
            client.transport.sendto(b"hello", (listener.host, listener.port))
            data, source, local, now = await wait_for(engine.inbox.get())
            assert (data, source, local) == (b"hello", client.address, listener)
            assert abs(now - asyncio.get_running_loop().time()) < 1
            reply, addr = await wait_for(client.inbox.get())
            assert reply == b"hello" and addr[1] == listener.port
            client.transport.close()

    asyncio.run(main())


def test_engine_exception_is_logged_and_the_next_message_still_works(caplog):
    def on_receive(data, source, local, now):
        if data == b"boom":
            raise RuntimeError("engine bug")
        return [Send(b"ok:" + data, source)]

    async def main():
        box: list[FakeEngine] = []
        async with start(box, on_receive=on_receive) as server:
            client = await udp_client()
            dest = (server.listeners[0].host, server.listeners[0].port)
            client.transport.sendto(b"boom", dest)
            client.transport.sendto(b"x", dest)
            reply, _ = await wait_for(client.inbox.get())
            assert reply == b"ok:x"
            assert server.engine_failures == 1
            client.transport.close()

    with caplog.at_level(logging.ERROR, logger="siptm.runtime"):
        asyncio.run(main())
    assert "engine failed on a message" in caplog.text and "engine bug" in caplog.text


def test_many_garbage_datagrams_never_stop_the_server():
    def on_receive(data, source, local, now):
        if not data.startswith(b"OK"):
            raise ValueError("garbage")
        return [Send(b"fine", source)]

    async def main():
        box: list[FakeEngine] = []
        async with start(box, on_receive=on_receive) as server:
            client = await udp_client()
            dest = (server.listeners[0].host, server.listeners[0].port)
            inbox = box[0].inbox
            for i in range(300):
                client.transport.sendto(bytes([i % 256]) * (i + 1), dest)
                if i % 50 == 49:  # pace the burst: the socket buffer is finite
                    for _ in range(50):
                        await wait_for(inbox.get())
            client.transport.sendto(b"OK", dest)
            reply, _ = await wait_for(client.inbox.get())
            assert reply == b"fine"
            assert server.engine_failures == 300
            client.transport.close()

    logging.getLogger("siptm.runtime").setLevel(logging.CRITICAL)
    try:
        asyncio.run(main())
    finally:
        logging.getLogger("siptm.runtime").setLevel(logging.NOTSET)


def test_timer_fires_at_the_deadline_and_its_effects_are_sent():
    async def main():
        box: list[FakeEngine] = []
        async with start(box) as server:
            engine = box[0]
            client = await udp_client()
            loop = asyncio.get_running_loop()
            t0 = loop.time()
            when = t0 + 0.05
            engine.on_receive = lambda data, source, local, now: (
                engine.deadlines.append((when, [Send(b"timeout", source)])) or [])
            client.transport.sendto(b"arm", (server.listeners[0].host, server.listeners[0].port))
            reply, _ = await wait_for(client.inbox.get())
            assert reply == b"timeout"
            assert engine.timer_calls and engine.timer_calls[0] >= when
            assert loop.time() >= when
            client.transport.close()

    asyncio.run(main())


def test_an_earlier_deadline_replaces_the_armed_timer():
    async def main():
        box: list[FakeEngine] = []
        async with start(box) as server:
            engine = box[0]
            loop = asyncio.get_running_loop()
            client = await udp_client()
            dest = (server.listeners[0].host, server.listeners[0].port)
            late, early = loop.time() + 30.0, loop.time() + 0.05

            def on_receive(data, source, local, now):
                when = late if data == b"late" else early
                engine.deadlines.append((when, [Send(data, source)]))
                engine.deadlines.sort(key=lambda d: d[0])
                return []

            engine.on_receive = on_receive
            client.transport.sendto(b"late", dest)
            await wait_for(engine.inbox.get())
            assert server._timer is not None and late <= server._timer_when < late + 0.011
            client.transport.sendto(b"early", dest)
            reply, _ = await wait_for(client.inbox.get())
            assert reply == b"early"
            # after the early one fired, the late one is armed again
            assert server._timer is not None and late <= server._timer_when < late + 0.011
            client.transport.close()

    asyncio.run(main())


def test_coroutine_effect_result_and_error_come_back_through_on_done():
    async def main():
        box: list[FakeEngine] = []
        async with start(box) as server:
            engine = box[0]
            client = await udp_client()
            dest = (server.listeners[0].host, server.listeners[0].port)
            outcomes = []

            async def work(data):
                await asyncio.sleep(0)
                if data == b"fail":
                    raise LookupError("no such user")
                return data.upper()

            def on_receive(data, source, local, now):
                def on_done(result, error, done_now):
                    outcomes.append((result, error, done_now >= now))
                    return [Send(repr((result, type(error).__name__)).encode(), source)]

                return [RunCoroutine(work(data), on_done, name="route")]

            engine.on_receive = on_receive
            client.transport.sendto(b"abc", dest)
            reply, _ = await wait_for(client.inbox.get())
            assert reply == b"(b'ABC', 'NoneType')"
            client.transport.sendto(b"fail", dest)
            reply, _ = await wait_for(client.inbox.get())
            assert reply == b"(None, 'LookupError')"
            assert outcomes[0][2] and isinstance(outcomes[1][1], LookupError)
            client.transport.close()

    asyncio.run(main())


def test_coroutines_still_running_are_cancelled_at_close():
    async def main():
        box: list[FakeEngine] = []
        started = asyncio.Event()
        cancelled = asyncio.Event()

        async def forever():
            started.set()
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                cancelled.set()
                raise

        called = []
        server = start(box, on_receive=lambda *a: [
            RunCoroutine(forever(), lambda *r: called.append(r))])
        await server.start()
        client = await udp_client()
        client.transport.sendto(b"x", (server.listeners[0].host, server.listeners[0].port))
        await wait_for(started.wait())
        await server.close()
        assert cancelled.is_set() and called == []
        client.transport.close()

    asyncio.run(main())


@dataclass(frozen=True)
class Custom:
    value: int


def test_custom_effect_types_are_dispatched_through_the_registry(caplog):
    async def main():
        seen = []
        box: list[FakeEngine] = []

        def factory(info):
            info.effects.register(Custom, lambda effect, now: seen.append(effect.value))
            engine = FakeEngine(info, on_receive=lambda *a: [Custom(7), object(), Custom(8)])
            box.append(engine)
            return engine

        async with Server(loopback_config(), factory) as server:
            client = await udp_client()
            client.transport.sendto(b"x", (server.listeners[0].host, server.listeners[0].port))
            await wait_for(box[0].inbox.get())
            assert seen == [7, 8]
            assert server.effects.unhandled == 1
            client.transport.close()

    with caplog.at_level(logging.ERROR, logger="siptm.runtime"):
        asyncio.run(main())
    assert "no handler for effect object" in caplog.text


def test_send_failures_are_reported_to_the_engine():
    async def main():
        box: list[FakeEngine] = []
        async with start(box, on_receive=lambda *a: []) as server:
            engine = box[0]
            # a TCP port with nobody listening
            probe = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
            dead_port = probe.sockets[0].getsockname()[1]
            probe.close()
            await probe.wait_closed()
            cases = [
                Address("tcp", "127.0.0.1", dead_port),
                Address("udp", "no-such-host.invalid", 5060),
                Address("udp", "::1", 5060),  # no IPv6 UDP listener
            ]
            server.apply(lambda now: [Send(b"x", dest) for dest in cases])
            reported = {}
            for _ in cases:
                dest, error, _ = await wait_for(engine.errors.get())
                reported[dest] = error
            assert "connect failed" in reported[cases[0]]
            assert "cannot resolve" in reported[cases[1]]
            assert "no udp listener" in reported[cases[2]]
            assert server.transport_errors == 3

    asyncio.run(main())


def test_a_send_with_its_own_on_error_reports_there_not_to_the_engine():
    async def main():
        box: list[FakeEngine] = []
        async with start(box, on_receive=lambda *a: []) as server:
            client = await udp_client()
            got = []

            def on_error(dest, error, now):
                got.append((dest, error))
                return [Send(b"after-error", client.address)]

            bad = Address("udp", "no-such-host.invalid", 5060)
            server.apply(lambda now: [Send(b"x", bad, on_error=on_error)])
            data, _ = await wait_for(client.inbox.get())
            assert data == b"after-error"
            assert got[0][0] == bad and "cannot resolve" in got[0][1]
            assert box[0].errors.empty()
            client.transport.close()

    asyncio.run(main())


def test_host_names_are_resolved_before_sending():
    async def main():
        box: list[FakeEngine] = []
        async with start(box, on_receive=lambda *a: []) as server:
            client = await udp_client()
            port = client.address.port
            server.apply(lambda now: [Send(b"via-name", Address("udp", "localhost", port))])
            data, _ = await wait_for(client.inbox.get())
            assert data == b"via-name"
            client.transport.close()

    asyncio.run(main())


def test_close_releases_every_socket_and_calls_engine_shutdown():
    async def main():
        before = open_sockets()
        box: list[FakeEngine] = []
        cfg = loopback_config("udp:127.0.0.1:0", "tcp:127.0.0.1:0")
        server = Server(cfg, lambda info: box.append(FakeEngine(info)) or box[-1])
        await server.start()
        assert len(open_sockets() - before) == 2
        # an accepted connection and one we open ourselves
        tcp = next(a for a in server.listeners if a.transport == "tcp")
        reader, writer = await asyncio.open_connection(tcp.host, tcp.port)
        accepted: list[asyncio.StreamWriter] = []
        peer = await asyncio.start_server(lambda r, w: accepted.append(w), "127.0.0.1", 0)
        peer_port = peer.sockets[0].getsockname()[1]
        server.apply(lambda now: [Send(b"x", Address("tcp", "127.0.0.1", peer_port))])
        await until(lambda: len(server.transports.stream._live) == 2)
        ours = open_sockets() - before
        await until(lambda: len(accepted) == 1)
        assert len(ours) == 2 + 2 + 3  # udp, tcp listener, 2 connections; the test's 3
        await server.close()
        # every socket of the server is closed once close() returns
        assert len(open_sockets() - before) == 3
        # the test's own ends: our client, the peer's listener and its accepted end
        assert await wait_for(reader.read()) == b""  # the server closed its side
        for w in (writer, *accepted):
            w.close()
        peer.close()
        await peer.wait_closed()
        await until(lambda: not (open_sockets() & ours))
        assert box[0].shutdown_called
        assert server._timer is None

    asyncio.run(main())


def test_bind_failure_raises_and_leaves_nothing_open():
    async def main():
        first = Server(loopback_config("udp:127.0.0.1:0"), FakeEngine)
        await first.start()
        port = first.listeners[0].port
        before = open_sockets()
        second = Server(loopback_config("tcp:127.0.0.1:0", f"udp:127.0.0.1:{port}"), FakeEngine)
        try:
            await second.start()
        except OSError:
            pass
        else:
            raise AssertionError("expected EADDRINUSE")
        await until(lambda: open_sockets() <= before)
        await first.close()

    asyncio.run(main())


def test_a_burst_of_datagrams_arrives_complete_and_in_order():
    async def main():
        box: list[FakeEngine] = []
        async with start(box, on_receive=lambda *a: []) as server:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                for i in range(100):  # queued on the socket before the loop reads any
                    s.sendto(b"%d" % i, (server.listeners[0].host, server.listeners[0].port))
                got = [(await wait_for(box[0].inbox.get()))[0] for _ in range(100)]
            assert got == [b"%d" % i for i in range(100)]

    asyncio.run(main())


def test_workers_can_share_a_port_with_reuse_port():
    async def main():
        first = Server(loopback_config("udp:127.0.0.1:0"), FakeEngine, worker_id=0,
                       reuse_port=True)
        await first.start()
        port = first.listeners[0].port
        second = Server(loopback_config(f"udp:127.0.0.1:{port}"), FakeEngine, worker_id=1,
                        reuse_port=True)
        await second.start()
        assert second.listeners[0].port == port
        assert second.engine.info.worker_id == 1
        await second.close()
        await first.close()

    asyncio.run(main())


def test_udp_receive_buffer_is_maxbuffer_or_the_system_default():
    async def buffer_of(**transport: int) -> int:
        def factory(info):
            return FakeEngine(info)

        async with Server(loopback_config("udp:127.0.0.1:0", **transport), factory) as server:
            return server.transports.udp[0].sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)

    system = asyncio.run(buffer_of(maxbuffer=0))
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    assert system == probe.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
    probe.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    granted = probe.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)  # capped by rmem_max
    probe.close()
    assert asyncio.run(buffer_of()) == granted  # the default asks for 4 MiB
    assert granted > system
