"""Parallel forking through the proxy, sans-IO: one client transaction per branch, the
RFC 3261 §16.7 response context (every 2xx at once, others cancelled; 6xx; best final
reply; 401/407 aggregation; local 408/503), seeds 002/003 ``append_branch``, wire-exact."""

from __future__ import annotations

import pytest
from forkhelpers import no_transaction_left  # noqa: F401  (autouse fixture)

from siptm.script import Router
from siptm.sip import Request, Response
from siptm.testing import UAC, UAS, UAS2, UAS3, ProxyHarness, make_request, make_response

BOB = "sip:bob@192.0.2.9"  # UAS
CAROL = "sip:carol@192.0.2.10"  # UAS2
DAVE = "sip:dave@192.0.2.11"  # UAS3
UAC_VIA = "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKuac1"


def fork_router(*uris: str, failure: str | None = None) -> Router:
    """R-URI (bob) plus one appended branch per ``uris``."""
    router = Router()

    @router.request
    def route(msg, tm):
        if msg.method == "CANCEL":
            tm.t_relay_cancel()
        if msg.method == "INVITE":
            for uri in uris:
                tm.append_branch(uri)
            if failure:
                tm.t_on_failure(failure)
        if not tm.t_relay():
            tm.sl_reply_error()

    return router


def start(h: ProxyHarness, *callees) -> list[Request]:
    """Send the INVITE; check the 100; return the INVITE each callee got."""
    h.inject(make_request("INVITE"), UAC)
    assert [m.status for m in h.take(UAC)] == [100]
    return [h.take_one(callee) for callee in callees]


def finish(h: ProxyHarness) -> None:
    h.settle()
    assert h.pending() == []
    assert h.in_use == 0


def ack_up(h: ProxyHarness, final: Response) -> None:
    """The UAC ACKs a non-2xx final reply (hop by hop: absorbed here)."""
    h.inject(make_request("ACK", to_tag=final.to_tag), UAC)
    assert h.take() == []


def test_one_client_transaction_per_branch_each_with_its_own_via():
    h = ProxyHarness(fork_router(CAROL, DAVE))
    bob, carol, dave = start(h, UAS, UAS2, UAS3)
    assert [r.uri_text for r in (bob, carol, dave)] == [BOB, CAROL, DAVE]
    branches = {r.vias[0].branch for r in (bob, carol, dave)}
    assert len(branches) == 3 and all(b.startswith("z9hG4bKst") for b in branches)
    for r in (bob, carol, dave):
        assert [str(v) for v in r.vias[1:]] == [UAC_VIA]
        assert r.max_forwards == 69
        assert r.headers.get("Max-Breadth") == "20"  # RFC 5393: 60 shared by three
    assert h.in_use == 4  # the server transaction and three client ones
    # each branch retransmits on its own (Timer A)
    h.advance(0.5)
    assert [len(h.take(callee)) for callee in (UAS, UAS2, UAS3)] == [1, 1, 1]
    for callee, req in ((UAS, bob), (UAS2, carol), (UAS3, dave)):
        h.inject(make_response(req, 486, to_tag=callee.host), callee)
        assert h.take_one(callee).method == "ACK"
    final = h.take_one(UAC)
    assert final.status == 486 and final.to_tag == "192.0.2.9"  # ties: the first branch
    ack_up(h, final)
    finish(h)


def test_486_and_200_the_caller_gets_the_200_and_the_486_is_acked():
    h = ProxyHarness(fork_router(CAROL))
    bob, carol = start(h, UAS, UAS2)
    h.inject(make_response(bob, 486, to_tag="bobtag"), UAS)
    ack = h.take_one(UAS)
    assert ack.method == "ACK" and ack.vias[0].branch == bob.vias[0].branch
    assert ack.to_tag == "bobtag" and str(ack.cseq) == "1 ACK"
    assert h.take(UAC) == []  # not final yet: carol is pending
    h.inject(make_response(carol, 180, to_tag="caroltag"), UAS2)
    ringing = h.take_one(UAC)
    assert ringing.status == 180 and [str(v) for v in ringing.vias] == [UAC_VIA]
    h.inject(make_response(carol, 200, to_tag="caroltag"), UAS2)
    ok = h.take_one(UAC)
    assert (ok.status, ok.to_tag) == (200, "caroltag")
    assert [str(v) for v in ok.vias] == [UAC_VIA]
    assert h.pending() == []  # nothing left to cancel, no ACK for a 2xx from us
    ack = make_request("ACK", ruri=CAROL, branch="z9hG4bKack2", to_tag="caroltag")
    h.inject(ack, UAC)
    e2e = h.take_one(UAS2)
    assert e2e.method == "ACK" and e2e.uri_text == CAROL
    finish(h)


def test_a_200_cancels_the_other_ringing_branches_and_their_487_stays_here():
    h = ProxyHarness(fork_router(CAROL, DAVE))
    bob, carol, dave = start(h, UAS, UAS2, UAS3)
    h.inject(make_response(bob, 180, to_tag="b"), UAS)
    h.inject(make_response(carol, 180, to_tag="c"), UAS2)
    assert [m.status for m in h.take(UAC)] == [180, 180]
    h.advance(1.0)
    h.take()  # dave's INVITE retransmissions
    h.inject(make_response(carol, 200, to_tag="c"), UAS2)
    assert [m.status for m in h.take(UAC)] == [200]
    cancel = h.take_one(UAS)  # bob rang: CANCEL now, built from the INVITE as sent
    assert cancel.method == "CANCEL" and cancel.vias[0].branch == bob.vias[0].branch
    assert cancel.uri_text == BOB and str(cancel.cseq) == "1 CANCEL"
    assert h.take(UAS3) == []  # dave never answered: cancel_b_method 1 waits for a 1xx
    h.inject(make_response(cancel, 200, to_tag=None), UAS)
    h.inject(make_response(bob, 487, to_tag="b"), UAS)
    assert h.take_one(UAS).method == "ACK"
    h.inject(make_response(dave, 180, to_tag="d"), UAS3)
    late_cancel = h.take_one(UAS3)
    assert late_cancel.method == "CANCEL"
    assert h.take(UAC) == []  # no provisional after the 2xx, no 487 upstream
    h.inject(make_response(late_cancel, 200, to_tag=None), UAS3)
    h.inject(make_response(dave, 487, to_tag="d"), UAS3)
    assert h.take_one(UAS3).method == "ACK"
    assert h.take(UAC) == []
    finish(h)


def test_every_2xx_goes_up_even_the_second_one():
    h = ProxyHarness(fork_router(CAROL))
    bob, carol = start(h, UAS, UAS2)
    h.inject(make_response(bob, 200, to_tag="b"), UAS)
    h.inject(make_response(carol, 200, to_tag="c"), UAS2)  # raced with the CANCEL
    assert [(m.status, m.to_tag) for m in h.take(UAC)] == [(200, "b"), (200, "c")]
    assert h.take(UAS2) == []  # carol was unreplied: nothing to cancel any more
    finish(h)


@pytest.mark.parametrize(("codes", "best"), [
    ((486, 486), (486, "t0")),  # equal: the first branch
    ((486, 404), (404, "t1")),  # lowest code within the class
    ((486, 302), (302, "t1")),  # lowest class
    ((500, 486), (486, "t1")),
    ((503, 502), (502, "t1")),
    ((503, 504), (500, "t0")),  # a 503 chosen goes up as 500 (§16.7 step 6)
    ((503, 503), (500, "t0")),
    ((407, 404), (407, "t0")),  # 401/407/415/420/484 first within 4xx
    ((484, 415), (415, "t1")),
    ((480, 603), (603, "t1")),  # a 6xx beats every other class
])
def test_best_final_reply_once_all_branches_are_final(codes, best):
    h = ProxyHarness(fork_router(CAROL))
    reqs = start(h, UAS, UAS2)
    for i, (req, callee, code) in enumerate(zip(reqs, (UAS, UAS2), codes, strict=True)):
        h.inject(make_response(req, code, to_tag=f"t{i}"), callee)
        assert h.take_one(callee).method == "ACK"
    final = h.take_one(UAC)
    assert (final.status, final.to_tag) == best
    if best[0] == 500:
        assert final.reason == "Server Internal Error"
    ack_up(h, final)
    h.take()
    finish(h)


def test_603_cancels_the_others_and_blocks_branches_from_the_failure_route():
    results: list[int] = []
    router = fork_router(CAROL, failure="more")

    @router.failure("more")
    def more(msg, tm):
        assert tm.t_check_status("603")
        results.append(int(tm.append_branch(DAVE)))  # seed 002: not after a 6xx
        results.append(int(tm.t_relay()))

    h = ProxyHarness(router)
    bob, carol = start(h, UAS, UAS2)
    h.inject(make_response(carol, 180, to_tag="c"), UAS2)
    h.take(UAC)
    h.inject(make_response(bob, 603, to_tag="b"), UAS)
    assert h.take_one(UAS).method == "ACK"
    cancel = h.take_one(UAS2)
    assert cancel.method == "CANCEL"
    assert h.take(UAC) == []  # a 6xx is not forwarded at once (§16.7 step 5)
    h.inject(make_response(cancel, 200, to_tag=None), UAS2)
    h.inject(make_response(carol, 487, to_tag="c"), UAS2)
    assert h.take_one(UAS2).method == "ACK"
    assert results == [-1, -3]
    assert h.take(UAS3) == []
    final = h.take_one(UAC)
    assert (final.status, final.to_tag) == (603, "b")
    ack_up(h, final)
    finish(h)


def test_disable_6xx_block_lets_the_failure_route_fork_again():
    router = fork_router(failure="more")

    @router.failure("more")
    def more(msg, tm):
        msg.uri = DAVE
        assert tm.t_relay()

    h = ProxyHarness(router, {"disable_6xx_block": 1})
    [bob] = start(h, UAS)
    h.inject(make_response(bob, 603, to_tag="b"), UAS)
    assert h.take_one(UAS).method == "ACK"
    dave = h.take_one(UAS3)
    assert dave.uri_text == DAVE and dave.max_forwards == 69
    h.inject(make_response(dave, 200, to_tag="d"), UAS3)
    assert [(m.status, m.to_tag) for m in h.take(UAC)] == [(200, "d")]
    finish(h)


def test_6xx_with_disable_6xx_block_does_not_cancel_the_others():
    h = ProxyHarness(fork_router(CAROL), {"disable_6xx_block": 1})
    bob, carol = start(h, UAS, UAS2)
    h.inject(make_response(carol, 180, to_tag="c"), UAS2)
    h.take(UAC)
    h.inject(make_response(bob, 603, to_tag="b"), UAS)
    assert [m.method for m in h.take(UAS)] == ["ACK"]
    assert h.take(UAS2) == []  # handled as any other negative reply: no CANCEL
    h.inject(make_response(carol, 200, to_tag="c"), UAS2)
    assert [m.status for m in h.take(UAC)] == [200]
    finish(h)


def test_401_and_407_are_aggregated_into_one_reply():
    h = ProxyHarness(fork_router(CAROL))
    bob, carol = start(h, UAS, UAS2)
    www = 'Digest realm="bob.example", nonce="n1"'
    proxy = 'Digest realm="carol.example", nonce="n2"'
    h.inject(make_response(bob, 401, to_tag="b", extra=[("WWW-Authenticate", www)]), UAS)
    h.inject(make_response(carol, 407, to_tag="c",
                           extra=[("Proxy-Authenticate", proxy)]), UAS2)
    h.take(UAS)
    h.take(UAS2)
    final = h.take_one(UAC)
    assert (final.status, final.to_tag) == (401, "b")  # 401 before 407
    assert final.headers.get_all("WWW-Authenticate") == [www]
    assert final.headers.get_all("Proxy-Authenticate") == [proxy]
    ack_up(h, final)
    finish(h)


def test_two_407s_aggregated_and_aggregate_challenges_0_sends_the_first_401_only():
    h = ProxyHarness(fork_router(CAROL, DAVE))
    bob, carol, dave = start(h, UAS, UAS2, UAS3)
    h.inject(make_response(bob, 486, to_tag="b"), UAS)
    h.inject(make_response(carol, 407, to_tag="c", extra=[("Proxy-Authenticate", "A")]), UAS2)
    h.inject(make_response(dave, 407, to_tag="d", extra=[("Proxy-Authenticate", "B")]), UAS3)
    final = h.take(UAC)[-1]
    assert (final.status, final.to_tag) == (407, "c")
    assert final.headers.get_all("Proxy-Authenticate") == ["A", "B"]
    h.take()
    ack_up(h, final)
    finish(h)

    h = ProxyHarness(fork_router(CAROL), {"aggregate_challenges": 0})
    bob, carol = start(h, UAS, UAS2)
    h.inject(make_response(carol, 407, to_tag="c", extra=[("Proxy-Authenticate", "P")]), UAS2)
    h.inject(make_response(bob, 401, to_tag="b", extra=[("WWW-Authenticate", "W")]), UAS)
    final = h.take(UAC)[-1]
    assert (final.status, final.to_tag) == (401, "b")
    assert final.headers.get_all("Proxy-Authenticate") == []
    assert final.headers.get_all("WWW-Authenticate") == ["W"]
    h.take()
    ack_up(h, final)
    finish(h)


def test_a_branch_that_times_out_counts_as_408_and_one_that_cannot_be_sent_as_503():
    h = ProxyHarness(fork_router(CAROL), {"fr_timer": 2000})
    h.failing.add(UAS2)  # carol's sends fail: a local 503 for that branch
    [bob] = start(h, UAS)
    h.inject(make_response(bob, 500, to_tag="b"), UAS)
    h.take(UAS)
    final = h.take_one(UAC)
    assert (final.status, final.to_tag) == (500, "b")  # a received 500 beats our 503
    ack_up(h, final)
    finish(h)

    h = ProxyHarness(fork_router(CAROL), {"fr_timer": 2000})
    bob, _carol = start(h, UAS, UAS2)
    h.inject(make_response(bob, 486, to_tag="b"), UAS)
    h.take(UAS)
    h.advance(2.0)  # carol never answers: Timer B, 408
    finals = [m for m in h.take(UAC) if m.status >= 200]
    assert [m.status for m in finals] == [408]  # 408 is lower than 486 (t_pick_branch)
    assert finals[0].to_tag not in (None, "b")  # made up here: our own tag
    assert [m.method for m in h.take(UAS2)] == ["INVITE"] * 2  # at 0.5 and 1.5 s
    ack_up(h, finals[0])
    finish(h)


def test_all_branches_failing_to_send_is_a_500_upstream():
    h = ProxyHarness(fork_router(CAROL))
    h.failing.update({UAS, UAS2})
    h.inject(make_request("INVITE"), UAC)
    assert [(m.status, m.reason) for m in h.take(UAC)] == [
        (100, "trying -- your call is important to us"), (500, "Server Internal Error")]
    ack_up(h, h.sent[-1].msg)
    finish(h)


def test_cancel_from_the_caller_goes_to_every_pending_branch():
    h = ProxyHarness(fork_router(CAROL))
    bob, carol = start(h, UAS, UAS2)
    h.inject(make_response(bob, 180, to_tag="b"), UAS)
    h.inject(make_response(carol, 183, to_tag="c"), UAS2)
    assert [m.status for m in h.take(UAC)] == [180, 183]
    h.inject(make_request("CANCEL"), UAC)
    assert [m.status for m in h.take(UAC)] == [200]
    c1, c2 = h.take_one(UAS), h.take_one(UAS2)
    assert c1.method == c2.method == "CANCEL"
    for cancel, req, callee, tag in ((c1, bob, UAS, "b"), (c2, carol, UAS2, "c")):
        h.inject(make_response(cancel, 200, to_tag=None), callee)
        h.inject(make_response(req, 487, to_tag=tag), callee)
        assert h.take_one(callee).method == "ACK"
    final = h.take_one(UAC)
    assert (final.status, str(final.cseq)) == (487, "1 INVITE")
    ack_up(h, final)
    finish(h)


def test_the_seed_example_of_append_branch_forks_john_and_alice_once_each():
    """Seed 002 example 36: set_user("john"); t_fork(); set_user("alice"); t_fork();
    t_relay() — append_branch() without a URI moves the R-URI into the set."""
    router = Router()

    @router.request
    def route(msg, tm):
        msg.uri.user = "john"
        tm.t_fork()
        msg.uri.user = "alice"
        tm.append_branch()
        tm.t_relay()

    h = ProxyHarness(router)
    h.inject(make_request("INVITE"), UAC)
    assert [m.uri_text for m in h.take(UAS)] == ["sip:john@192.0.2.9", "sip:alice@192.0.2.9"]
    h.take(UAC)


def test_append_branch_without_a_uri_carries_du_and_branch_flags_then_resets_them():
    seen: list[tuple] = []
    router = Router()

    @router.request
    def route(msg, tm):
        tm.du = "sip:192.0.2.10"
        tm.setbflag(3)
        tm.append_branch()
        seen.append((tm.du, bool(tm.isbflagset(3)), bool(tm.isbflagset(3, 1))))
        msg.uri = DAVE  # new again: it is a destination of its own
        tm.t_on_branch("mark")
        tm.t_relay()

    @router.branch("mark")
    def mark(msg, tm):
        seen.append((msg.uri_text, tm.du, bool(tm.isbflagset(3))))

    h = ProxyHarness(router)
    h.inject(make_request("INVITE"), UAC)
    assert seen == [(None, False, True), (DAVE, None, False),
                    (BOB, "sip:192.0.2.10", True)]
    assert h.take_one(UAS3).uri_text == DAVE  # the R-URI first, then the set
    assert h.take_one(UAS2).uri_text == BOB  # bob's branch goes to its $du
    h.take(UAC)


def test_t_relay_with_nothing_to_send_is_minus_3():
    results: list[int] = []
    router = Router()

    @router.request
    def route(msg, tm):
        tm.append_branch()  # the R-URI consumed ...
        tm.t_relay()  # ... and sent
        results.append(int(tm.t_relay(0x02)))  # nothing left

    h = ProxyHarness(router)
    h.inject(make_request("INVITE"), UAC)
    assert results == [-3]
    assert len(h.take(UAS)) == 1
