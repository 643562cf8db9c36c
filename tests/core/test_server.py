"""Server transactions: RFC 3261 Figures 7 and 8, RFC 6026 Figure 5, seed timers."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from txhelpers import (
    UAC,
    UAC_TCP,
    advance,
    advance_log,
    fire_at,
    make_layer,
    request,
    summary,
)

from siptm.core import (
    DeliverRequest,
    Event,
    Send,
    SendKind,
    ServerInviteTransaction,
    ServerNonInviteTransaction,
    State,
    TimerName,
    TransactionLayer,
)
from siptm.core.server import INVITE_SERVER_FIGURE_7, NON_INVITE_SERVER_FIGURE_8
from siptm.net import Address
from siptm.sip import Response


def incoming(layer: TransactionLayer, method: str = "INVITE", source: Address = UAC,
             now: float = 0.0, **kw: object) -> tuple:
    req = request(method, **kw)  # type: ignore[arg-type]
    fx = layer.receive(req, source, now)
    assert summary(fx) == ["DeliverRequest"]
    return fx[0].tx, req


def times(log: list, tx: object, kind: SendKind) -> list[float]:
    return [t for t, e in log if isinstance(e, Send) and e.tx is tx and e.kind == kind]


# --- INVITE -----------------------------------------------------------------------------


def test_new_invite_creates_one_transaction_and_is_delivered() -> None:
    layer = make_layer()
    req = request()
    fx = layer.receive(req, UAC, 0.0)
    assert summary(fx) == ["DeliverRequest"]
    tx = fx[0].tx
    assert isinstance(tx, ServerInviteTransaction)
    assert fx[0].request is req and fx[0].source == UAC
    assert tx.state is State.PROCEEDING and layer.in_use == 1


def test_retransmission_before_the_tu_answers_creates_no_second_transaction() -> None:
    layer = make_layer()
    tx, _req = incoming(layer)
    assert layer.receive(request(), UAC, 0.5) == []  # nothing to re-send yet
    assert layer.in_use == 1 and layer.stats.absorbed_requests == 1
    layer.reply(tx, 100, 0.6)
    layer.drain()
    fx = layer.receive(request(), UAC, 1.0)
    assert summary(fx) == ["Send:RESPONSE_RETRANSMISSION"]
    assert fx[0].data.startswith(b"SIP/2.0 100 Trying\r\n")
    assert layer.in_use == 1


def test_non_2xx_is_retransmitted_g_doubling_to_t2_until_h() -> None:
    layer = make_layer()
    tx, _req = incoming(layer)
    layer.reply(tx, 486, 0.0)
    first = layer.drain()
    assert summary(first) == ["Send:RESPONSE"]
    assert first[0].destination == UAC
    log = advance_log(layer, 1000)
    assert times(log, tx, SendKind.RESPONSE_RETRANSMISSION) == [
        0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5]
    # H = fr_timer (seed 002: "... or ACK for a negative INVITE reply")
    assert [(t, summary([e])[0]) for t, e in log if not isinstance(e, Send)] == [
        (30.0, "Timeout:H"), (30.0, "Terminated")]


def test_ack_stops_g_confirmed_absorbs_then_timer_i() -> None:
    layer = make_layer()
    tx, _req = incoming(layer)
    layer.reply(tx, 404, 0.0)
    advance(layer, 2.0)
    layer.drain()
    ack = request("ACK", to_tag=tx.local_tag)
    assert layer.receive(ack, UAC, 2.0) == []  # absorbed, not delivered
    assert tx.state is State.CONFIRMED
    assert layer.receive(ack, UAC, 2.5) == []  # retransmitted ACK: absorbed
    assert layer.receive(request(), UAC, 3.0) == []  # very late INVITE: absorbed
    log = advance_log(layer, 1000)
    assert [(t, summary([e])[0]) for t, e in log] == [(7.0, "Terminated")]  # I = T4


def test_invite_retransmission_in_completed_resends_the_final() -> None:
    layer = make_layer()
    tx, _req = incoming(layer)
    final = layer.reply(tx, 603, 0.0, reason="Decline")
    sent = layer.drain()[0].data
    assert bytes(final) == sent
    fx = layer.receive(request(), UAC, 0.25)
    assert summary(fx) == ["Send:RESPONSE_RETRANSMISSION"] and fx[0].data == sent


def test_reliable_transport_no_g_and_i_zero() -> None:
    layer = make_layer()
    tx, _req = incoming(layer, source=UAC_TCP, transport="TCP", via_port=40000)
    assert tx.reply_to == UAC_TCP and tx.reply_to.connection == 3
    layer.reply(tx, 486, 0.0)
    assert summary(layer.drain()) == ["Send:RESPONSE"]
    assert advance(layer, 10.0) == []
    fx = layer.receive(request("ACK", transport="TCP", via_port=40000), UAC_TCP, 10.0)
    assert summary(fx) == ["Terminated"]


def test_2xx_goes_to_accepted_timer_l() -> None:
    layer = make_layer()
    tx, _req = incoming(layer)
    layer.reply(tx, 180, 0.0)
    ok = layer.reply(tx, 200, 1.0)
    assert ok is not None and tx.state is State.ACCEPTED
    assert summary(layer.drain()) == ["Send:RESPONSE", "Send:RESPONSE"]
    # INVITE retransmissions are absorbed; a 2xx retransmission from the TU goes out
    assert layer.receive(request(), UAC, 2.0) == []
    assert layer.respond(tx, ok, 2.5)
    assert summary(layer.drain()) == ["Send:RESPONSE"]
    # the TU cannot send a non-2xx or a provisional any more
    assert layer.reply(tx, 486, 3.0) is None and layer.reply(tx, 183, 3.0) is None
    log = advance_log(layer, 1000)
    assert [(t, summary([e])[0]) for t, e in log] == [(33.0, "Terminated")]  # L = 64*T1


def test_ack_in_accepted_is_passed_to_the_tu() -> None:
    layer = make_layer()
    tx, _req = incoming(layer)
    ok = layer.reply(tx, 200, 0.0)
    layer.drain()
    # an ACK reusing the INVITE's branch (a stray ACK for the 2xx) matches: to the TU
    ack = request("ACK", to_tag=ok.to_tag)
    fx = layer.receive(ack, UAC, 0.5)
    assert summary(fx) == ["DeliverRequest"] and fx[0].tx is tx and fx[0].request is ack
    assert tx.state is State.ACCEPTED
    # the usual end-to-end ACK has a branch of its own: delivered with no transaction
    e2e = request("ACK", branch="z9hG4bKnewack", to_tag=ok.to_tag)
    fx = layer.receive(e2e, UAC, 0.6)
    assert summary(fx) == ["DeliverRequest"] and fx[0].tx is None
    assert layer.lookup_e2e_ack(e2e) is tx


def test_unanswered_invite_times_out_at_max_inv_lifetime_then_is_dropped() -> None:
    layer = make_layer()
    tx, _req = incoming(layer)
    log = advance_log(layer, 1000)
    assert [(t, summary([e])[0]) for t, e in log] == [
        (180.0, "Timeout:LIFETIME"), (185.0, "Terminated")]
    assert tx.dropped and layer.in_use == 0


def test_tu_may_answer_during_the_lifetime_grace() -> None:
    layer = make_layer()
    tx, _req = incoming(layer)
    fire_at(layer, 180.0)
    assert layer.reply(tx, 408, 181.0) is not None
    assert tx.state is State.COMPLETED and not tx.dropped
    assert tx.main_timer is TimerName.H


def test_transport_error_sending_a_response() -> None:
    layer = make_layer()
    tx, _req = incoming(layer)
    layer.reply(tx, 180, 0.0)
    send = layer.drain()[0]
    fx = layer.send_failed(send, 0.1, "no route")
    assert summary(fx) == ["TransportError", "Terminated"]


def test_local_replies_share_one_to_tag_and_100_has_none() -> None:
    layer = make_layer()
    tx, req = incoming(layer)
    trying = layer.reply(tx, 100, 0.0)
    ringing = layer.reply(tx, 180, 0.1)
    busy = layer.reply(tx, 486, 0.2)
    assert trying.to_tag is None
    assert ringing.to_tag == busy.to_tag == tx.local_tag is not None
    assert busy.headers.get("call-id") == req.call_id
    assert busy.cseq.number == 1 and busy.cseq.method == "INVITE"


def test_reply_keeps_an_existing_to_tag() -> None:
    layer = make_layer()
    tx, _req = incoming(layer, "BYE", to_tag="dialog7")
    assert layer.reply(tx, 200, 0.0).to_tag == "dialog7"


def test_respond_with_a_relayed_response_object() -> None:
    layer = make_layer()
    tx, req = incoming(layer)
    relayed = Response.for_request(req, 183, to_tag="far-end")
    assert layer.respond(tx, relayed, 0.0)
    assert layer.drain()[0].data == bytes(relayed)
    assert tx.last_response is relayed and tx.last_status == 183


def test_retransmit_reply_and_release_and_discard() -> None:
    layer = make_layer()
    tx, _req = incoming(layer)
    assert not tx.retransmit_reply(0.0)
    layer.reply(tx, 180, 0.0)
    layer.drain()
    assert tx.retransmit_reply(0.5)
    assert summary(layer.drain()) == ["Send:RESPONSE_RETRANSMISSION"]
    layer.release(tx, 1.0)  # seed t_release: absorb for wt_timer, then drop
    assert tx.main_timer is TimerName.WAIT
    assert [(t, summary([e])[0]) for t, e in advance_log(layer, 100)] == [(6.0, "Terminated")]
    tx2, _ = incoming(layer, call_id="two")
    layer.discard(tx2, 7.0)
    assert summary(layer.drain()) == ["Terminated"] and layer.in_use == 0


# --- non-INVITE ---------------------------------------------------------------------


def test_non_invite_trying_absorbs_proceeding_and_completed_resend() -> None:
    layer = make_layer()
    tx, _req = incoming(layer, "OPTIONS")
    assert isinstance(tx, ServerNonInviteTransaction) and tx.state is State.TRYING
    assert layer.receive(request("OPTIONS"), UAC, 0.1) == []
    layer.reply(tx, 100, 0.2)
    layer.drain()
    assert summary(layer.receive(request("OPTIONS"), UAC, 0.3)) == [
        "Send:RESPONSE_RETRANSMISSION"]
    layer.reply(tx, 200, 0.5)
    final = layer.drain()[0].data
    fx = layer.receive(request("OPTIONS"), UAC, 1.0)
    assert fx[0].data == final
    log = advance_log(layer, 100)
    assert [(t, summary([e])[0]) for t, e in log] == [(5.5, "Terminated")]  # J = wt_timer


def test_non_invite_j_is_zero_on_reliable() -> None:
    layer = make_layer()
    tx, _req = incoming(layer, "OPTIONS", source=UAC_TCP, transport="TCP")
    layer.reply(tx, 200, 0.0)
    assert summary(layer.drain()) == ["Send:RESPONSE", "Terminated"]


def test_non_invite_unanswered_times_out_at_max_noninv_lifetime() -> None:
    layer = make_layer()
    _tx, _req = incoming(layer, "MESSAGE")
    log = advance_log(layer, 1000)
    assert [(t, summary([e])[0]) for t, e in log] == [
        (32.0, "Timeout:LIFETIME"), (37.0, "Terminated")]


def test_response_address_rport_received_and_default() -> None:
    layer = make_layer()
    tx, _ = incoming(layer, "OPTIONS", via_host="10.0.0.1", via_port=5070)
    # no received/rport: the packet's source host (what §18.2.1's received records)
    # and the sent-by port
    assert tx.reply_to == Address("udp", "192.0.2.1", 5070)
    from siptm.core import response_address

    nat = request("OPTIONS", via_host="10.0.0.1", via_port=5070)
    nat.via.params["received"] = "203.0.113.5"
    nat.via.params["rport"] = "61000"
    source = Address("udp", "203.0.113.5", 61000)
    assert response_address(nat, source) == source
    plain = request("OPTIONS", via_host="192.0.2.1", via_port=None)
    assert response_address(plain, Address("udp", "192.0.2.1", 33333)) == Address(
        "udp", "192.0.2.1", 5060)
    bare = request("OPTIONS", via_host="192.0.2.1", via_port=5060,
                   branch="z9hG4bKx;rport")
    assert response_address(bare, Address("udp", "192.0.2.1", 33333)).port == 33333


# --- Figures 7 and 8, row by row --------------------------------------------------------


def proceeding(layer: TransactionLayer) -> object:
    return incoming(layer)[0]


def proceeding_expired(layer: TransactionLayer) -> object:
    tx = incoming(layer)[0]
    fire_at(layer, 180.0)
    return tx


def completed(layer: TransactionLayer) -> object:
    tx = incoming(layer)[0]
    layer.reply(tx, 486, 0.0)
    return tx


def confirmed(layer: TransactionLayer) -> object:
    tx = completed(layer)
    layer.receive(request("ACK"), UAC, 0.25)
    assert tx.state is State.CONFIRMED
    return tx


def accepted(layer: TransactionLayer) -> object:
    tx = incoming(layer)[0]
    layer.reply(tx, 200, 0.0)
    return tx


def resend_request(method: str) -> Callable:
    def apply(layer: TransactionLayer, tx: object) -> list:
        return layer.receive(request(method), UAC, 1.0)
    return apply


def tu(status: int) -> Callable:
    def apply(layer: TransactionLayer, tx: object) -> list:
        layer.reply(tx, status, 1.0)
        return layer.drain()
    return apply


def fire_main(layer: TransactionLayer, tx: object) -> list:
    return fire_at(layer, tx.main_deadline)


def fire_retr(layer: TransactionLayer, tx: object) -> list:
    return fire_at(layer, tx.retransmission_deadline)


def transport_error(layer: TransactionLayer, tx: object) -> list:
    return layer.send_failed(Send(b"", UAC, tx, SendKind.RESPONSE), 1.0, "gone")


S, E, T = State, Event, TimerName
ACK = resend_request("ACK")
INVITE = resend_request("INVITE")
FIGURE_7_CASES = [
    (S.PROCEEDING, E.REQUEST, proceeding, INVITE, S.PROCEEDING, []),  # no response yet
    (S.PROCEEDING, E.TU_PROVISIONAL, proceeding, tu(180), S.PROCEEDING, ["Send:RESPONSE"]),
    (S.PROCEEDING, E.TU_SUCCESS, proceeding, tu(200), S.ACCEPTED, ["Send:RESPONSE"]),
    (S.PROCEEDING, E.TU_FAILURE, proceeding, tu(480), S.COMPLETED, ["Send:RESPONSE"]),
    (S.PROCEEDING, E.TRANSPORT_ERROR, proceeding, transport_error, S.TERMINATED,
     ["TransportError", "Terminated"]),
    (S.PROCEEDING, T.LIFETIME, proceeding, fire_main, S.PROCEEDING, ["Timeout:LIFETIME"]),
    (S.PROCEEDING, T.WAIT, proceeding_expired, fire_main, S.TERMINATED, ["Terminated"]),
    (S.COMPLETED, E.REQUEST, completed, INVITE, S.COMPLETED,
     ["Send:RESPONSE_RETRANSMISSION"]),
    (S.COMPLETED, T.G, completed, fire_retr, S.COMPLETED, ["Send:RESPONSE_RETRANSMISSION"]),
    (S.COMPLETED, T.H, completed, fire_main, S.TERMINATED, ["Timeout:H", "Terminated"]),
    (S.COMPLETED, E.ACK, completed, ACK, S.CONFIRMED, []),
    (S.COMPLETED, E.TRANSPORT_ERROR, completed, transport_error, S.TERMINATED,
     ["TransportError", "Terminated"]),
    (S.CONFIRMED, E.ACK, confirmed, ACK, S.CONFIRMED, []),
    (S.CONFIRMED, E.REQUEST, confirmed, INVITE, S.CONFIRMED, []),
    (S.CONFIRMED, T.I, confirmed, fire_main, S.TERMINATED, ["Terminated"]),
    (S.ACCEPTED, E.REQUEST, accepted, INVITE, S.ACCEPTED, []),
    (S.ACCEPTED, E.ACK, accepted, ACK, S.ACCEPTED, ["DeliverRequest"]),
    (S.ACCEPTED, E.TU_SUCCESS, accepted, tu(200), S.ACCEPTED, ["Send:RESPONSE"]),
    (S.ACCEPTED, E.TRANSPORT_ERROR, accepted, transport_error, S.ACCEPTED,
     ["TransportError"]),
    (S.ACCEPTED, T.L, accepted, fire_main, S.TERMINATED, ["Terminated"]),
]


def nonin(layer: TransactionLayer) -> object:
    return incoming(layer, "OPTIONS")[0]


def nonin_expired(layer: TransactionLayer) -> object:
    tx = nonin(layer)
    fire_at(layer, 32.0)
    return tx


def nonin_proceeding(layer: TransactionLayer) -> object:
    tx = nonin(layer)
    layer.reply(tx, 100, 0.0)
    return tx


def nonin_proceeding_expired(layer: TransactionLayer) -> object:
    tx = nonin_proceeding(layer)
    fire_at(layer, 32.0)
    return tx


def nonin_completed(layer: TransactionLayer) -> object:
    tx = nonin(layer)
    layer.reply(tx, 200, 0.0)
    return tx


OPTIONS = resend_request("OPTIONS")
FIGURE_8_CASES = [
    (S.TRYING, E.REQUEST, nonin, OPTIONS, S.TRYING, []),
    (S.TRYING, E.TU_PROVISIONAL, nonin, tu(100), S.PROCEEDING, ["Send:RESPONSE"]),
    (S.TRYING, E.TU_SUCCESS, nonin, tu(200), S.COMPLETED, ["Send:RESPONSE"]),
    (S.TRYING, E.TU_FAILURE, nonin, tu(404), S.COMPLETED, ["Send:RESPONSE"]),
    (S.TRYING, T.LIFETIME, nonin, fire_main, S.TRYING, ["Timeout:LIFETIME"]),
    (S.TRYING, T.WAIT, nonin_expired, fire_main, S.TERMINATED, ["Terminated"]),
    (S.PROCEEDING, E.REQUEST, nonin_proceeding, OPTIONS, S.PROCEEDING,
     ["Send:RESPONSE_RETRANSMISSION"]),
    (S.PROCEEDING, E.TU_PROVISIONAL, nonin_proceeding, tu(101), S.PROCEEDING,
     ["Send:RESPONSE"]),
    (S.PROCEEDING, E.TU_SUCCESS, nonin_proceeding, tu(200), S.COMPLETED, ["Send:RESPONSE"]),
    (S.PROCEEDING, E.TU_FAILURE, nonin_proceeding, tu(500), S.COMPLETED, ["Send:RESPONSE"]),
    (S.PROCEEDING, E.TRANSPORT_ERROR, nonin_proceeding, transport_error, S.TERMINATED,
     ["TransportError", "Terminated"]),
    (S.PROCEEDING, T.LIFETIME, nonin_proceeding, fire_main, S.PROCEEDING,
     ["Timeout:LIFETIME"]),
    (S.PROCEEDING, T.WAIT, nonin_proceeding_expired, fire_main, S.TERMINATED,
     ["Terminated"]),
    (S.COMPLETED, E.REQUEST, nonin_completed, OPTIONS, S.COMPLETED,
     ["Send:RESPONSE_RETRANSMISSION"]),
    (S.COMPLETED, E.TRANSPORT_ERROR, nonin_completed, transport_error, S.TERMINATED,
     ["TransportError", "Terminated"]),
    (S.COMPLETED, T.J, nonin_completed, fire_main, S.TERMINATED, ["Terminated"]),
]


@pytest.mark.parametrize("cases,figure", [(FIGURE_7_CASES, INVITE_SERVER_FIGURE_7),
                                          (FIGURE_8_CASES, NON_INVITE_SERVER_FIGURE_8)],
                         ids=["figure-7", "figure-8"])
def test_cases_cover_every_transition(cases: list, figure: dict) -> None:
    assert {(c[0], c[1]) for c in cases} == set(figure)
    assert len(cases) == len(figure)


def _run(case: tuple, figure: dict) -> None:
    state, event, setup, apply, next_state, effects = case
    layer = make_layer()
    tx = setup(layer)
    layer.drain()
    assert tx.state is state
    assert figure[(state, event)].next_state is next_state
    out = apply(layer, tx)
    assert tx.state is next_state
    assert summary(out, tx) == effects


@pytest.mark.parametrize("case", FIGURE_7_CASES,
                         ids=[f"{c[0].name}-{c[1].name}" for c in FIGURE_7_CASES])
def test_figure_7(case: tuple) -> None:
    _run(case, INVITE_SERVER_FIGURE_7)


@pytest.mark.parametrize("case", FIGURE_8_CASES,
                         ids=[f"{c[0].name}-{c[1].name}" for c in FIGURE_8_CASES])
def test_figure_8(case: tuple) -> None:
    _run(case, NON_INVITE_SERVER_FIGURE_8)


def test_refused_responses() -> None:
    layer = make_layer()
    tx = nonin_completed(layer)
    assert layer.reply(tx, 100, 1.0) is None
    assert layer.reply(tx, 200, 1.0) is None
    tx = confirmed(make_layer())
    assert not tx.respond(Response.for_request(tx.request, 200), 1.0)


def test_ack_for_proceeding_invite_is_dropped() -> None:
    layer = make_layer()
    tx = proceeding(layer)
    assert layer.receive(request("ACK"), UAC, 1.0) == []
    assert tx.state is State.PROCEEDING
    assert not [e for e in layer.drain() if isinstance(e, DeliverRequest)]


def test_lifetime_with_wt_timer_zero_drops_at_once() -> None:
    layer = make_layer(wt_timer=0)
    tx, _ = incoming(layer, "MESSAGE")
    log = advance_log(layer, 1000)
    assert [(t, summary([e])[0]) for t, e in log] == [
        (32.0, "Timeout:LIFETIME"), (32.0, "Terminated")]
    assert tx.dropped
