"""Non-INVITE requests: MESSAGE and OPTIONS relayed over UDP and TCP, the UAC's
retransmissions absorbed by the proxy (which retransmits on its own schedule), and a
routing script that answers requests itself with t_newtran()/t_reply()."""

from __future__ import annotations

import socket

import pytest
from sipp_harness import LOOPBACK
from test_stateful_calls import RELAY_TO_TCP

ANSWERING_SCRIPT = """
from siptm.script import Router
router = Router()

@router.request
def route(msg, tm):
    if msg.method in ("OPTIONS", "MESSAGE"):
        if not tm.t_newtran():
            tm.sl_reply_error()
            return
        tm.t_reply(200, "Answered by the script")
        return
    tm.sl_send_reply(405, "Method Not Allowed")
"""


@pytest.mark.parametrize("method", ["MESSAGE", "OPTIONS"])
@pytest.mark.parametrize("transport", [
    "udp",
    "tcp",
])
def test_relayed(e2e, method, transport):
    name = method.lower()
    uas = e2e.run_sipp_uas(scenario=f"uas_{name}.xml", transport=transport, calls=2)
    proxy = e2e.start_siptm(RELAY_TO_TCP if transport == "tcp" else None)
    result = e2e.run_sipp_uac(proxy.address, f"{LOOPBACK}:{uas.port}", f"uac_{name}.xml",
                              calls=2, rate=20, transport=transport)
    assert result.ok, result.describe() + "\n" + proxy.log
    server = uas.wait(10)
    assert server.ok, server.describe()
    requests = server.received(method)
    assert len(requests) == 2
    assert all(len(m.vias) == 2 and m.transport == transport.upper() for m in requests)
    assert all(m.header("Max-Forwards") == ["69"] for m in requests)
    replies = result.received(200)
    assert len(replies) == 2 and all(len(m.vias) == 1 and m.to_tag for m in replies)
    stats = proxy.stats()
    assert stats["UAS_transactions"] == 2 and stats["UAC_transactions"] == 2
    assert stats["2xx_transactions"] == 2 and stats["relayed_replies"] == 2
    proxy.wait_idle()


def test_uac_retransmissions_are_absorbed(e2e):
    # The UAS answers after 2 s. The UAC retransmits on T1 = 500 ms (0, 0.5, 1.5 s);
    # the proxy runs T1 = 250 ms, so its own copies go at 0, 0.25, 0.75, 1.75 s: what
    # the UAS sees must be the proxy's schedule, on the proxy's one branch.
    uas = e2e.run_sipp_uas(scenario="uas_message_slow.xml", calls=1)
    proxy = e2e.start_siptm(None, tm={"retr_timer1": 250})
    result = e2e.run_sipp_uac(proxy.address, f"{LOOPBACK}:{uas.port}", "uac_message.xml",
                              timeout=8)
    assert result.ok, result.describe() + "\n" + proxy.log
    server = uas.wait(10)
    assert server.ok, server.describe()

    uac_copies = result.sent("MESSAGE")
    assert len(uac_copies) >= 3  # 0, 0.5, 1.5 s
    copies = server.received("MESSAGE")
    assert len({m.branch for m in copies}) == 1
    assert copies[0].branch != uac_copies[0].branch
    assert all(m.vias[1] == copies[0].vias[1] for m in copies)  # the UAC's Via under ours
    offsets = [m.time - copies[0].time for m in copies]
    expected = [0.0, 0.25, 0.75, 1.75]
    assert len(offsets) == len(expected), offsets
    for got, want in zip(offsets, expected, strict=True):
        assert abs(got - want) <= 0.12, offsets
    assert len(result.received(200)) == 1

    absorbed = proxy.call("get_statistics", ["siptm:absorbed_requests"])
    assert absorbed["siptm:absorbed_requests"] >= len(uac_copies) - 1
    proxy.wait_idle()


@pytest.mark.parametrize("transport", ["udp", "tcp"])
@pytest.mark.parametrize("method", ["OPTIONS", "MESSAGE"])
def test_script_answers_with_t_newtran_and_t_reply(e2e, method, transport):
    proxy = e2e.start_siptm(ANSWERING_SCRIPT)
    result = e2e.run_sipp_uac(None, proxy.address, f"uac_{method.lower()}.xml", calls=2,
                              rate=20, transport=transport)
    assert result.ok, result.describe() + "\n" + proxy.log
    replies = result.received(200)
    assert len(replies) == 2
    for reply in replies:
        assert reply.first_line == "SIP/2.0 200 Answered by the script"
        assert reply.to_tag  # t_reply adds a To tag
        assert reply.cseq == (1, method)
    stats = proxy.stats()
    assert stats["UAS_transactions"] == 2 and stats["UAC_transactions"] == 0
    assert stats["local_replies"] == 2 and stats["2xx_transactions"] == 2
    proxy.wait_idle()


def test_t_reply_is_retransmitted_for_a_request_retransmission(e2e):
    proxy = e2e.start_siptm(ANSWERING_SCRIPT)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((LOOPBACK, 0))
        s.settimeout(2)
        port = s.getsockname()[1]
        request = (
            f"MESSAGE sip:bob@{proxy.address} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP {LOOPBACK}:{port};branch=z9hG4bKretrans1\r\n"
            f"Max-Forwards: 70\r\nFrom: <sip:alice@{LOOPBACK}>;tag=a1\r\n"
            f"To: <sip:bob@{proxy.address}>\r\nCall-ID: retrans-1@{LOOPBACK}\r\n"
            f"CSeq: 5 MESSAGE\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nhi"
        ).encode()
        replies = []
        for _ in range(3):
            s.sendto(request, (LOOPBACK, proxy.port))
            replies.append(s.recv(65535))
    assert replies[0].startswith(b"SIP/2.0 200 Answered by the script\r\n")
    assert replies == [replies[0]] * 3  # the same reply, the same To tag
    stats = proxy.stats()
    assert stats["UAS_transactions"] == 1 and stats["local_replies"] == 1
    proxy.wait_idle()
