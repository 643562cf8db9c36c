"""Per-transaction timer values: t_set_fr / t_reset_fr, t_set_retr / t_reset_retr,
t_set_max_lifetime / t_reset_max_lifetime (seed 002 semantics)."""

from __future__ import annotations

from txhelpers import UAC, UAS, advance_log, make_layer, outgoing, request, response

from siptm.core import Send, SendKind, Timeout, TimerName


def sent(log: list, tx: object) -> list[float]:
    return [t for t, e in log
            if isinstance(e, Send) and e.tx is tx and e.kind == SendKind.REQUEST_RETRANSMISSION]


def timeouts(log: list, tx: object) -> list[tuple[float, TimerName]]:
    return [(t, e.timer) for t, e in log if isinstance(e, Timeout) and e.tx is tx]


def test_set_fr_on_a_live_calling_branch_restarts_b_from_now() -> None:
    layer = make_layer()
    tx, _ = outgoing(layer)
    advance_log(layer, 5.0)
    tx.set_fr(0, 10000, now=5.0)  # keep fr_inv, fr_timer 10 s
    assert tx.timing.fr == 10.0 and tx.timing.fr_inv == 120.0
    assert timeouts(advance_log(layer, 100), tx) == [(15.0, TimerName.B)]


def test_set_fr_on_a_proceeding_branch_changes_the_fr_inv_timer() -> None:
    layer = make_layer()
    tx, req = outgoing(layer)
    layer.receive(response(req, 180), UAS, 1.0)
    tx.set_fr(50000, now=20.0)
    log = advance_log(layer, 200)
    assert timeouts(log, tx)[0] == (70.0, TimerName.C)
    # later provisionals restart with the new value too
    layer2 = make_layer()
    tx2, req2 = outgoing(layer2)
    layer2.receive(response(req2, 180), UAS, 1.0)
    tx2.set_fr(50000, now=2.0)
    layer2.receive(response(req2, 183), UAS, 10.0)
    assert tx2.main_deadline == 60.0


def test_set_fr_zero_changes_nothing_and_reset_fr_restores_the_configuration() -> None:
    layer = make_layer()
    tx, _ = outgoing(layer)
    tx.set_fr(0, 0, now=1.0)
    assert tx.main_deadline == 30.0
    tx.set_fr(60000, 2000, now=1.0)
    assert tx.main_deadline == 3.0
    tx.reset_fr(now=2.0)
    assert tx.timing.fr == 30.0 and tx.timing.fr_inv == 120.0
    assert tx.main_deadline == 32.0


def test_branch_created_with_overridden_timing() -> None:
    layer = make_layer()
    timing = layer.default_timing(True).replace(fr=3.0, fr_inv=60.0)
    branch = layer.new_branch()
    tx = layer.send_request(request(branch=branch), UAS, 0.0, timing=timing)
    assert timeouts(advance_log(layer, 100), tx) == [(3.0, TimerName.B)]  # fast failover


def test_set_retr_takes_effect_after_the_current_interval_invite() -> None:
    layer = make_layer()
    tx, _ = outgoing(layer)
    log = advance_log(layer, 1.0)  # sent at 0 and 0.5; next due 1.5 (interval 1)
    tx.set_retr(250, 0)
    log += advance_log(layer, 12.0)
    # 1.5 keeps the old interval; then 0.25 and doubling again
    assert sent(log, tx) == [0.5, 1.5, 1.75, 2.25, 3.25, 5.25, 9.25]


def test_set_retr_after_reaching_t2_restarts_at_the_new_t2() -> None:
    layer = make_layer()
    tx, _ = outgoing(layer, "MESSAGE")
    log = advance_log(layer, 9.0)  # 0.5 1.5 3.5 7.5: interval is now T2 (4 s)
    tx.set_retr(0, 2000)
    log += advance_log(layer, 20.0)
    assert sent(log, tx) == [0.5, 1.5, 3.5, 7.5, 11.5, 13.5, 15.5, 17.5, 19.5]


def test_set_retr_below_t2_restarts_at_the_new_t1_and_caps_at_the_new_t2() -> None:
    layer = make_layer()
    tx, _ = outgoing(layer, "MESSAGE")
    log = advance_log(layer, 1.0)  # 0.5; next at 1.5 (interval 1)
    tx.set_retr(100, 400)
    log += advance_log(layer, 3.0)
    assert sent(log, tx) == [0.5, 1.5, 1.6, 1.8, 2.2, 2.6, 3.0]


def test_reset_retr() -> None:
    layer = make_layer()
    tx, _ = outgoing(layer, "MESSAGE")
    tx.set_retr(100, 400)
    tx.reset_retr()
    assert (tx.timing.t1, tx.timing.t2) == (0.5, 4.0)


def test_set_retr_on_server_g() -> None:
    layer = make_layer()
    fx = layer.receive(request(), UAC, 0.0)
    tx = fx[0].tx
    tx.set_retr(250, 1000)  # before the final: G starts with it
    layer.reply(tx, 486, 0.0)
    log = advance_log(layer, 4.0)
    assert [t for t, e in log if isinstance(e, Send) and
            e.kind == SendKind.RESPONSE_RETRANSMISSION] == [0.25, 0.75, 1.75, 2.75, 3.75]


def test_set_max_lifetime_pulls_in_a_running_final_response_timer() -> None:
    layer = make_layer()
    tx, _ = outgoing(layer)
    tx.set_max_lifetime(5000, 0, now=1.0)
    assert tx.eol == 6.0 and tx.main_deadline == 6.0
    assert timeouts(advance_log(layer, 100), tx) == [(6.0, TimerName.B)]
    # the non-INVITE value does not apply to an INVITE
    layer2 = make_layer()
    tx2, _ = outgoing(layer2)
    tx2.set_max_lifetime(0, 1000, now=1.0)
    assert tx2.eol == 180.0


def test_set_max_lifetime_non_invite_and_reset() -> None:
    layer = make_layer()
    tx, _ = outgoing(layer, "OPTIONS")
    tx.set_max_lifetime(90000, 15000, now=0.0)
    assert tx.eol == 15.0 and tx.main_deadline == 15.0
    tx.reset_max_lifetime(now=1.0)
    assert tx.eol == 33.0 and tx.timing.lifetime == 32.0
    assert tx.main_deadline == 15.0  # already pulled in: not pushed out again


def test_set_max_lifetime_on_a_server_transaction_moves_its_lifetime() -> None:
    layer = make_layer()
    tx = layer.receive(request(), UAC, 0.0)[0].tx
    tx.set_max_lifetime(20000, 0, now=10.0)
    log = advance_log(layer, 1000)
    assert timeouts(log, tx) == [(30.0, TimerName.LIFETIME)]
    assert tx.expired(30.0) and not tx.expired(29.0)
