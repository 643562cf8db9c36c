"""The management interface of a real runtime Server with the stateful engine: the
seed 003 statistics, t_hash, t_list and reset_statistics after a transaction that a
routing script answered itself; and the ``[mgmt]`` configuration."""

from __future__ import annotations

import asyncio
import socket
from dataclasses import replace

import pytest

from siptm.config import Config, ConfigError, MgmtSettings
from siptm.core.engine import create_engine
from siptm.core.sip_transport import parse_hostport_target
from siptm.mgmt.client import RemoteError, call
from siptm.mgmt.methods import TM_STATISTICS
from siptm.runtime.server import Server

SCRIPT = """
from siptm.script import Router
router = Router()

@router.request
def route(msg, tm):
    tm.t_newtran()
    tm.t_reply(200, "Answered")
"""

OPTIONS = (
    "OPTIONS sip:me@127.0.0.1 SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bKmgmt1;rport\r\n"
    "Max-Forwards: 70\r\nFrom: <sip:t@127.0.0.1>;tag=1\r\nTo: <sip:me@127.0.0.1>\r\n"
    "Call-ID: mgmt-test-1\r\nCSeq: 7 OPTIONS\r\nContent-Length: 0\r\n\r\n"
)


def config(wt_timer: int = 60000) -> Config:
    return Config.from_mapping({
        "listen": ["udp:127.0.0.1:0"],
        "mgmt": {"listen": "udp:127.0.0.1:0"},
        "tm": {"wt_timer": wt_timer},
    })


async def ask(address, method, params=None):
    return await asyncio.to_thread(call, address, method, params, timeout=2.0)


def test_statistics_after_a_locally_answered_transaction(tmp_path):
    script = tmp_path / "routes.py"
    script.write_text(SCRIPT)

    async def main() -> None:
        server = Server(config(), lambda info: create_engine(info, str(script)))
        await server.start()
        try:
            mgmt = server.mgmt.address
            assert mgmt.port != 0
            before = await ask(mgmt, "tm.stats")
            assert list(before) == list(TM_STATISTICS)
            assert set(before.values()) == {0}

            sip = server.listeners[0]
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.bind(("127.0.0.1", 0))
                s.setblocking(False)
                data = OPTIONS.format(port=s.getsockname()[1]).encode()
                loop = asyncio.get_running_loop()
                for _ in range(2):  # the second copy is a retransmission
                    s.sendto(data, (sip.host, sip.port))
                    reply = await asyncio.wait_for(loop.sock_recv(s, 65535), 2)
                    assert reply.startswith(b"SIP/2.0 200 Answered")

            stats = await ask(mgmt, "tm.stats")
            assert stats["UAS_transactions"] == 1
            assert stats["inuse_transactions"] == 1  # waiting out wt_timer
            assert stats["local_replies"] >= 1
            assert stats["2xx_transactions"] == 1

            table = server.engine.engine.layer.table
            index = table.hash_index("mgmt-test-1", 7)
            hashed = await ask(mgmt, "t_hash")
            assert hashed["in_use"] == 1 and hashed["used_buckets"] == 1
            assert hashed["buckets"] == [{"index": index, "load": 1}]
            assert (await ask(mgmt, "t_hash", {"limit": 0}))["truncated"] is True
            assert (await ask(mgmt, "tm.hash_stats"))["max_load"] == 1

            listing = await ask(mgmt, "t_list")
            assert listing["in_use"] == 1
            (tx,) = listing["transactions"]
            assert tx["id"] == f"{index}:1"
            assert (tx["kind"], tx["method"], tx["call_id"]) == (
                "server", "OPTIONS", "mgmt-test-1")
            assert tx["state"] == "COMPLETED" and tx["last_status"] == 200
            assert tx["timer"] == "J" and 0 < tx["fires_in"] <= 60

            picked = await ask(mgmt, "get_statistics", ["tm:inuse_transactions", "core:"])
            assert picked["tm:inuse_transactions"] == 1
            assert picked["core:received_messages"] == 2
            assert picked["core:engine_failures"] == 0
            assert (await ask(mgmt, "get_statistics", {"statistics": "absorbed_requests"})
                    ) == {"siptm:absorbed_requests": 1}
            everything = await ask(mgmt, "get_statistics", ["all"])
            assert everything["tm:UAS_transactions"] == 1

            reset = await ask(mgmt, "reset_statistics", ["tm:"])
            assert "tm:inuse_transactions" not in reset and "tm:UAS_transactions" in reset
            after = await ask(mgmt, "tm.stats")
            assert after["UAS_transactions"] == 0 and after["inuse_transactions"] == 1

            with pytest.raises(RemoteError) as err:
                await ask(mgmt, "get_statistics", ["tm:nothing"])
            assert err.value.code == -32602
            with pytest.raises(RemoteError) as err:
                await ask(mgmt, "no.such.method")
            assert err.value.code == -32601
            assert "t_hash" in await ask(mgmt, "which")
            assert (await ask(mgmt, "uptime"))["uptime"] >= 0
        finally:
            await server.close()
        # closed: nobody answers any more
        with pytest.raises(TimeoutError):
            call(mgmt, "uptime", timeout=0.3)

    asyncio.run(main())


def test_a_stateless_engine_has_no_tm_statistics():
    class Echo:
        def receive(self, *a):
            return []

        def handle_timers(self, now):
            return []

        def next_deadline(self):
            return None

        def transport_error(self, *a):
            return []

    async def main() -> None:
        server = Server(config(), lambda info: Echo())
        await server.start()
        try:
            with pytest.raises(RemoteError) as err:
                await ask(server.mgmt.address, "tm.stats")
            assert err.value.code == -32001
            assert (await ask(server.mgmt.address, "version"))["server"].startswith("siptm ")
        finally:
            await server.close()

    asyncio.run(main())


def test_mgmt_is_off_by_default():
    assert Config.default().mgmt == MgmtSettings()
    assert Config.default().mgmt.address is None


@pytest.mark.parametrize("listen", ["udp:127.0.0.1:9000", "udp:[::1]:9000",
                                    "udp:localhost:9000", "udp:127.0.0.2:1"])
def test_mgmt_listen_accepted(listen):
    cfg = Config.from_mapping({"mgmt": {"listen": listen}})
    assert cfg.mgmt.address == parse_hostport_target(listen)


@pytest.mark.parametrize(("listen", "message"), [
    ("tcp:127.0.0.1:9000", "must be udp:HOST:PORT"),
    ("127.0.0.1:9000", "must be udp:HOST:PORT"),
    ("udp:127.0.0.1", "must be udp:HOST:PORT"),
    ("udp:10.1.2.3:9000", "loopback"),
    ("udp:example.com:9000", "loopback"),
    (5, "expected a string"),
])
def test_mgmt_listen_refused(listen, message):
    with pytest.raises(ConfigError) as err:
        Config.from_mapping({"mgmt": {"listen": listen}})
    assert err.value.key == "mgmt.listen" and message in str(err.value)


def test_unknown_mgmt_key():
    with pytest.raises(ConfigError) as err:
        Config.from_mapping({"mgmt": {"lsten": "udp:127.0.0.1:1"}})
    assert err.value.key == "mgmt.lsten"


def test_worker_n_listens_on_port_plus_n():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        base = probe.getsockname()[1]
    cfg = replace(config(), mgmt=MgmtSettings(f"udp:127.0.0.1:{base - 1}"))

    async def main() -> None:
        server = Server(cfg, lambda info: create_engine(info, None), worker_id=1)
        await server.start()
        try:
            assert server.mgmt.address.port == base
            assert (await ask(server.mgmt.address, "uptime"))["worker"] == 1
        finally:
            await server.close()

    asyncio.run(main())
