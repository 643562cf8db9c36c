"""Non-INVITE client transaction: RFC 3261 Figure 6, RFC 4320, seed timers."""

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
    outgoing,
    response,
    summary,
)

from siptm.core import Event, Send, SendKind, State, Terminated, Timeout, TimerName
from siptm.core.client import NON_INVITE_CLIENT_FIGURE_6


def retransmissions(log: list, tx: object) -> list[float]:
    return [t for t, e in log
            if isinstance(e, Send) and e.tx is tx and e.kind == SendKind.REQUEST_RETRANSMISSION]


def test_schedule_doubles_from_t1_capped_at_t2_until_fr_timer() -> None:
    layer = make_layer()
    tx, _ = outgoing(layer, "MESSAGE")
    assert summary(layer.drain()) == ["Send:REQUEST"]
    log = advance_log(layer, 1000)
    assert retransmissions(log, tx) == [
        0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5]
    # RFC 4320: a timeout is reported, never turned into a 408 by the transaction
    assert [(t, summary([e])[0]) for t, e in log if not isinstance(e, Send)] == [
        (30.0, "Timeout:F"), (35.0, "Terminated")]


def test_other_t1_t2() -> None:
    layer = make_layer(retr_timer1=250, retr_timer2=1000, fr_timer=5000)
    tx, _ = outgoing(layer, "OPTIONS")
    log = advance_log(layer, 1000)
    assert retransmissions(log, tx) == [0.25, 0.75, 1.75, 2.75, 3.75, 4.75]
    assert [t for t, e in log if isinstance(e, Timeout)] == [5.0]


def test_opensips_names_give_the_same_schedule() -> None:
    from siptm.core import IdFactory, TimerConfig, TransactionLayer

    config = TimerConfig.from_mapping({"T1_timer": 250, "T2_timer": 1000, "fr_timeout": 5})
    layer = TransactionLayer(config, ids=IdFactory("x"))
    tx, _ = outgoing(layer, "OPTIONS")
    log = advance_log(layer, 1000)
    assert retransmissions(log, tx) == [0.25, 0.75, 1.75, 2.75, 3.75, 4.75]


def test_provisional_moves_to_proceeding_and_e_becomes_t2() -> None:
    layer = make_layer()
    tx, req = outgoing(layer, "REGISTER")
    advance(layer, 0.75)
    fx = layer.receive(response(req, 100), UAS, 0.75)
    assert summary(fx) == ["DeliverResponse"]
    assert tx.state is State.PROCEEDING
    log = advance_log(layer, 20)
    # E was due at 1.5 (interval 1 s); from then on every T2 (4 s)
    assert retransmissions(log, tx) == [1.5, 5.5, 9.5, 13.5, 17.5]


def test_final_completes_then_timer_k_t4() -> None:
    layer = make_layer()
    tx, req = outgoing(layer, "BYE")
    layer.drain()
    fx = layer.receive(response(req, 200), UAS, 1.0)
    assert summary(fx) == ["DeliverResponse"]
    assert tx.state is State.COMPLETED
    # retransmissions of the final are absorbed, not passed up
    assert layer.receive(response(req, 200), UAS, 2.0) == []
    assert layer.receive(response(req, 481), UAS, 2.0) == []
    log = advance_log(layer, 100)
    assert [(t, summary([e])[0]) for t, e in log] == [(6.0, "Terminated")]  # K = T4


def test_reliable_transport_no_retransmission_and_k_zero() -> None:
    layer = make_layer()
    _tx, req = outgoing(layer, "BYE", destination=UAS_TCP)
    assert summary(layer.drain()) == ["Send:REQUEST"]
    assert advance(layer, 10.0) == []
    fx = layer.receive(response(req, 200), UAS_TCP, 10.0)
    assert summary(fx) == ["DeliverResponse", "Terminated"]


def test_late_final_after_timeout_is_absorbed_while_lingering() -> None:
    layer = make_layer()
    tx, req = outgoing(layer, "MESSAGE")
    advance(layer, 30.0)
    layer.drain()
    assert tx.timed_out and tx.state is State.COMPLETED
    assert layer.receive(response(req, 200), UAS, 31.0) == []  # not a stray response
    assert layer.stats.stray_responses == 0
    advance(layer, 40.0)
    assert summary(layer.receive(response(req, 200), UAS, 41.0)) == ["DeliverResponse"]
    assert layer.stats.stray_responses == 1  # gone: now it is stray (tx None)


def test_wt_timer_zero_gives_the_rfc_direct_termination() -> None:
    layer = make_layer(wt_timer=0)
    _tx, _ = outgoing(layer, "MESSAGE")
    log = advance_log(layer, 1000)
    assert [(t, summary([e])[0]) for t, e in log if not isinstance(e, Send)] == [
        (30.0, "Timeout:F"), (30.0, "Terminated")]


def test_fr_timer_clamped_by_max_noninv_lifetime() -> None:
    layer = make_layer(max_noninv_lifetime=10000)
    _tx, _ = outgoing(layer, "MESSAGE")
    log = advance_log(layer, 1000)
    assert [(t, e.timer) for t, e in log if isinstance(e, Timeout)] == [(10.0, TimerName.F)]


# --- Figure 6, row by row ---------------------------------------------------------------


def trying(layer: object) -> tuple:
    return outgoing(layer, "OPTIONS")


def proceeding(layer: object) -> tuple:
    tx, req = outgoing(layer, "OPTIONS")
    layer.receive(response(req, 100), UAS, 0.25)
    return tx, req


def completed(layer: object) -> tuple:
    tx, req = outgoing(layer, "OPTIONS")
    layer.receive(response(req, 200), UAS, 0.25)
    return tx, req


def timed_out(layer: object) -> tuple:
    tx, req = outgoing(layer, "OPTIONS")
    advance(layer, 30.0)
    return tx, req


def reply(status: int) -> Callable:
    def apply(layer: object, tx: object, req: object) -> list:
        return layer.receive(response(req, status), UAS, 1.0)
    return apply


def fire_main(layer: object, tx: object, req: object) -> list:
    return fire_at(layer, tx.main_deadline)


def fire_retr(layer: object, tx: object, req: object) -> list:
    return fire_at(layer, tx.retransmission_deadline)


def transport_error(layer: object, tx: object, req: object) -> list:
    return layer.send_failed(Send(b"", UAS, tx, SendKind.REQUEST), 1.0, "unreachable")


S, E, T = State, Event, TimerName
FIGURE_6_CASES = [
    (S.TRYING, T.E, trying, fire_retr, S.TRYING, ["Send:REQUEST_RETRANSMISSION"]),
    (S.TRYING, T.F, trying, fire_main, S.COMPLETED, ["Timeout:F"]),
    (S.TRYING, E.PROVISIONAL, trying, reply(100), S.PROCEEDING, ["DeliverResponse"]),
    (S.TRYING, E.SUCCESS, trying, reply(202), S.COMPLETED, ["DeliverResponse"]),
    (S.TRYING, E.FAILURE, trying, reply(503), S.COMPLETED, ["DeliverResponse"]),
    (S.TRYING, E.TRANSPORT_ERROR, trying, transport_error, S.TERMINATED,
     ["TransportError", "Terminated"]),
    (S.PROCEEDING, T.E, proceeding, fire_retr, S.PROCEEDING, ["Send:REQUEST_RETRANSMISSION"]),
    (S.PROCEEDING, T.F, proceeding, fire_main, S.COMPLETED, ["Timeout:F"]),
    (S.PROCEEDING, E.PROVISIONAL, proceeding, reply(101), S.PROCEEDING, ["DeliverResponse"]),
    (S.PROCEEDING, E.SUCCESS, proceeding, reply(200), S.COMPLETED, ["DeliverResponse"]),
    (S.PROCEEDING, E.FAILURE, proceeding, reply(404), S.COMPLETED, ["DeliverResponse"]),
    (S.PROCEEDING, E.TRANSPORT_ERROR, proceeding, transport_error, S.TERMINATED,
     ["TransportError", "Terminated"]),
    (S.COMPLETED, E.SUCCESS, completed, reply(200), S.COMPLETED, []),
    (S.COMPLETED, E.FAILURE, completed, reply(500), S.COMPLETED, []),
    (S.COMPLETED, T.K, completed, fire_main, S.TERMINATED, ["Terminated"]),
    (S.COMPLETED, T.WAIT, timed_out, fire_main, S.TERMINATED, ["Terminated"]),
]


def test_figure_6_cases_cover_every_transition() -> None:
    assert {(c[0], c[1]) for c in FIGURE_6_CASES} == set(NON_INVITE_CLIENT_FIGURE_6)
    assert len(FIGURE_6_CASES) == len(NON_INVITE_CLIENT_FIGURE_6)


@pytest.mark.parametrize(
    "state,event,setup,apply,next_state,effects", FIGURE_6_CASES,
    ids=[f"{c[0].name}-{c[1].name}" for c in FIGURE_6_CASES])
def test_figure_6(state: State, event: object, setup: Callable, apply: Callable,
                  next_state: State, effects: list[str]) -> None:
    layer = make_layer()
    tx, req = setup(layer)
    layer.drain()
    assert tx.state is state
    assert NON_INVITE_CLIENT_FIGURE_6[(state, event)].next_state is next_state
    out = apply(layer, tx, req)
    assert tx.state is next_state
    assert summary(out, tx) == effects


def test_provisional_in_completed_is_ignored() -> None:
    layer = make_layer()
    tx, req = completed(layer)
    layer.drain()
    assert layer.receive(response(req, 100), UAS, 1.0) == []
    assert tx.state is State.COMPLETED


def test_terminated_leaves_nothing_behind() -> None:
    layer = make_layer()
    for i in range(5):
        outgoing(layer, "OPTIONS", call_id=f"c{i}")
    advance(layer, 1000)
    effects = layer.drain()
    assert not [e for e in effects if not isinstance(e, Terminated | Send | Timeout)]
    assert layer.in_use == 0
    assert layer.table.client_by_key == {}
    assert len(layer.timers) == 0 and layer.next_deadline() is None
