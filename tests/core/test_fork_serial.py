"""Serial forking, sans-IO: forward on no answer (fr_inv_timer + failure route), seed 002
``t_load_contacts`` / ``t_next_contacts`` by q-value with ``fr_inv_timer_next``, failure
routes that add branches, ``t_drop_replies``, the winning R-URI and ``t_save_lumps``."""

from __future__ import annotations

from forkhelpers import no_transaction_left  # noqa: F401  (autouse fixture)

from siptm.script import Router
from siptm.testing import (
    UAC,
    UAS,
    UAS2,
    UAS3,
    UAS4,
    Gate,
    ProxyHarness,
    make_request,
    make_response,
)

BOB = "sip:bob@192.0.2.9"  # UAS
CAROL = "sip:carol@192.0.2.10"  # UAS2
DAVE = "sip:dave@192.0.2.11"  # UAS3
ERIN = "sip:erin@192.0.2.12"  # UAS4
VOICEMAIL = "sip:vm@192.0.2.11"  # UAS3


def ack_up(h: ProxyHarness, to_tag: str | None) -> None:
    h.inject(make_request("ACK", to_tag=to_tag), UAC)


def finish(h: ProxyHarness) -> None:
    h.settle()
    assert h.in_use == 0


def test_forward_on_no_answer_fr_inv_timer_then_voicemail():
    seen: list[tuple] = []
    router = Router()

    @router.request
    def route(msg, tm):
        tm.t_set_fr(5000)  # ring for 5 s
        tm.t_on_failure("voicemail")
        tm.t_relay()

    @router.failure("voicemail")
    def voicemail(msg, tm):
        seen.append((msg.uri_text, int(tm.T_reply_code), bool(tm.t_check_status("408")),
                     bool(tm.t_branch_timeout()), bool(tm.t_branch_replied()),
                     bool(tm.t_local_replied("last")), bool(tm.t_local_replied("all"))))
        msg.uri = VOICEMAIL
        tm.t_set_fr(0, 0)
        assert tm.t_relay()

    h = ProxyHarness(router)
    h.inject(make_request("INVITE"), UAC)
    invite = h.take_one(UAS)
    h.inject(make_response(invite, 180, to_tag="bob"), UAS)
    assert [m.status for m in h.take(UAC)] == [100, 180]
    h.advance(5.0)
    cancel = h.take_one(UAS)  # Timer C (fr_inv_timer) fired at 5 s: CANCEL bob
    assert cancel.method == "CANCEL" and h.sent[-2].time == 5.0
    vm = h.take_one(UAS3)  # ... and the failure route sent the call to voicemail
    assert vm.uri_text == VOICEMAIL and vm.max_forwards == 69 and h.sent[-1].time == 5.0
    assert vm.vias[0].branch != invite.vias[0].branch
    assert seen == [(BOB, 408, True, True, True, True, False)]
    h.inject(make_response(cancel, 200, to_tag=None), UAS)
    h.inject(make_response(invite, 487, to_tag="bob"), UAS)
    assert h.take_one(UAS).method == "ACK"
    assert h.take(UAC) == []  # the 487 of the ended branch does not go up
    h.inject(make_response(vm, 200, to_tag="vm"), UAS3)
    assert [(m.status, m.to_tag) for m in h.take(UAC)] == [(200, "vm")]
    finish(h)


def test_serial_forking_by_q_value_with_fr_inv_timer_next():
    """bob (q=1) rings 2 s (fr_inv_timer_next), carol (q=0.7) is busy, then dave and
    erin (q=0.3) ring in parallel for fr_inv_timer; then there is nobody left: 408."""
    steps: list[tuple] = []
    router = Router()

    @router.request
    def route(msg, tm):
        tm.ruri_q = 1.0
        tm.append_branch(DAVE, 0.3)
        tm.append_branch(CAROL, "0.7")
        tm.append_branch(ERIN, 0.3)
        assert tm.t_load_contacts()
        assert tm.t_next_contacts()
        steps.append(("request", msg.uri_text, tm.T_fr_inv_timeout))
        tm.t_on_failure("next")
        tm.t_relay()

    @router.failure("next")
    def next_contact(msg, tm):
        if not tm.t_next_contacts():
            steps.append(("none left", tm.T_reply_code))
            tm.t_reply(408, "Request Timeout")
            return
        steps.append(("failure", tm.T_reply_code, tm.T_fr_inv_timeout))
        tm.t_on_failure("next")
        tm.t_relay()

    h = ProxyHarness(router, {"contacts_avp": "serial", "fr_inv_timer_next": 2000,
                              "fr_inv_timer": 10000})
    h.inject(make_request("INVITE"), UAC)
    bob = h.take_one(UAS)
    assert bob.uri_text == BOB
    h.inject(make_response(bob, 180, to_tag="bob"), UAS)
    h.advance(2.0)
    assert h.take_one(UAS).method == "CANCEL"
    carol = h.take_one(UAS2)
    assert carol.uri_text == CAROL and h.sent[-1].time == 2.0
    h.inject(make_response(carol, 486, to_tag="carol"), UAS2)
    assert h.take_one(UAS2).method == "ACK"
    dave, erin = h.take_one(UAS3), h.take_one(UAS4)
    assert (dave.uri_text, erin.uri_text) == (DAVE, ERIN)
    assert dave.headers.get("Max-Breadth") == erin.headers.get("Max-Breadth") == "30"
    h.inject(make_response(dave, 180, to_tag="dave"), UAS3)
    h.inject(make_response(erin, 180, to_tag="erin"), UAS4)
    h.advance(9.9)
    assert h.take(UAS3) == h.take(UAS4) == []
    h.advance(0.1)  # fr_inv_timer (10 s), no longer fr_inv_timer_next
    assert h.take_one(UAS3).method == h.take_one(UAS4).method == "CANCEL"
    # the response context keeps every branch (RFC 3261 §16.7, Kamailio): after carol's
    # 486, bob's earlier 408 is still the best reply (t_drop_replies would forget it)
    assert steps == [("request", BOB, 2000), ("failure", 408, 2000),
                     ("failure", 408, 10000), ("none left", 408)]
    up = h.take_sent(UAC)
    assert [(round(s.time, 3), s.msg.status) for s in up] == [
        (0, 100), (0, 180), (2.0, 180), (2.0, 180), (12.0, 408)]
    ack_up(h, up[-1].msg.to_tag)
    h.take()
    for req, callee, tag in ((bob, UAS, "bob"), (dave, UAS3, "dave"), (erin, UAS4, "erin")):
        h.inject(make_response(req, 487, to_tag=tag), callee)
    assert h.take(UAC) == []
    finish(h)


def test_t_load_contacts_with_equal_q_values_does_nothing_parallel_fork():
    router = Router()

    @router.request
    def route(msg, tm):
        tm.append_branch(CAROL)
        assert tm.t_load_contacts()  # all q-values equal: nothing to do
        assert tm.t_next_contacts()  # and nothing loaded: still true
        assert "serial" not in tm.avp
        tm.t_relay()

    h = ProxyHarness(router, {"contacts_avp": "serial"})
    h.inject(make_request("INVITE"), UAC)
    assert h.take_one(UAS).uri_text == BOB and h.take_one(UAS2).uri_text == CAROL


def test_contacts_avp_unset_disables_serial_forking():
    results: list[int] = []
    router = Router()

    @router.request
    def route(msg, tm):
        tm.append_branch(CAROL, 0.5)
        results.extend([int(tm.t_load_contacts()), int(tm.t_next_contacts())])
        tm.t_relay()

    h = ProxyHarness(router)
    h.inject(make_request("INVITE"), UAC)
    assert results == [-1, -1]
    assert len(h.take(UAS)) == len(h.take(UAS2)) == 1  # the destination set as it was


def test_failure_route_on_5xx_drops_the_replies_and_tries_a_third_target():
    """Seed 002 example 59: t_drop_replies(); rewritehostport(); append_branch(); t_relay()"""
    router = Router()

    @router.request
    def route(msg, tm):
        tm.append_branch(CAROL)
        tm.t_on_failure("other")
        tm.t_relay()

    @router.failure("other")
    def other(msg, tm):
        if tm.t_check_status("5[0-9][0-9]"):
            tm.t_drop_replies()
            msg.uri.host = "192.0.2.11"
            tm.append_branch()
            assert tm.t_relay()

    h = ProxyHarness(router)
    h.inject(make_request("INVITE"), UAC)
    h.take(UAC)
    bob, carol = h.take_one(UAS), h.take_one(UAS2)
    h.inject(make_response(bob, 404, to_tag="bob"), UAS)
    h.inject(make_response(carol, 502, to_tag="carol"), UAS2)  # 404 wins: no 5xx
    assert [m.status for m in h.take(UAC)] == [404]
    ack_up(h, "bob")
    finish(h)

    h = ProxyHarness(router)
    h.inject(make_request("INVITE"), UAC)
    h.take(UAC)
    bob, carol = h.take_one(UAS), h.take_one(UAS2)
    h.inject(make_response(bob, 503, to_tag="bob"), UAS)
    h.inject(make_response(carol, 500, to_tag="carol"), UAS2)
    third = h.take(UAS3)
    assert [m.uri_text for m in third] == ["sip:carol@192.0.2.11"]  # once: R-URI consumed
    assert h.take(UAC) == []
    h.inject(make_response(third[0], 480, to_tag="dave"), UAS3)
    # the 5xx were dropped: the third target's 480 goes up, not a 500
    assert [(m.status, m.to_tag) for m in h.take(UAC)] == [(480, "dave")]
    ack_up(h, "dave")
    h.take()
    finish(h)


def test_dropped_replies_still_count_when_nothing_else_came():
    router = Router()

    @router.request
    def route(msg, tm):
        tm.t_on_failure("drop")
        tm.t_relay()

    @router.failure("drop")
    def drop(msg, tm):
        tm.t_drop_replies()  # and neither a new branch nor a reply (seed: no effect)

    h = ProxyHarness(router)
    h.inject(make_request("INVITE"), UAC)
    invite = h.take(UAS)[0]
    h.inject(make_response(invite, 503, to_tag="bob"), UAS)
    assert [m.status for m in h.take(UAC)] == [100, 500]


def test_failure_route_starts_with_the_winning_branch_uri_and_its_changes_stay_there():
    """Seed 002 example 60 (t_save_lumps) and seed 003 (R-URI of the winning branch)."""
    seen: list[str] = []
    router = Router()

    @router.request
    def route(msg, tm):
        tm.t_newtran()
        msg.headers.add("X-Hf1", "first")
        tm.t_save_lumps()
        msg.headers.add("X-Hf2", "second")  # after t_save_lumps: not for failure branches
        tm.append_branch(CAROL)
        tm.t_on_failure("1")
        tm.t_relay()

    @router.failure("1")
    def failure(msg, tm):
        seen.append(msg.uri_text)
        msg.uri.host = "192.0.2.11"
        tm.append_branch()
        msg.headers.add("X-Hf3", "third")
        assert tm.t_relay()

    h = ProxyHarness(router)
    h.inject(make_request("INVITE"), UAC)
    bob, carol = h.take_one(UAS), h.take_one(UAS2)
    assert bob.headers.get("X-Hf2") == carol.headers.get("X-Hf2") == "second"
    h.inject(make_response(bob, 486, to_tag="bob"), UAS)
    h.inject(make_response(carol, 404, to_tag="carol"), UAS2)  # 404 wins: carol's URI
    assert seen == [CAROL]
    [new] = h.take(UAS3)
    assert new.uri_text == "sip:carol@192.0.2.11"
    assert new.headers.get("X-Hf1") == "first"
    assert new.headers.get("X-Hf2") is None
    assert new.headers.get("X-Hf3") == "third"  # seed: "contains hf1 and hf3"
    h.take()


def test_changes_in_the_failure_route_reach_only_its_new_branches():
    router = Router()

    @router.request
    def route(msg, tm):
        tm.t_on_failure("again")
        tm.t_relay()

    @router.failure("again")
    def again(msg, tm):
        msg.headers.add("X-Retry", "1")
        tm.du = "sip:192.0.2.10"  # retry the same R-URI through another hop
        assert tm.t_relay()  # the winning R-URI is new in a failure route

    h = ProxyHarness(router)
    h.inject(make_request("INVITE"), UAC)
    first = h.take_one(UAS)
    h.inject(make_response(first, 503, to_tag="bob"), UAS)
    assert h.take_one(UAS).method == "ACK"  # built from the INVITE as sent: no X-Retry
    retry = h.take_one(UAS2)
    assert retry.uri_text == BOB and retry.headers.get("X-Retry") == "1"
    assert first.headers.get("X-Retry") is None
    h.inject(make_response(retry, 200, to_tag="gw2"), UAS2)
    assert [m.status for m in h.take(UAC)] == [100, 200]


def test_failure_route_runs_once_per_arming_and_the_last_t_on_failure_wins():
    runs: list[str] = []
    router = Router()

    @router.request
    def route(msg, tm):
        tm.t_on_failure("a")
        tm.t_on_failure("b")  # seed 003: only the last one is armed
        tm.t_relay()

    @router.failure("a")
    def a(msg, tm):
        runs.append("a")

    @router.failure("b")
    def b(msg, tm):
        runs.append("b")
        msg.uri = CAROL
        tm.t_relay()  # not re-armed: no failure route for this branch

    h = ProxyHarness(router)
    h.inject(make_request("INVITE"), UAC)
    bob = h.take_one(UAS)
    h.inject(make_response(bob, 486, to_tag="bob"), UAS)
    carol = h.take_one(UAS2)
    h.inject(make_response(carol, 480, to_tag="carol"), UAS2)
    assert runs == ["b"]
    # best of all branches, the failure route's included: 480 < 486
    assert [(m.status, m.to_tag) for m in h.take(UAC)] == [(100, None), (480, "carol")]


def test_failure_route_t_reply_answers_instead_of_the_best_reply():
    router = Router()

    @router.request
    def route(msg, tm):
        tm.t_on_failure("silo")
        tm.t_relay()

    @router.failure("silo")
    def silo(msg, tm):
        tm.t_reply(202, "I will take care of it")

    h = ProxyHarness(router, {"fr_timer": 1000})
    h.inject(make_request("MESSAGE", branch="z9hG4bKm1"), UAC)
    h.advance(1.0)
    assert [(m.status, m.reason) for m in h.take(UAC)] == [(202, "I will take care of it")]
    finish(h)


def test_t_next_contacts_in_a_failure_route_after_t_newtran_in_the_request_route():
    """With a transaction, t_next_contacts adds the contacts as branches (the R-URI is
    not sent again)."""
    router = Router()

    @router.request
    def route(msg, tm):
        tm.t_newtran()
        tm.append_branch(CAROL, 0.5)
        assert tm.t_load_contacts()
        assert tm.t_next_contacts()
        tm.t_on_failure("next")
        tm.t_relay()

    @router.failure("next")
    def next_contact(msg, tm):
        if tm.t_next_contacts():
            tm.t_relay()

    h = ProxyHarness(router, {"contacts_avp": "c"})
    h.inject(make_request("INVITE"), UAC)
    assert [m.uri_text for m in h.take(UAS)] == [BOB]
    assert h.take(UAS2) == []
    h.inject(make_response(h.sent[-1].msg, 486, to_tag="b"), UAS)
    assert [m.method for m in h.take(UAS)] == ["ACK"]
    assert [m.uri_text for m in h.take(UAS2)] == [CAROL]


def test_an_async_failure_route_awaits_then_forks_and_a_cancel_meanwhile_wins():
    gate = Gate()
    results: list[int] = []
    router = Router()

    @router.request
    def route(msg, tm):
        if msg.method == "CANCEL":
            tm.t_relay_cancel()
        tm.t_on_failure("lookup")
        tm.t_relay()

    @router.failure("lookup")
    async def lookup(msg, tm):
        target = await gate  # e.g. a database lookup
        msg.uri = target
        results.append(int(tm.t_relay()))

    h = ProxyHarness(router)
    h.inject(make_request("INVITE"), UAC)
    bob = h.take_one(UAS)
    h.inject(make_response(bob, 486, to_tag="bob"), UAS)
    h.take(UAS)
    assert h.step() == 1  # suspended in the failure route
    gate.open(CAROL)
    assert h.step() == 0
    carol = h.take_one(UAS2)
    assert carol.uri_text == CAROL and results == [1]
    h.inject(make_response(carol, 200, to_tag="carol"), UAS2)
    assert [m.status for m in h.take(UAC)] == [100, 200]

    gate = Gate()
    results.clear()
    h = ProxyHarness(router)
    h.inject(make_request("INVITE"), UAC)
    bob = h.take_one(UAS)
    h.inject(make_response(bob, 486, to_tag="bob"), UAS)
    h.step()
    h.inject(make_request("CANCEL"), UAC)  # while the route awaits
    gate.open(CAROL)
    h.step()
    assert results == [-3]  # cancelled: no new branch
    assert h.take(UAS2) == []
    assert [m.status for m in h.take(UAC)] == [100, 200, 486]  # the best reply stands
