"""Retransmissions through the proxy: absorbed upstream, generated downstream on the T1
schedule, final replies repeated upstream; negative finals ACKed hop by hop."""

from __future__ import annotations

from siptm.script import Router
from siptm.testing import UAC, UAS, ProxyHarness, make_request, make_response

ROUTE_CALLS: list[str] = []


def counting_router() -> Router:
    router = Router()

    @router.request
    def route(msg, tm):
        ROUTE_CALLS.append(msg.method)
        if msg.method not in ("ACK", "CANCEL"):
            tm.t_check_trans()
        if not tm.t_relay():
            tm.sl_reply_error()

    return router


def times(sent) -> list[float]:
    return [round(s.time, 3) for s in sent]


def test_uac_retransmission_is_absorbed_and_our_last_reply_resent():
    ROUTE_CALLS.clear()
    h = ProxyHarness(counting_router())
    h.inject(make_request("INVITE"), UAC)
    assert [m.status for m in h.take(UAC)] == [100]
    invite = h.take_one(UAS)

    h.advance(0.2)
    h.inject(make_request("INVITE"), UAC)  # the UAC retransmits
    assert [m.status for m in h.take(UAC)] == [100]
    assert h.take(UAS) == []
    assert ROUTE_CALLS == ["INVITE"]

    h.inject(make_response(invite, 180), UAS)
    assert [m.status for m in h.take(UAC)] == [180]
    h.inject(make_request("INVITE"), UAC)
    assert [m.status for m in h.take(UAC)] == [180]  # the last response, again
    assert h.take(UAS) == []
    assert ROUTE_CALLS == ["INVITE"]


def test_invite_retransmitted_downstream_on_the_t1_schedule_until_fr_timer():
    h = ProxyHarness(counting_router())
    h.inject(make_request("INVITE"), UAC)
    h.take(UAC)
    first = h.take_sent(UAS)
    h.advance(40)
    again = h.take_sent(UAS)
    # Timer A doubles without a cap (§17.1.1.2); fr_timer (B) stops it at 30 s
    assert times(first + again) == [0, 0.5, 1.5, 3.5, 7.5, 15.5]
    assert len({s.data for s in first + again}) == 1  # the same bytes every time
    # 408 upstream at fr_timer, repeated by Timer G until the UAC ACKs it
    timeouts = h.take_sent(UAC)
    assert [s.msg.status for s in timeouts] == [408] * 5
    assert times(timeouts) == [30, 30.5, 31.5, 33.5, 37.5]


def test_non_invite_retransmissions_cap_at_t2_and_go_to_t2_after_a_provisional():
    h = ProxyHarness(counting_router())
    h.inject(make_request("MESSAGE"), UAC)
    first = h.take_sent(UAS)
    h.advance(12)
    assert times(first + h.take_sent(UAS)) == [0, 0.5, 1.5, 3.5, 7.5, 11.5]

    h = ProxyHarness(counting_router())
    h.inject(make_request("MESSAGE"), UAC)
    req = h.take_one(UAS)
    h.advance(0.7)  # one retransmission at 0.5
    assert len(h.take(UAS)) == 1
    h.inject(make_response(req, 180), UAS)
    assert [m.status for m in h.take(UAC)] == [180]
    h.advance(10)
    # Proceeding: the next retransmission at 1.5, then every T2
    assert times(h.take_sent(UAS)) == [1.5, 5.5, 9.5]


def test_t_set_retr_changes_the_schedule_and_t_reset_retr_restores_it():
    router = Router()

    @router.request
    def route(msg, tm):
        tm.t_set_retr(250, 1000)
        if msg.headers.get("X-Reset"):
            tm.t_reset_retr()
        tm.t_relay()

    h = ProxyHarness(router)
    h.inject(make_request("MESSAGE"), UAC)
    h.advance(4)
    assert times(h.take_sent(UAS)) == [0, 0.25, 0.75, 1.75, 2.75, 3.75]

    h = ProxyHarness(router)
    h.inject(make_request("MESSAGE", extra=["X-Reset: 1"]), UAC)
    h.advance(4)
    assert times(h.take_sent(UAS)) == [0, 0.5, 1.5, 3.5]


def test_final_reply_retransmitted_upstream_on_request_retransmission():
    h = ProxyHarness(counting_router())
    h.inject(make_request("MESSAGE"), UAC)
    req = h.take_one(UAS)
    h.inject(make_response(req, 202), UAS)
    [accepted] = h.take_sent(UAC)
    h.advance(1)
    h.inject(make_request("MESSAGE"), UAC)
    [again] = h.take_sent(UAC)
    assert again.data == accepted.data
    assert h.take(UAS) == []
    h.settle()
    assert h.in_use == 0


def test_negative_final_relayed_acked_hop_by_hop_and_upstream_ack_absorbed():
    ROUTE_CALLS.clear()
    h = ProxyHarness(counting_router())
    h.inject(make_request("INVITE", extra=["Route: <sip:192.0.2.9;lr>"]), UAC)
    h.take(UAC)
    invite = h.take_one(UAS)
    h.inject(make_response(invite, 180, to_tag="busy1"), UAS)
    h.take(UAC)
    h.inject(make_response(invite, 486, to_tag="busy1"), UAS)

    # the ACK downstream is built from the INVITE as sent (§17.1.1.3)
    ack = h.take_one(UAS)
    assert ack.method == "ACK" and ack.uri_text == invite.uri_text
    assert [str(v) for v in ack.vias] == [str(invite.vias[0])]
    assert str(ack.cseq) == "1 ACK" and ack.to_tag == "busy1"
    assert ack.call_id == invite.call_id and ack.from_tag == invite.from_tag
    assert ack.headers.get_all("Route") == invite.headers.get_all("Route")

    busy = h.take_one(UAC)
    assert (busy.status, busy.to_tag) == (486, "busy1")
    assert [str(v) for v in busy.vias] == ["SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKuac1"]

    # the UAS retransmits its 486: our ACK again, nothing upstream
    h.inject(make_response(invite, 486, to_tag="busy1"), UAS)
    assert h.take(UAS)[0].method == "ACK"
    assert h.take(UAC) == []

    # no ACK yet from the UAC: the 486 is retransmitted upstream (Timer G)
    h.advance(0.6)
    assert [m.status for m in h.take(UAC)] == [486]
    # the UAC retransmits its INVITE: the 486 again
    h.inject(make_request("INVITE", extra=["Route: <sip:192.0.2.9;lr>"]), UAC)
    assert [m.status for m in h.take(UAC)] == [486]

    # its ACK (same branch as the INVITE) is absorbed: not routed, not relayed
    h.inject(make_request("ACK", to_tag="busy1", extra=["Route: <sip:192.0.2.9;lr>"]),
             UAC)
    assert h.pending() == []
    assert ROUTE_CALLS == ["INVITE"]
    h.advance(5)
    assert h.pending() == []  # Timer G stopped by the ACK
    h.settle()
    assert h.in_use == 0


def test_2xx_retransmissions_from_the_uas_are_relayed():
    h = ProxyHarness(counting_router())
    h.inject(make_request("INVITE"), UAC)
    h.take(UAC)
    invite = h.take_one(UAS)
    h.inject(make_response(invite, 200), UAS)
    h.inject(make_response(invite, 200), UAS)
    assert [m.status for m in h.take(UAC)] == [200, 200]
    # a retransmitted INVITE after the 2xx is absorbed (RFC 6026 Accepted)
    h.inject(make_request("INVITE"), UAC)
    assert h.pending() == []
    h.settle()
    assert h.in_use == 0
