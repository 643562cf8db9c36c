"""Replies that match no transaction (seed 002 ``on_sl_reply``, RFC 6026 §7.3)."""

from __future__ import annotations

from siptm.net import Address
from siptm.script import Router
from siptm.testing import UAC, UAS, ProxyHarness, make_request, make_response


def stray(top: str = "SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKstgone.1",
          second: str = "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKuac9",
          status: int = 200) -> bytes:
    return (f"SIP/2.0 {status} OK\r\nVia: {top}\r\nVia: {second}\r\n"
            "From: <sip:alice@192.0.2.1>;tag=a\r\nTo: <sip:bob@192.0.2.9>;tag=b\r\n"
            "Call-ID: stray-1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n").encode()


def plain_router(on_sl_reply=None) -> Router:
    router = Router()

    @router.request
    def route(msg, tm):
        tm.t_relay()

    if on_sl_reply is not None:
        router.onreply("stray")(on_sl_reply)
    return router


def test_a_stray_reply_is_forwarded_by_its_second_via():
    h = ProxyHarness(plain_router())
    h.inject(stray(), UAS)
    [sent] = h.take_sent()
    assert sent.dest == UAC
    assert [str(v) for v in sent.msg.vias] == ["SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKuac9"]
    assert h.engine.stats.stray_replies == 1 and h.in_use == 0


def test_a_stray_reply_follows_received_and_rport():
    h = ProxyHarness(plain_router())
    h.inject(stray(second="SIP/2.0/UDP uac.example.com;branch=z9hG4bKx;"
                          "received=203.0.113.5;rport=41000"), UAS)
    assert h.take_sent()[0].dest == Address("udp", "203.0.113.5", 41000)


def test_a_stray_reply_not_for_us_is_dropped():
    h = ProxyHarness(plain_router())
    h.inject(stray(top="SIP/2.0/UDP 192.0.2.200:5060;branch=z9hG4bKother"), UAS)
    assert h.take_sent() == []
    # nor one with our Via only
    h.inject(stray().replace(b"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKuac9\r\n", b""),
             UAS)
    assert h.take_sent() == []


def test_never_to_a_broadcast_via():
    # RFC 4475 §3.3.10
    h = ProxyHarness(plain_router())
    h.inject(stray(second="SIP/2.0/UDP 255.255.255.255;branch=z9hG4bK1saber23"), UAS)
    assert h.take_sent() == []


def test_rfc6026_strict_mode_drops_stray_replies():
    h = ProxyHarness(plain_router(), {"rfc6026_strict_stray_replies": True})
    h.inject(stray(), UAS)
    assert h.take_sent() == []
    assert h.engine.stats.stray_replies == 1


def test_on_sl_reply_route_runs_first_and_may_drop():
    seen: list[int] = []

    def stray_route(msg, tm):
        seen.append(msg.status)
        if msg.status == 180:
            tm.drop()
        if msg.status == 183:
            return 0  # seed: "unless it returns 0"
        return None

    h = ProxyHarness(plain_router(stray_route), {"on_sl_reply": "stray"})
    h.inject(stray(status=200), UAS)
    h.inject(stray(status=180), UAS)
    h.inject(stray(status=183), UAS)
    assert seen == [200, 180, 183]
    [sent] = h.take_sent()
    assert sent.msg.status == 200 and sent.dest == UAC


def test_an_on_sl_reply_route_that_raises_does_not_stop_the_reply():
    def broken(msg, tm):
        raise RuntimeError("bug in the script")

    h = ProxyHarness(plain_router(broken), {"on_sl_reply": "stray"})
    h.inject(stray(), UAS)
    assert [s.dest for s in h.take_sent()] == [UAC]
    assert h.runner.route_errors == 1


def test_a_late_reply_after_the_transaction_is_gone_is_a_stray_reply():
    # a late 200 for a MESSAGE whose client transaction is gone: addressed to us, it is
    # forwarded statelessly by its second Via
    h = ProxyHarness(plain_router(), {"wt_timer": 1000})
    h.inject(make_request("MESSAGE"), UAC)
    req = h.take_one(UAS)
    h.inject(make_response(req, 200), UAS)
    assert h.take_one(UAC).status == 200
    h.settle()
    assert h.in_use == 0
    h.inject(make_response(req, 200), UAS)
    [late] = h.take_sent()
    assert late.dest == UAC and late.msg.status == 200
    assert h.engine.stats.stray_replies == 1


def test_an_async_on_sl_reply_route_is_refused_with_an_error(caplog):
    async def stray_route(msg, tm):
        tm.drop()

    h = ProxyHarness(plain_router(stray_route), {"on_sl_reply": "stray"})
    h.inject(stray(), UAS)
    assert "must be a plain def" in caplog.text
    assert h.runner.route_errors == 1
    assert [s.dest for s in h.take_sent()] == [UAC]  # forwarded, as after a failure
