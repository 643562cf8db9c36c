"""Proxy timers end to end (seed 002): fr_timer, fr_inv_timer, restart_fr_on_each_reply,
noisy_ctimer, max_*_lifetime, the per-transaction t_set_* / t_reset_* and wt_timer."""

from __future__ import annotations

import pytest

from siptm.script import Router
from siptm.testing import UAC, UAS, ProxyHarness, make_request, make_response


def router_with(*calls: tuple[str, tuple], failure: bool = False) -> Router:
    """A relay script that first calls ``tm.<name>(*args)`` for each of ``calls``."""
    router = Router()

    @router.request
    def route(msg, tm):
        if msg.method == "CANCEL":
            tm.t_relay_cancel()
        for name, args in calls:
            getattr(tm, name)(*args)
        if failure:
            tm.t_on_failure("nothing")
        tm.t_relay()

    @router.failure("nothing")
    def nothing(msg, tm):
        pass

    return router


def sent_log(h: ProxyHarness) -> list[tuple[float, str, str]]:
    """(time, who, first line) of everything not taken yet."""
    out = []
    for s in h.take_sent():
        who = "uac" if s.dest == UAC else "uas" if s.dest == UAS else str(s.dest)
        line = s.first_line
        out.append((round(s.time, 3), who, line[8:11] if line.startswith("SIP/")
                    else line.split(" ", 1)[0]))
    return out


def finals_up(h: ProxyHarness) -> list[tuple[float, int]]:
    """(time, status) of the final replies sent upstream and not taken yet, without the
    Timer G repetitions of a non-2xx the UAC did not ACK."""
    out: list[tuple[float, int]] = []
    for s in h.take_sent(UAC):
        status = s.msg.status
        if status >= 200 and not any(code == status for _, code in out):
            out.append((round(s.time, 3), status))
    return out


def test_no_reply_to_an_invite_is_408_after_fr_timer():
    h = ProxyHarness(router_with(), {"fr_timer": 2000})
    h.inject(make_request("INVITE"), UAC)
    h.advance(2.1)
    log = sent_log(h)
    assert [e for e in log if e[1] == "uac"] == [(0, "uac", "100"), (2, "uac", "408")]
    assert [e[0] for e in log if e[1] == "uas"] == [0, 0.5, 1.5]
    h.inject(make_request("ACK", to_tag=h.sent[-1].msg.to_tag), UAC)
    h.advance(40)
    assert h.in_use == 0


def test_no_reply_to_a_non_invite_is_408_by_default_and_none_in_rfc4320_mode():
    h = ProxyHarness(router_with(), {"fr_timer": 3000})
    h.inject(make_request("MESSAGE"), UAC)
    h.advance(3)
    assert [m.status for m in h.take(UAC)] == [408]
    h.settle()
    assert h.in_use == 0

    h = ProxyHarness(router_with(), {"fr_timer": 3000, "rfc4320_no_408": True})
    h.inject(make_request("MESSAGE"), UAC)
    h.advance(3)
    assert h.take(UAC) == []
    assert len(h.take(UAS)) == 3  # 0, 0.5, 1.5
    # the request is still absorbed meanwhile (no new routing, no reply)
    h.inject(make_request("MESSAGE"), UAC)
    assert h.take(UAC) == [] and h.take(UAS) == []
    h.settle()
    assert h.in_use == 0


def test_invite_with_a_provisional_gets_cancel_and_408_after_fr_inv_timer():
    h = ProxyHarness(router_with(), {"fr_inv_timer": 10000})
    h.inject(make_request("INVITE"), UAC)
    h.take(UAC)
    invite = h.take_one(UAS)
    h.advance(1)
    h.inject(make_response(invite, 180), UAS)
    assert [m.status for m in h.take(UAC)] == [180]
    h.advance(10)
    log = sent_log(h)
    assert (11, "uas", "CANCEL") in log and (11, "uac", "408") in log
    [cancel] = [s.msg for s in h.sent if s.first_line.startswith("CANCEL")]
    h.inject(make_response(cancel, 200, to_tag=None), UAS)
    h.inject(make_response(invite, 487), UAS)
    assert [m.method for m in h.take(UAS)] == ["ACK"]
    assert h.take(UAC) == []  # the 408 went up already
    [timeout] = [s.msg for s in h.sent if s.dest == UAC and s.msg.status == 408]
    h.inject(make_request("ACK", to_tag=timeout.to_tag), UAC)
    h.settle()
    assert h.in_use == 0


@pytest.mark.parametrize(("restart", "code", "expected"), [
    (True, 180, 15.0),   # every provisional restarts fr_inv_timer
    (False, 180, 11.0),  # the same code again does not
    (False, 183, 15.0),  # a higher code >= 180 does
])
def test_restart_fr_on_each_reply(restart, code, expected):
    h = ProxyHarness(router_with(), {"fr_inv_timer": 10000,
                                     "restart_fr_on_each_reply": restart})
    h.inject(make_request("INVITE"), UAC)
    h.take(UAC)
    invite = h.take_one(UAS)
    h.advance(1)
    h.inject(make_response(invite, 180), UAS)
    h.advance(4)
    h.inject(make_response(invite, code), UAS)
    h.take()
    h.advance(20)
    assert finals_up(h) == [(expected, 408)]


def test_noisy_ctimer_0_drops_a_lone_unanswered_invite_silently():
    h = ProxyHarness(router_with(), {"noisy_ctimer": False, "fr_timer": 2000})
    h.inject(make_request("INVITE"), UAC)
    assert [m.status for m in h.take(UAC)] == [100]
    h.advance(3)
    assert h.take(UAC) == []
    assert len(h.take(UAS)) == 3  # 0, 0.5, 1.5: stopped at fr_timer
    # retransmissions are still absorbed for wt_timer
    h.inject(make_request("INVITE"), UAC)
    assert h.take(UAS) == []
    h.settle()
    assert h.in_use == 0


def test_noisy_ctimer_0_still_answers_when_the_branch_replied_or_a_failure_route_is_set():
    h = ProxyHarness(router_with(), {"noisy_ctimer": False, "fr_inv_timer": 2000})
    h.inject(make_request("INVITE"), UAC)
    invite = h.take_one(UAS)
    h.inject(make_response(invite, 180), UAS)
    h.take()
    h.advance(2)
    assert finals_up(h) == [(2, 408)]

    h = ProxyHarness(router_with(failure=True), {"noisy_ctimer": False, "fr_timer": 2000})
    h.inject(make_request("INVITE"), UAC)
    h.take()
    h.advance(2)
    assert finals_up(h) == [(2, 408)]


def test_noisy_ctimer_1_answers_408():
    h = ProxyHarness(router_with(), {"noisy_ctimer": True, "fr_timer": 2000})
    h.inject(make_request("INVITE"), UAC)
    h.take()
    h.advance(2)
    assert finals_up(h) == [(2, 408)]


def test_max_inv_lifetime_ends_a_ringing_invite():
    h = ProxyHarness(router_with(), {"max_inv_lifetime": 7000, "fr_inv_timer": 120000})
    h.inject(make_request("INVITE"), UAC)
    h.take(UAC)
    invite = h.take_one(UAS)
    h.inject(make_response(invite, 180), UAS)
    h.take()
    h.advance(6.9)
    assert h.pending() == []
    h.advance(0.2)
    log = sent_log(h)
    assert (7, "uas", "CANCEL") in log and (7, "uac", "408") in log
    assert len(log) == 2


def test_max_noninv_lifetime_ends_a_non_invite_before_fr_timer():
    h = ProxyHarness(router_with(), {"max_noninv_lifetime": 5000})
    h.inject(make_request("MESSAGE"), UAC)
    h.advance(6)
    assert finals_up(h) == [(5, 408)]


def test_t_set_fr_per_transaction():
    # fr_timer 2 s for this transaction (no provisional), fr_inv_timer 5 s after one
    h = ProxyHarness(router_with(("t_set_fr", (5000, 2000))))
    h.inject(make_request("INVITE"), UAC)
    h.take()
    h.advance(3)
    assert finals_up(h) == [(2, 408)]

    h = ProxyHarness(router_with(("t_set_fr", (5000, 2000))))
    h.inject(make_request("INVITE"), UAC)
    invite = h.take_one(UAS)
    h.advance(1)
    h.inject(make_response(invite, 183), UAS)
    h.take()
    h.advance(10)
    assert finals_up(h) == [(6, 408)]

    # t_set_fr(x) alone keeps fr_timer: 0 means "do not change"
    h = ProxyHarness(router_with(("t_set_fr", (5000,))), {"fr_timer": 3000})
    h.inject(make_request("INVITE"), UAC)
    h.take()
    h.advance(4)
    assert finals_up(h) == [(3, 408)]


def test_t_reset_fr_restores_the_configured_values():
    h = ProxyHarness(router_with(("t_set_fr", (5000, 1000)), ("t_reset_fr", ())),
                     {"fr_timer": 3000})
    h.inject(make_request("MESSAGE"), UAC)
    h.advance(4)
    assert finals_up(h) == [(3, 408)]


def test_t_set_max_lifetime_and_reset():
    h = ProxyHarness(router_with(("t_set_max_lifetime", (4000, 2000))))
    h.inject(make_request("MESSAGE"), UAC)
    h.advance(3)
    assert finals_up(h) == [(2, 408)]

    h = ProxyHarness(router_with(("t_set_max_lifetime", (4000, 2000))))
    h.inject(make_request("INVITE"), UAC)
    invite = h.take_one(UAS)
    h.inject(make_response(invite, 180), UAS)
    h.take()
    h.advance(5)
    assert finals_up(h) == [(4, 408)]

    h = ProxyHarness(router_with(("t_set_max_lifetime", (4000, 2000)),
                                 ("t_reset_max_lifetime", ())),
                     {"max_noninv_lifetime": 3000})
    h.inject(make_request("MESSAGE"), UAC)
    h.advance(4)
    assert finals_up(h) == [(3, 408)]


@pytest.mark.parametrize("method", ["INVITE", "MESSAGE"])
def test_transactions_are_freed_after_wt_timer(method):
    h = ProxyHarness(router_with(), {"wt_timer": 1000})
    h.inject(make_request(method), UAC)
    req = h.take_one(UAS)
    h.inject(make_response(req, 404), UAS)
    if method == "INVITE":
        h.inject(make_request("ACK", to_tag="uastag"), UAC)
    h.settle()
    assert h.in_use == 0


def test_t_set_fr_and_t_set_retr_after_t_relay_update_the_running_branch():
    router = Router()

    @router.request
    def route(msg, tm):
        tm.t_relay()
        tm.t_set_fr(0, 1800)  # the branch's running fr_timer restarts with 1.8 s
        tm.t_set_retr(200, 0)  # after the current 0.5 s interval: 0.2, 0.4, ...

    h = ProxyHarness(router)
    h.inject(make_request("MESSAGE"), UAC)
    h.advance(2)
    assert [round(s.time, 3) for s in h.take_sent(UAS)] == [0, 0.5, 0.7, 1.1]
    assert finals_up(h) == [(1.8, 408)]
