"""INVITE client transaction: RFC 3261 Figure 5 + RFC 6026 Figure 4, seed timers."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from txhelpers import (
    UAS,
    UAS_TCP,
    advance,
    advance_log,
    fire_at,
    make_layer,
    of_type,
    outgoing,
    response,
    sends,
    summary,
)

from siptm.core import (
    CancelOutcome,
    CancelState,
    DeliverResponse,
    Event,
    Send,
    SendKind,
    State,
    Terminated,
    Timeout,
    TimerName,
    TransactionLayer,
)
from siptm.core.client import INVITE_CLIENT_FIGURE_5

# --- the retransmission schedule (literal times) -----------------------------------------


def send_times(log: list, tx: object, kind: SendKind) -> list[float]:
    return [t for t, e in log if isinstance(e, Send) and e.tx is tx and e.kind == kind]


def test_invite_retransmits_doubling_without_cap_until_fr_timer() -> None:
    layer = make_layer()
    tx, _ = outgoing(layer)
    first = layer.drain()
    assert summary(first) == ["Send:REQUEST"]
    assert first[0].destination == UAS
    log = advance_log(layer, 1000)
    assert send_times(log, tx, SendKind.REQUEST_RETRANSMISSION) == [0.5, 1.5, 3.5, 7.5, 15.5]
    assert [(t, e.timer) for t, e in log if isinstance(e, Timeout)] == [(30.0, TimerName.B)]
    assert [t for t, e in log if isinstance(e, Terminated)] == [35.0]  # + wt_timer
    assert layer.in_use == 0


def test_invite_doubling_goes_past_t2() -> None:
    layer = make_layer(fr_timer=64000, max_inv_lifetime=200000)
    tx, _ = outgoing(layer)
    log = advance_log(layer, 1000)
    times = send_times(log, tx, SendKind.REQUEST_RETRANSMISSION)
    assert times == [0.5, 1.5, 3.5, 7.5, 15.5, 31.5, 63.5]  # intervals 0.5 .. 32 s
    assert [t for t, e in log if isinstance(e, Timeout)] == [64.0]


def test_provisional_stops_retransmissions_and_starts_fr_inv() -> None:
    layer = make_layer()
    tx, req = outgoing(layer)
    advance(layer, 2.0)
    layer.receive(response(req, 180), UAS, 2.0)
    log = advance_log(layer, 1000)
    assert send_times(log, tx, SendKind.REQUEST_RETRANSMISSION) == []
    assert [(t, e.timer) for t, e in log if isinstance(e, Timeout)] == [
        (122.0, TimerName.C), (152.0, TimerName.CANCEL)]  # C, then fr_timer for a CANCEL


def test_reliable_transport_schedule() -> None:
    layer = make_layer()
    _tx, _ = outgoing(layer, destination=UAS_TCP)
    first = layer.drain()
    log = advance_log(layer, 1000)
    assert summary(first) == ["Send:REQUEST"]
    assert [(t, summary([e])[0]) for t, e in log] == [(30.0, "Timeout:B"), (35.0, "Terminated")]


# --- non-2xx: the hop-by-hop ACK, Timer D ----------------------------------------------


def test_non_2xx_is_acked_and_passed_up_then_timer_d() -> None:
    layer = make_layer()
    tx, req = outgoing(layer)
    layer.drain()
    busy = response(req, 486)
    fx = layer.receive(busy, UAS, 1.0)
    assert summary(fx) == ["Send:ACK", "DeliverResponse"]
    ack = fx[0]
    assert ack.destination == UAS
    assert ack.data.startswith(b"ACK sip:bob@example.com SIP/2.0\r\n")
    assert fx[1].response is busy and fx[1].tx is tx
    assert tx.state is State.COMPLETED
    # a retransmitted 486 gets the same ACK again, and is not passed up
    again = layer.receive(response(req, 486), UAS, 2.0)
    assert summary(again) == ["Send:ACK"]
    assert again[0].data == ack.data
    log = advance_log(layer, 1000)
    assert [(t, summary([e])[0]) for t, e in log] == [(33.0, "Terminated")]  # D = 32 s


def test_timer_d_is_zero_on_reliable_transports() -> None:
    layer = make_layer()
    _tx, req = outgoing(layer, destination=UAS_TCP)
    layer.drain()
    fx = layer.receive(response(req, 603), UAS_TCP, 1.0)
    assert summary(fx) == ["Send:ACK", "DeliverResponse", "Terminated"]
    assert layer.in_use == 0


def test_hop_by_hop_ack_exact_bytes() -> None:
    layer = TransactionLayer(ac_extra_hdrs="X-Keep-")
    branch = layer.new_branch()
    from siptm.sip import parse

    invite = parse(
        b"INVITE sip:bob@192.0.2.9:5070;transport=udp SIP/2.0\r\n"
        b"Via: SIP/2.0/UDP 198.51.100.1:5060;branch=" + branch.encode() + b"\r\n"
        b"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKup;received=192.0.2.1\r\n"
        b"Route: <sip:p2.example.com;lr>, <sip:p3.example.com;lr>\r\n"
        b"Max-Forwards: 69\r\n"
        b"From: Alice <sip:alice@example.com>;tag=1928301774\r\n"
        b"To: Bob <sip:bob@example.com>\r\n"
        b"Call-ID: a84b4c76e66710@pc33.example.com\r\n"
        b"CSeq: 314159 INVITE\r\n"
        b"Contact: <sip:alice@192.0.2.1>\r\n"
        b"X-Keep-This: yes\r\n"
        b"X-Other: no\r\n"
        b"Content-Type: application/sdp\r\n"
        b"Content-Length: 4\r\n\r\nv=0\n"
    )
    layer.send_request(invite, UAS, 0.0)
    layer.drain()
    fx = layer.receive(response(invite, 404, to_tag="uas77"), UAS, 0.5)
    assert fx[0].data == (
        b"ACK sip:bob@192.0.2.9:5070;transport=udp SIP/2.0\r\n"
        b"Via: SIP/2.0/UDP 198.51.100.1:5060;branch=" + branch.encode() + b"\r\n"
        b"Route: <sip:p2.example.com;lr>, <sip:p3.example.com;lr>\r\n"
        b"Max-Forwards: 69\r\n"
        b"From: Alice <sip:alice@example.com>;tag=1928301774\r\n"
        b"To: Bob <sip:bob@example.com>;tag=uas77\r\n"
        b"Call-ID: a84b4c76e66710@pc33.example.com\r\n"
        b"CSeq: 314159 ACK\r\n"
        b"X-Keep-This: yes\r\n"
        b"Content-Length: 0\r\n\r\n"
    )


def test_ack_is_built_from_the_request_as_sent_not_as_edited_later() -> None:
    layer = make_layer()
    tx, req = outgoing(layer)
    req.uri = "sip:someone-else@example.org"  # the TU edits its object afterwards
    layer.drain()
    fx = layer.receive(response(tx.sent_request, 480), UAS, 1.0)
    assert fx[0].data.startswith(b"ACK sip:bob@example.com SIP/2.0\r\n")


# --- 2xx: RFC 6026 Accepted ------------------------------------------------------------


def test_2xx_passes_up_every_time_never_acked_timer_m() -> None:
    layer = make_layer()
    tx, req = outgoing(layer)
    layer.drain()
    fx = layer.receive(response(req, 200), UAS, 1.0)
    assert summary(fx) == ["DeliverResponse"]
    assert tx.state is State.ACCEPTED
    # retransmitted 2xx and a 2xx from another fork downstream: both up, no ACK
    assert summary(layer.receive(response(req, 200), UAS, 2.0)) == ["DeliverResponse"]
    assert summary(layer.receive(response(req, 200, to_tag="fork2"), UAS, 3.0)) == [
        "DeliverResponse"]
    assert sends(layer.drain()) == []
    # a non-2xx or a provisional in Accepted is not in the figure: ignored
    assert layer.receive(response(req, 486), UAS, 4.0) == []
    assert layer.receive(response(req, 180), UAS, 4.0) == []
    log = advance_log(layer, 1000)
    assert [(t, summary([e])[0]) for t, e in log] == [(33.0, "Terminated")]  # M = 64*T1


def test_2xx_after_provisional() -> None:
    layer = make_layer()
    tx, req = outgoing(layer)
    layer.receive(response(req, 183), UAS, 1.0)
    fx = layer.receive(response(req, 200), UAS, 5.0)
    assert summary(fx) == ["DeliverResponse"]
    assert tx.state is State.ACCEPTED
    assert tx.main_timer is TimerName.M
    assert tx.main_deadline == 37.0


# --- restart_fr_on_each_reply -----------------------------------------------------------


def c_deadline_after(layer: TransactionLayer, tx: object, replies: list[tuple[float, int]],
                     req: object) -> float:
    for when, status in replies:
        layer.receive(response(req, status), UAS, when)
    assert tx.main_timer is TimerName.C
    return tx.main_deadline


def test_restart_fr_on_each_reply_1_restarts_on_every_provisional() -> None:
    layer = make_layer(restart_fr_on_each_reply=1)
    tx, req = outgoing(layer)
    assert c_deadline_after(layer, tx, [(10.0, 180)], req) == 130.0
    assert c_deadline_after(layer, tx, [(50.0, 180)], req) == 170.0  # same code again
    assert c_deadline_after(layer, tx, [(60.0, 100)], req) == 180.0  # lower code: too
    log = advance_log(layer, 1000)
    assert [(t, summary([e])[0]) for t, e in log][:1] == [(180.0, "Timeout:C")]


def test_restart_fr_on_each_reply_0_only_first_and_increasing_from_180() -> None:
    layer = make_layer(restart_fr_on_each_reply=0, max_inv_lifetime=600000)
    tx, req = outgoing(layer)
    assert c_deadline_after(layer, tx, [(10.0, 100)], req) == 130.0  # the first one
    assert c_deadline_after(layer, tx, [(20.0, 180)], req) == 140.0  # increasing, >= 180
    assert c_deadline_after(layer, tx, [(30.0, 180)], req) == 140.0  # same: no restart
    assert c_deadline_after(layer, tx, [(40.0, 183)], req) == 160.0  # increasing
    assert c_deadline_after(layer, tx, [(50.0, 181)], req) == 160.0  # lower: no
    assert c_deadline_after(layer, tx, [(60.0, 183)], req) == 160.0  # not above 183: no
    assert c_deadline_after(layer, tx, [(70.0, 199)], req) == 190.0  # above: restart


def test_fr_inv_restart_is_clamped_to_max_inv_lifetime() -> None:
    layer = make_layer(max_inv_lifetime=150000)
    tx, req = outgoing(layer)
    assert c_deadline_after(layer, tx, [(10.0, 180)], req) == 130.0
    assert c_deadline_after(layer, tx, [(100.0, 180)], req) == 150.0  # not 220
    assert tx.expired(150.0) and not tx.expired(149.0)


def test_restart_fr_0_increasing_below_180_does_not_restart() -> None:
    layer = make_layer(restart_fr_on_each_reply=0)
    tx, req = outgoing(layer)
    assert c_deadline_after(layer, tx, [(10.0, 100), (20.0, 110)], req) == 130.0


def test_fr_inv_timeout_waits_for_the_cancel_then_lingers() -> None:
    layer = make_layer()
    tx, req = outgoing(layer)
    layer.receive(response(req, 180), UAS, 1.0)
    layer.drain()
    fx = fire_at(layer, 121.0)
    assert summary(fx) == ["Timeout:C"]
    assert tx.state is State.PROCEEDING and tx.timed_out
    # the TU cancels (RFC 3261 §16.8); the 487 comes back and is ACKed
    assert layer.cancel(tx, 121.0) is CancelOutcome.SENT
    fx = layer.drain()
    assert summary(fx, tx.cancel_tx) == ["Send:REQUEST"]
    assert fx[0].data.startswith(b"CANCEL sip:bob@example.com SIP/2.0\r\n")
    fx = layer.receive(response(req, 487), UAS, 121.5)
    assert summary(fx) == ["Send:ACK", "DeliverResponse"]


def test_fr_inv_timeout_without_cancel_ends_after_fr_timer_then_wt_timer() -> None:
    layer = make_layer()
    tx, req = outgoing(layer)
    layer.receive(response(req, 180), UAS, 1.0)
    log = advance_log(layer, 1000)
    assert [(t, summary([e], tx)) for t, e in log] == [
        (121.0, ["Timeout:C"]), (151.0, ["Timeout:CANCEL"]), (156.0, ["Terminated"])]


# --- cancelling a branch (seed 002 cancel_b_method) --------------------------------------


def test_cancel_b_method_0_unreplied_stops_and_fakes_487() -> None:
    layer = make_layer()
    tx, req = outgoing(layer)
    advance(layer, 1.0)
    layer.drain()
    assert layer.cancel(tx, 1.0, method=0) is CancelOutcome.FAKE_487
    assert tx.cancel_state is CancelState.FAKED
    assert tx.state is State.COMPLETED
    assert layer.drain() == []  # no CANCEL on the wire
    # a late 2xx still goes up (the seed's race), a late non-2xx is ACKed
    assert summary(layer.receive(response(req, 200), UAS, 2.0)) == ["DeliverResponse"]
    assert summary(layer.receive(response(req, 487), UAS, 2.5)) == ["Send:ACK"]
    log = advance_log(layer, 1000)
    assert [(t, summary([e])[0]) for t, e in log] == [(6.0, "Terminated")]  # wt_timer


def test_cancel_b_method_1_unreplied_keeps_retransmitting_cancels_on_provisional() -> None:
    layer = make_layer()
    tx, req = outgoing(layer)
    layer.drain()
    assert layer.cancel(tx, 0.25, method=1) is CancelOutcome.PENDING
    assert layer.drain() == []
    log = advance_log(layer, 2.0)
    assert send_times(log, tx, SendKind.REQUEST_RETRANSMISSION) == [0.5, 1.5]
    fx = layer.receive(response(req, 180), UAS, 2.0)
    assert summary(fx) == ["DeliverResponse", "Send:REQUEST"]
    cancel_tx = tx.cancel_tx
    assert fx[1].tx is cancel_tx and cancel_tx.cancels is tx
    assert fx[1].data.startswith(b"CANCEL ")
    assert tx.cancel_state is CancelState.SENT
    assert tx.main_timer is TimerName.CANCEL and tx.main_deadline == 32.0
    # the CANCEL's 200 goes to the CANCEL transaction, the 487 to the INVITE's
    ok = layer.receive(response(cancel_tx.sent_request, 200), UAS, 2.1)
    assert summary(ok) == ["DeliverResponse"] and ok[0].tx is cancel_tx
    fx = layer.receive(response(req, 487), UAS, 2.2)
    assert summary(fx) == ["Send:ACK", "DeliverResponse"]
    advance(layer, 1000)
    assert layer.in_use == 0


def test_cancel_b_method_1_final_before_provisional_needs_no_cancel() -> None:
    layer = make_layer()
    tx, req = outgoing(layer)
    layer.cancel(tx, 0.25, method=1)
    layer.drain()
    fx = layer.receive(response(req, 486), UAS, 1.0)
    assert summary(fx) == ["Send:ACK", "DeliverResponse"]
    assert tx.cancel_tx is None


def test_cancel_b_method_2_unreplied_cancels_now_and_stops_retransmitting() -> None:
    layer = make_layer()
    tx, req = outgoing(layer)
    layer.drain()
    assert layer.cancel(tx, 0.25, method=2) is CancelOutcome.SENT
    fx = layer.drain()
    assert summary(fx) == ["Send:REQUEST"] and fx[0].tx is tx.cancel_tx
    log = advance_log(layer, 20.0)
    assert send_times(log, tx, SendKind.REQUEST_RETRANSMISSION) == []
    # the CANCEL itself is retransmitted as a non-INVITE (T1 doubling to T2)
    assert send_times(log, tx.cancel_tx, SendKind.REQUEST_RETRANSMISSION) == [
        0.75, 1.75, 3.75, 7.75, 11.75, 15.75, 19.75]
    # a provisional now waits fr_timer for the final (the CANCEL is out), not fr_inv
    layer.receive(response(req, 180), UAS, 20.0)
    assert tx.main_timer is TimerName.CANCEL and tx.main_deadline == 50.0


def test_cancel_with_provisional_sends_cancel_whatever_the_method() -> None:
    for method in (0, 1, 2):
        layer = make_layer()
        tx, req = outgoing(layer)
        layer.receive(response(req, 180), UAS, 1.0)
        layer.drain()
        assert layer.cancel(tx, 2.0, method=method) is CancelOutcome.SENT
        assert summary(layer.drain()) == ["Send:REQUEST"]
        assert layer.cancel(tx, 3.0) is CancelOutcome.SENT  # idempotent
        assert layer.drain() == []


def test_cancel_after_final_is_not_needed() -> None:
    layer = make_layer()
    tx, req = outgoing(layer)
    layer.receive(response(req, 200), UAS, 1.0)
    assert layer.cancel(tx, 2.0) is CancelOutcome.NOT_NEEDED
    tx2, req2 = outgoing(layer, call_id="other")
    layer.receive(response(req2, 486), UAS, 1.0)
    assert layer.cancel(tx2, 2.0) is CancelOutcome.NOT_NEEDED


def test_cancel_carries_reason_header() -> None:
    layer = make_layer()
    tx, req = outgoing(layer)
    layer.receive(response(req, 180), UAS, 1.0)
    layer.drain()
    layer.cancel(tx, 2.0, headers=[("Reason", 'SIP;cause=200;text="Call completed elsewhere"')])
    data = layer.drain()[0].data
    assert b'\r\nReason: SIP;cause=200;text="Call completed elsewhere"\r\n' in data


# --- transport errors ---------------------------------------------------------------


def test_transport_error_on_the_request_is_reported_and_terminates() -> None:
    layer = make_layer()
    _tx, _ = outgoing(layer)
    send = layer.drain()[0]
    fx = layer.send_failed(send, 0.0, "connection refused")
    assert summary(fx) == ["TransportError", "Terminated"]
    assert fx[0].destination == UAS and fx[0].reason == "connection refused"
    assert layer.in_use == 0 and layer.next_deadline() is None


# --- Figure 5, row by row ---------------------------------------------------------------

Setup = Callable[[TransactionLayer], tuple]


def calling(layer: TransactionLayer) -> tuple:
    return outgoing(layer)


def proceeding(layer: TransactionLayer) -> tuple:
    tx, req = outgoing(layer)
    layer.receive(response(req, 180), UAS, 0.25)
    return tx, req


def completed(layer: TransactionLayer) -> tuple:
    tx, req = outgoing(layer)
    layer.receive(response(req, 486), UAS, 0.25)
    return tx, req


def timed_out(layer: TransactionLayer) -> tuple:
    tx, req = outgoing(layer)
    advance(layer, 30.0)
    assert tx.state is State.COMPLETED and tx.main_timer is TimerName.WAIT
    return tx, req


def accepted(layer: TransactionLayer) -> tuple:
    tx, req = outgoing(layer)
    layer.receive(response(req, 200), UAS, 0.25)
    return tx, req


def cancelled(layer: TransactionLayer) -> tuple:
    tx, req = proceeding(layer)
    layer.cancel(tx, 0.5)
    return tx, req


def reply(status: int) -> Callable:
    def apply(layer: TransactionLayer, tx: object, req: object) -> list:
        return layer.receive(response(req, status), UAS, 1.0)
    return apply


def fire_main(layer: TransactionLayer, tx: object, req: object) -> list:
    return fire_at(layer, tx.main_deadline)


def fire_retr(layer: TransactionLayer, tx: object, req: object) -> list:
    return fire_at(layer, tx.retransmission_deadline)


def transport_error(layer: TransactionLayer, tx: object, req: object) -> list:
    return layer.send_failed(Send(b"", UAS, tx, SendKind.REQUEST), 1.0, "unreachable")


def cancel(layer: TransactionLayer, tx: object, req: object) -> list:
    layer.cancel(tx, 1.0)
    return layer.drain()


S, E, T = State, Event, TimerName
FIGURE_5_CASES = [
    # (state, input, setup, apply, next state, effects of this transaction)
    (S.CALLING, T.A, calling, fire_retr, S.CALLING, ["Send:REQUEST_RETRANSMISSION"]),
    (S.CALLING, T.B, calling, fire_main, S.COMPLETED, ["Timeout:B"]),
    (S.CALLING, E.PROVISIONAL, calling, reply(180), S.PROCEEDING, ["DeliverResponse"]),
    (S.CALLING, E.SUCCESS, calling, reply(200), S.ACCEPTED, ["DeliverResponse"]),
    (S.CALLING, E.FAILURE, calling, reply(404), S.COMPLETED, ["Send:ACK", "DeliverResponse"]),
    (S.CALLING, E.TRANSPORT_ERROR, calling, transport_error, S.TERMINATED,
     ["TransportError", "Terminated"]),
    (S.CALLING, E.CANCEL, calling, cancel, S.CALLING, []),  # cancel_b_method 1: pending
    (S.PROCEEDING, E.PROVISIONAL, proceeding, reply(183), S.PROCEEDING, ["DeliverResponse"]),
    (S.PROCEEDING, E.SUCCESS, proceeding, reply(200), S.ACCEPTED, ["DeliverResponse"]),
    (S.PROCEEDING, E.FAILURE, proceeding, reply(600), S.COMPLETED,
     ["Send:ACK", "DeliverResponse"]),
    (S.PROCEEDING, E.TRANSPORT_ERROR, proceeding, transport_error, S.TERMINATED,
     ["TransportError", "Terminated"]),
    (S.PROCEEDING, E.CANCEL, proceeding, cancel, S.PROCEEDING, []),  # CANCEL is its own tx
    (S.PROCEEDING, T.C, proceeding, fire_main, S.PROCEEDING, ["Timeout:C"]),
    (S.PROCEEDING, T.CANCEL, cancelled, fire_main, S.COMPLETED, ["Timeout:CANCEL"]),
    (S.COMPLETED, E.FAILURE, completed, reply(486), S.COMPLETED, ["Send:ACK"]),
    (S.COMPLETED, E.SUCCESS, timed_out, reply(200), S.COMPLETED, ["DeliverResponse"]),
    (S.COMPLETED, E.TRANSPORT_ERROR, completed, transport_error, S.TERMINATED,
     ["TransportError", "Terminated"]),
    (S.COMPLETED, T.D, completed, fire_main, S.TERMINATED, ["Terminated"]),
    (S.COMPLETED, T.WAIT, timed_out, fire_main, S.TERMINATED, ["Terminated"]),
    (S.ACCEPTED, E.SUCCESS, accepted, reply(200), S.ACCEPTED, ["DeliverResponse"]),
    (S.ACCEPTED, T.M, accepted, fire_main, S.TERMINATED, ["Terminated"]),
]


def test_figure_5_cases_cover_every_transition() -> None:
    assert {(c[0], c[1]) for c in FIGURE_5_CASES} == set(INVITE_CLIENT_FIGURE_5)
    assert len(FIGURE_5_CASES) == len(INVITE_CLIENT_FIGURE_5)


@pytest.mark.parametrize(
    "state,event,setup,apply,next_state,effects", FIGURE_5_CASES,
    ids=[f"{c[0].name}-{c[1].name}" for c in FIGURE_5_CASES])
def test_figure_5(state: State, event: object, setup: Setup, apply: Callable,
                  next_state: State, effects: list[str]) -> None:
    layer = make_layer()
    tx, req = setup(layer)
    layer.drain()
    assert tx.state is state
    assert INVITE_CLIENT_FIGURE_5[(state, event)].next_state is next_state
    out = apply(layer, tx, req)
    assert tx.state is next_state
    assert summary(out, tx) == effects


IGNORED = [
    (proceeding, reply(180), None),  # sanity: not ignored (control)
    (completed, reply(180), []),
    (accepted, reply(180), []),
    (accepted, reply(404), []),
]


@pytest.mark.parametrize("setup,apply,expected", IGNORED[1:])
def test_inputs_outside_the_figure_are_ignored(setup: Setup, apply: Callable,
                                              expected: list) -> None:
    layer = make_layer()
    tx, req = setup(layer)
    layer.drain()
    before = tx.state
    assert summary(apply(layer, tx, req), tx) == expected
    assert tx.state is before


def test_deliver_response_carries_source_and_branch_index() -> None:
    layer = make_layer()
    branch = layer.new_branch()
    from txhelpers import request

    req = request(branch=branch, via_host="198.51.100.1")
    owner = object()
    tx = layer.send_request(req, UAS, 0.0, owner=owner, branch_index=3)
    fx = layer.receive(response(req, 180), UAS, 0.1)
    d = of_type(fx, DeliverResponse)[0]
    assert d.tx is tx and d.source == UAS
    assert tx.owner is owner and tx.branch_index == 3 and tx.replied
