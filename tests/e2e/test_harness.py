"""The e2e harness proves itself without the proxy engine: SIPp UAC straight to a SIPp UAS
(UDP and TCP, INVITE calls and non-INVITE requests), then through the real ``siptm run``
process carrying a stateless relay engine (runtime, transports and Via handling)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from sipp_harness import LOOPBACK, parse_message_trace

RELAY = f"{Path(__file__).resolve().parent / 'stateless_engine.py'}:create_engine"


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_sipp_uac_to_sipp_uas_directly(e2e, transport):
    uas = e2e.run_sipp_uas(scenario="uas_builtin.xml", transport=transport)
    result = e2e.run_sipp_uac(None, f"{LOOPBACK}:{uas.port}", "uac_builtin.xml",
                              calls=3, rate=20, transport=transport)
    assert result.ok, result.describe()
    assert result.stat("SuccessfulCall") == 3 and result.stat("FailedCall") == 0
    assert [m.method for m in result.sent() if m.method] == ["INVITE", "ACK", "BYE"] * 3
    assert len(result.received(200)) == 6 and len(result.received(180)) == 3
    assert all(m.transport == transport.upper() for m in result.messages)
    server = uas.stop()
    assert len(server.received("INVITE")) == 3 and len(server.received("BYE")) == 3
    invite = server.received("INVITE")[0]
    assert len(invite.header("Via")) == 1  # nothing in between


@pytest.mark.parametrize("method", ["OPTIONS", "MESSAGE"])
def test_non_invite_scenarios(e2e, method):
    name = method.lower()
    uas = e2e.run_sipp_uas(scenario=f"uas_{name}.xml", calls=2)
    result = e2e.run_sipp_uac(None, f"{LOOPBACK}:{uas.port}", f"uac_{name}.xml", calls=2, rate=20)
    assert result.ok, result.describe()
    server = uas.wait(20)
    assert server.ok, server.describe()
    assert len(server.received(method)) == 2 and len(server.sent(200)) == 2


def test_a_failed_call_is_reported(e2e):
    # nobody listens at the target: SIPp retransmits, then gives up at its -timeout
    dead = e2e.free_port()
    result = e2e.run_sipp_uac(None, f"{LOOPBACK}:{dead}", "uac_builtin.xml", calls=1,
                              timeout=2)
    assert not result.ok
    assert result.stat("SuccessfulCall") == 0
    assert len(result.sent("INVITE")) >= 2  # the first copy and retransmissions


def test_calls_through_the_siptm_process(e2e):
    uas = e2e.run_sipp_uas(scenario="uas_builtin.xml")
    proxy = e2e.start_siptm(f'TARGET = "udp:{LOOPBACK}:{uas.port}"\n', engine=RELAY)
    result = e2e.run_sipp_uac(proxy.address, f"{LOOPBACK}:{uas.port}", "uac_builtin.xml",
                              calls=5, rate=50)
    assert result.ok, result.describe() + "\n" + proxy.log
    server = uas.stop()
    invites = server.received("INVITE")
    assert len(invites) == 5
    vias = invites[0].header("Via")
    assert len(vias) == 2 and vias[0].startswith(f"SIP/2.0/UDP {LOOPBACK}:{proxy.port};")
    # the UAC's responses came back through the relay with its own Via on top only
    assert all(len(m.header("Via")) == 1 for m in result.received())
    assert proxy.stop() == 0
    assert " ready: " in proxy.log and "stopped" in proxy.log


def test_garbage_then_a_call_through_the_siptm_process(e2e):
    uas = e2e.run_sipp_uas(scenario="uas_builtin.xml")
    proxy = e2e.start_siptm(f'TARGET = "udp:{LOOPBACK}:{uas.port}"\n', engine=RELAY)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for i in range(1000):
            s.sendto(b"\x00garbage" * (i % 7) + b"INVITE sip:x SIP/2.0\r\n\r\n"[: i % 30],
                     (LOOPBACK, proxy.port))
    result = e2e.run_sipp_uac(proxy.address, f"{LOOPBACK}:{uas.port}", "uac_builtin.xml")
    assert result.ok, result.describe() + "\n" + proxy.log
    assert proxy.proc.poll() is None
    assert proxy.stop() == 0


def test_trace_parser():
    text = (
        "----------------------------------------------- 2026-01-01 00:00:00.000\n"
        "UDP message sent (10 bytes):\n\nOPTIONS sip:a SIP/2.0\nVia: x\n\n"
        "----------------------------------------------- 2026-01-01 00:00:00.001\n"
        "TCP message received [20] bytes :\n\nSIP/2.0 200 OK\nvia: y\nVia: z\n\n"
    )
    sent, received = parse_message_trace(text)
    assert (sent.direction, sent.transport, sent.method, sent.status) == (
        "sent", "UDP", "OPTIONS", None)
    assert (received.direction, received.transport, received.status) == ("received", "TCP", 200)
    assert received.header("Via") == ["y", "z"]
