"""CANCEL through the proxy: t_relay_cancel, cancel_b_method 0/1/2 (seed 002), the
2xx-after-CANCEL race, unmatched_cancel, the Reason header (RFC 3326)."""

from __future__ import annotations

import pytest

from siptm.script import Router
from siptm.testing import UAC, UAS, ProxyHarness, make_request, make_response

CANCEL_RESULTS: list[int] = []
ROUTED: list[str] = []


def cancel_router(cancel_flags: int | None = None) -> Router:
    """t_relay_cancel() for CANCELs (or t_relay(flags) when ``cancel_flags`` is given)."""
    router = Router()

    @router.request
    def route(msg, tm):
        ROUTED.append(msg.method)
        if msg.method == "CANCEL":
            if cancel_flags is not None:
                CANCEL_RESULTS.append(int(tm.t_relay(cancel_flags)))
                return
            CANCEL_RESULTS.append(int(tm.t_relay_cancel()))  # raises RouteExit when done
        if not tm.t_relay():
            tm.sl_reply_error()

    return router


def start_call(h: ProxyHarness, provisional: int | None = 180):
    h.inject(make_request("INVITE"), UAC)
    h.take(UAC)
    invite = h.take_one(UAS)
    if provisional:
        h.inject(make_response(invite, provisional), UAS)
        h.take(UAC)
    return invite


def test_cancel_of_a_ringing_call():
    CANCEL_RESULTS.clear()
    ROUTED.clear()
    h = ProxyHarness(cancel_router())
    invite = start_call(h)
    h.advance(1)
    h.inject(make_request("CANCEL"), UAC)
    assert CANCEL_RESULTS == []  # t_relay_cancel() ended the route (seed: 0 = drop)

    ok = h.take_one(UAC)
    assert (ok.status, ok.reason, str(ok.cseq)) == (200, "canceling", "1 CANCEL")
    assert ok.to_tag is not None
    cancel = h.take_one(UAS)
    # §9.1: built from the INVITE as sent: same R-URI, top Via (branch), Call-ID, From, To
    assert cancel.method == "CANCEL" and cancel.uri_text == invite.uri_text
    assert [str(v) for v in cancel.vias] == [str(invite.vias[0])]
    assert str(cancel.cseq) == "1 CANCEL" and cancel.to_tag is None
    assert cancel.call_id == invite.call_id and cancel.from_tag == invite.from_tag
    assert cancel.headers.get("Reason") is None

    assert h.in_use == 4  # INVITE and CANCEL, server and client side

    # the UAC retransmits its CANCEL: the 200 again from its transaction, nothing new
    h.inject(make_request("CANCEL"), UAC)
    assert [s.data for s in h.take_sent(UAC)] == [bytes(ok)]
    assert h.take(UAS) == []
    assert ROUTED == ["INVITE", "CANCEL"]

    h.inject(make_response(cancel, 200, to_tag=None), UAS)
    assert h.pending() == []
    h.inject(make_response(invite, 487), UAS)
    assert h.take_one(UAS).method == "ACK"
    terminated = h.take_one(UAC)
    assert (terminated.status, str(terminated.cseq)) == (487, "1 INVITE")
    h.inject(make_request("ACK", to_tag="uastag"), UAC)
    h.settle()
    assert h.pending() == [] and h.in_use == 0


def test_cancel_b_method_0_fakes_487_on_an_unreplied_branch():
    h = ProxyHarness(cancel_router(), {"cancel_b_method": 0})
    invite = start_call(h, provisional=None)
    h.advance(0.2)
    h.inject(make_request("CANCEL"), UAC)
    assert [m.status for m in h.take(UAC)] == [200, 487]  # at once
    assert h.take(UAS) == []  # no CANCEL: the branch never answered
    h.inject(make_request("ACK", to_tag=h.sent[-1].msg.to_tag), UAC)
    h.advance(3)
    assert h.take(UAS) == []  # and the INVITE is no longer retransmitted
    # the race seed 002 warns about: a late 2xx still goes up (§16.7: statelessly)
    ok = make_response(invite, 200, to_tag="late")
    h.inject(ok, UAS)
    late = h.take_one(UAC)
    assert (late.status, late.to_tag) == (200, "late")
    assert [str(v) for v in late.vias] == ["SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKuac1"]
    h.settle()
    assert h.in_use == 0


def test_cancel_b_method_1_cancels_when_the_first_provisional_arrives():
    h = ProxyHarness(cancel_router(), {"cancel_b_method": 1})
    invite = start_call(h, provisional=None)
    h.advance(0.2)
    h.inject(make_request("CANCEL"), UAC)
    assert [m.status for m in h.take(UAC)] == [200]
    assert h.take(UAS) == []
    h.advance(1.0)
    assert [m.method for m in h.take(UAS)] == ["INVITE"]  # still retransmitted (at 0.5)
    h.inject(make_response(invite, 180), UAS)
    cancel = h.take_one(UAS)
    assert cancel.method == "CANCEL" and cancel.vias[0].branch == invite.vias[0].branch
    h.take(UAC)  # the 180 may go up
    h.inject(make_response(cancel, 200, to_tag=None), UAS)
    h.inject(make_response(invite, 487), UAS)
    assert [m.status for m in h.take(UAC)] == [487]
    h.settle()
    assert h.in_use == 0


def test_cancel_b_method_1_without_any_reply_answers_487_at_fr_timer():
    h = ProxyHarness(cancel_router(), {"cancel_b_method": 1, "fr_timer": 4000})
    start_call(h, provisional=None)
    h.inject(make_request("CANCEL"), UAC)
    assert [m.status for m in h.take(UAC)] == [200]
    h.advance(4)
    # the transaction was cancelled: 487 upstream, not 408
    assert [m.status for m in h.take(UAC)] == [487]
    assert [m.method for m in h.take(UAS)] == ["INVITE"] * 3  # 0.5, 1.5, 3.5
    h.settle()
    assert h.in_use == 0


def test_cancel_b_method_2_cancels_an_unreplied_branch_at_once():
    h = ProxyHarness(cancel_router(), {"cancel_b_method": 2})
    invite = start_call(h, provisional=None)
    h.inject(make_request("CANCEL"), UAC)
    assert [m.status for m in h.take(UAC)] == [200]
    cancel = h.take_one(UAS)
    assert cancel.method == "CANCEL"
    h.advance(0.6)
    # the CANCEL is retransmitted, the INVITE no longer
    assert [m.method for m in h.take(UAS)] == ["CANCEL"]
    h.inject(make_response(cancel, 200, to_tag=None), UAS)
    h.inject(make_response(invite, 487), UAS)
    assert [m.method for m in h.take(UAS)] == ["ACK"]
    assert [m.status for m in h.take(UAC)] == [487]
    h.settle()
    assert h.in_use == 0


@pytest.mark.parametrize("method", [1, 2])
def test_a_2xx_after_the_cancel_is_still_relayed(method):
    h = ProxyHarness(cancel_router(), {"cancel_b_method": method})
    invite = start_call(h)
    h.inject(make_request("CANCEL"), UAC)
    assert [m.status for m in h.take(UAC)] == [200]
    cancel = h.take_one(UAS)
    # the UAS answered 200 before it saw the CANCEL (the race of seed 002)
    h.inject(make_response(invite, 200, to_tag="won"), UAS)
    h.inject(make_response(cancel, 200, to_tag=None), UAS)
    ok = h.take_one(UAC)
    assert (ok.status, ok.to_tag, str(ok.cseq)) == (200, "won", "1 INVITE")
    assert h.pending() == []
    h.settle()
    assert h.in_use == 0


def test_a_2xx_after_the_487_went_up_is_relayed_statelessly():
    h = ProxyHarness(cancel_router())
    invite = start_call(h)
    h.inject(make_request("CANCEL"), UAC)
    h.take(UAC)
    cancel = h.take_one(UAS)
    h.inject(make_response(cancel, 200, to_tag=None), UAS)
    h.inject(make_response(invite, 487, to_tag="t1"), UAS)
    assert [m.status for m in h.take(UAC)] == [487]
    h.take(UAS)
    # another UAS branch of the same downstream fork answers 200 late
    h.inject(make_response(invite, 200, to_tag="t2"), UAS)
    assert [(m.status, m.to_tag) for m in h.take(UAC)] == [(200, "t2")]


def test_cancel_with_reason_propagated_by_flag_0x08():
    CANCEL_RESULTS.clear()
    h = ProxyHarness(cancel_router(cancel_flags=0x08))
    start_call(h)
    reason = 'SIP;cause=200;text="Call completed elsewhere"'
    h.inject(make_request("CANCEL", extra=[f"Reason: {reason}"]), UAC)
    assert CANCEL_RESULTS == [1]
    cancel = h.take_one(UAS)
    assert cancel.headers.get("Reason") == reason


@pytest.mark.parametrize("flags", [None, 0])
def test_cancel_reason_not_propagated_without_the_flag(flags):
    h = ProxyHarness(cancel_router(cancel_flags=flags))
    start_call(h)
    h.inject(make_request("CANCEL", extra=["Reason: SIP;cause=600"]), UAC)
    cancel = h.take_one(UAS)
    assert cancel.method == "CANCEL" and cancel.headers.get("Reason") is None


def test_unmatched_cancel_0_is_relayed_statefully():
    CANCEL_RESULTS.clear()
    h = ProxyHarness(cancel_router(), {"unmatched_cancel": 0})
    h.inject(make_request("CANCEL", branch="z9hG4bKnone"), UAC)
    assert CANCEL_RESULTS == [1]  # truthy: the INVITE was not found
    cancel = h.take_one(UAS)
    assert cancel.method == "CANCEL" and len(cancel.vias) == 2
    assert h.in_use == 2  # our server and client transactions
    h.inject(make_response(cancel, 481, to_tag="x"), UAS)
    assert [m.status for m in h.take(UAC)] == [481]
    h.settle()
    assert h.in_use == 0


def test_unmatched_cancel_1_is_forwarded_statelessly():
    h = ProxyHarness(cancel_router(), {"unmatched_cancel": 1})
    h.inject(make_request("CANCEL", branch="z9hG4bKnone"), UAC)
    cancel = h.take_one(UAS)
    assert cancel.method == "CANCEL" and len(cancel.vias) == 2
    assert h.in_use == 0
    h.advance(2)
    assert h.pending() == []  # no retransmissions: stateless


def test_unmatched_cancel_2_is_dropped():
    h = ProxyHarness(cancel_router(), {"unmatched_cancel": 2})
    h.inject(make_request("CANCEL", branch="z9hG4bKnone"), UAC)
    assert h.pending() == []
    assert h.in_use == 0


def test_t_add_hdrs_goes_on_the_branch_and_on_our_cancel():
    router = Router()

    @router.request
    def route(msg, tm):
        if msg.method == "CANCEL":
            tm.t_relay_cancel()
        tm.t_add_hdrs("X-Origin: 1.1.1.1\r\n")
        tm.t_relay()

    h = ProxyHarness(router)
    invite = start_call(h)
    assert invite.headers.get("X-Origin") == "1.1.1.1"
    h.inject(make_request("CANCEL"), UAC)
    cancel = h.take_one(UAS)
    # seed 003: "appended to all requests related to the transaction (outgoing
    # branches, local ACKs, CANCELs)"
    assert cancel.headers.get("X-Origin") == "1.1.1.1"


def test_t_add_hdrs_goes_on_our_hop_by_hop_ack():
    router = Router()

    @router.request
    def route(msg, tm):
        tm.t_add_hdrs("X-Origin: 1.1.1.1\r\n")
        tm.t_relay()

    h = ProxyHarness(router)
    invite = start_call(h)
    h.inject(make_response(invite, 486), UAS)
    acks = [m for m in h.take(UAS) if getattr(m, "method", None) == "ACK"]
    assert len(acks) == 1
    assert acks[0].headers.get("X-Origin") == "1.1.1.1"  # seed 003: "local ACKs"
