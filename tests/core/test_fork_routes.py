"""Onreply and branch routes of a forked transaction, sans-IO (seeds 002/003): dropping a
provisional, per-branch reply routes, branch routes that change or drop one branch,
per-branch timers (seed 002 examples 43/47), minor branches, t_cancel_branch, t_reply
from an onreply route (seed 002 example 54)."""

from __future__ import annotations

from forkhelpers import no_transaction_left  # noqa: F401  (autouse fixture)

from siptm.script import Router
from siptm.testing import UAC, UAS, UAS2, UAS3, ProxyHarness, make_request, make_response

BOB = "sip:bob@192.0.2.9"  # UAS
CAROL = "sip:carol@192.0.2.10"  # UAS2
DAVE = "sip:dave@192.0.2.11"  # UAS3
PSTN = "sip:5551234@192.0.2.10"  # UAS2, a numeric user


def finish(h: ProxyHarness) -> None:
    h.settle()
    assert h.in_use == 0


def test_reply_route_drops_a_183_the_rest_goes_up():
    seen: list[tuple[int, int | None]] = []
    router = Router()

    @router.request
    def route(msg, tm):
        tm.t_on_reply("nomedia")
        tm.t_relay()

    @router.onreply("nomedia")
    def nomedia(reply, tm):
        seen.append((reply.status, tm.T_branch_idx))
        if tm.t_check_status("183"):
            tm.drop()
        if reply.status == 200:
            tm.drop()  # a final reply cannot be dropped (seed 003: provisional only)

    h = ProxyHarness(router)
    h.inject(make_request("INVITE"), UAC)
    invite = h.take_one(UAS)
    for status in (100, 183, 180, 200):
        h.inject(make_response(invite, status, to_tag="bob"), UAS)
    assert [m.status for m in h.take(UAC)] == [100, 180, 200]
    assert seen == [(100, 0), (183, 0), (180, 0), (200, 0)]
    finish(h)


def test_local_replies_do_not_run_the_reply_route():
    seen: list[int] = []
    router = Router()

    @router.request
    def route(msg, tm):
        tm.t_on_reply("log")
        tm.t_relay()

    @router.onreply("log")
    def log(reply, tm):
        seen.append(reply.status)

    h = ProxyHarness(router, {"fr_timer": 1000})
    h.inject(make_request("INVITE"), UAC)
    h.advance(1.0)
    assert [m.status for m in h.take(UAC)] == [100, 408]
    assert seen == []


def test_reply_route_set_in_a_branch_route_is_for_that_branch_only():
    """Seed 003's t_on_reply example: "global" for the transaction, "alice" for one."""
    seen: list[tuple[str, int]] = []
    router = Router()

    @router.request
    def route(msg, tm):
        tm.append_branch(CAROL)
        tm.t_on_reply("global")
        tm.t_on_branch("1")
        tm.t_relay()

    @router.branch("1")
    def branch(msg, tm):
        if msg.uri.user == "carol":
            tm.t_on_reply("carol")

    @router.onreply("carol")
    def carol_reply(reply, tm):
        seen.append(("carol", reply.status))

    @router.onreply("global")
    def global_reply(reply, tm):
        seen.append(("global", reply.status))
        if tm.t_check_status("1[0-9][0-9]"):
            tm.setflag(7)  # a transaction flag: seen by the failure route too

    h = ProxyHarness(router)
    h.inject(make_request("INVITE"), UAC)
    bob, carol = h.take_one(UAS), h.take_one(UAS2)
    h.inject(make_response(bob, 180, to_tag="b"), UAS)
    h.inject(make_response(carol, 183, to_tag="c"), UAS2)
    h.inject(make_response(carol, 200, to_tag="c"), UAS2)
    assert seen == [("global", 180), ("carol", 183), ("carol", 200)]


def test_branch_route_adds_a_header_to_one_branch_and_drops_another():
    seen: list[tuple] = []
    router = Router()

    @router.request
    def route(msg, tm):
        tm.append_branch(CAROL)
        tm.append_branch(DAVE)
        tm.t_on_branch("edit")
        tm.t_relay()

    @router.branch("edit")
    def edit(msg, tm):
        seen.append((tm.T_branch_idx, tm.T_ruri, tm.route_type))
        if msg.uri.user == "carol":
            msg.headers.add("X-Branch", "carol")
        if msg.uri.user == "dave":
            tm.drop()

    h = ProxyHarness(router)
    h.inject(make_request("INVITE"), UAC)
    bob, carol = h.take_one(UAS), h.take_one(UAS2)
    assert h.take(UAS3) == []  # dropped in its branch route: never sent
    assert carol.headers.get("X-Branch") == "carol"
    assert bob.headers.get("X-Branch") is None
    assert carol.headers.get("Max-Breadth") == "20"  # three shares were made
    # the branch route sees the request before our Via and Max-Forwards change
    assert seen == [(0, BOB, "branch"), (1, CAROL, "branch"), (2, DAVE, "branch")]
    h.inject(make_response(bob, 486, to_tag="b"), UAS)
    h.inject(make_response(carol, 486, to_tag="c"), UAS2)
    assert [(m.status, m.to_tag) for m in h.take(UAC)] == [(100, None), (486, "b")]
    h.inject(make_request("ACK", to_tag="b"), UAC)
    h.take()
    finish(h)


def test_branch_route_can_change_the_uri_and_du_of_its_branch():
    router = Router()

    @router.request
    def route(msg, tm):
        tm.append_branch(CAROL)
        tm.t_on_branch("rewrite")
        tm.t_relay()

    @router.branch("rewrite")
    def rewrite(msg, tm):
        if msg.uri.user == "carol":
            msg.uri = "sip:carol@example.invalid"
            tm.du = "sip:192.0.2.11:5060"

    h = ProxyHarness(router)
    h.inject(make_request("INVITE"), UAC)
    assert h.take_one(UAS).uri_text == BOB
    moved = h.take_one(UAS3)
    assert moved.uri_text == "sip:carol@example.invalid"
    assert h.take(UAS2) == []


def test_dropping_every_branch_is_a_failed_t_relay():
    results: list[int] = []
    router = Router()

    @router.request
    def route(msg, tm):
        tm.t_on_branch("none")
        results.append(int(tm.t_relay(0x02)))
        tm.t_reply(404, "Nobody")

    @router.branch("none")
    def none(msg, tm):
        tm.drop()

    h = ProxyHarness(router)
    h.inject(make_request("INVITE"), UAC)
    assert results == [-3]
    assert [m.status for m in h.take(UAC)] == [100, 404]
    assert h.take(UAS) == []


def test_t_set_fr_in_a_branch_route_is_for_that_branch_only():
    """Seed 002 example 43: t_set_fr(10000) for the call, (50000, 2000) for PSTN."""
    router = Router()

    @router.request
    def route(msg, tm):
        tm.t_set_fr(10000)
        tm.append_branch(PSTN)
        tm.t_on_branch("1")
        tm.t_relay()

    @router.branch("1")
    def pstn_timers(msg, tm):
        assert tm.T_fr_inv_timeout == 10000
        if msg.uri.user.isdigit():
            tm.t_set_fr(50000, 2000)
            assert (tm.T_fr_inv_timeout, tm.T_fr_timeout) == (50000, 2000)

    h = ProxyHarness(router)
    h.inject(make_request("INVITE"), UAC)
    h.take(UAC)
    bob, pstn = h.take_one(UAS), h.take_one(UAS2)
    h.advance(2.0)  # the PSTN branch gave up without a reply after 2 s (its fr_timer)
    assert [round(s.time, 3) for s in h.take_sent(UAS2)] == [0.5, 1.5]
    h.inject(make_response(bob, 180, to_tag="b"), UAS)
    h.advance(10.0)  # bob rang 10 s (fr_inv_timer of the transaction): CANCEL
    assert [m.method for m in h.take(UAS)][-1] == "CANCEL"
    up = [m.status for m in h.take(UAC)]
    assert up == [180, 408]

    h = ProxyHarness(router)
    h.inject(make_request("INVITE"), UAC)
    bob, pstn = h.take_one(UAS), h.take_one(UAS2)
    h.inject(make_response(pstn, 180, to_tag="p"), UAS2)
    h.inject(make_response(bob, 180, to_tag="b"), UAS)
    h.advance(10.0)
    assert [m.method for m in h.take(UAS)] == ["CANCEL"]
    assert h.take(UAS2) == []
    h.advance(40.0)  # the PSTN branch rings 50 s
    assert [m.method for m in h.take(UAS2)] == ["CANCEL"]


def test_t_set_retr_in_a_branch_route_is_for_that_branch_only():
    """Seed 002 example 47: T1 250 ms for the call, 1000 ms for the PSTN branch."""
    router = Router()

    @router.request
    def route(msg, tm):
        tm.t_set_retr(250, 0)
        tm.append_branch(PSTN)
        tm.t_on_branch("1")
        tm.t_relay()

    @router.branch("1")
    def pstn(msg, tm):
        if msg.uri.user.isdigit():
            tm.t_set_retr(1000, 2000)

    h = ProxyHarness(router)
    h.inject(make_request("INVITE"), UAC)
    h.advance(8.0)
    assert [round(s.time, 3) for s in h.take_sent(UAS)] == [0, 0.25, 0.75, 1.75, 3.75, 7.75]
    assert [round(s.time, 3) for s in h.take_sent(UAS2)] == [0, 1.0, 3.0, 7.0]


def test_minor_branch_is_not_waited_for_and_is_cancelled_when_the_main_fails():
    router = Router()

    @router.request
    def route(msg, tm):
        tm.append_branch("sip:media@192.0.2.10")
        tm.setbflag("MINOR", 1)  # the appended (media server) branch is minor
        tm.t_relay()

    h = ProxyHarness(router, {"minor_branch_flag": "MINOR"})
    h.inject(make_request("INVITE"), UAC)
    h.take(UAC)
    main, media = h.take_one(UAS), h.take_one(UAS2)
    h.inject(make_response(media, 183, to_tag="media"), UAS2)
    assert [m.status for m in h.take(UAC)] == [183]  # its early media goes up
    h.inject(make_response(main, 486, to_tag="main"), UAS)
    assert h.take_one(UAS).method == "ACK"
    cancel = h.take_one(UAS2)
    assert cancel.method == "CANCEL"  # the minor branch is cancelled ...
    final = h.take_one(UAC)
    assert (final.status, final.to_tag) == (486, "main")  # ... and not waited for
    h.inject(make_request("ACK", to_tag="main"), UAC)
    h.inject(make_response(cancel, 200, to_tag=None), UAS2)
    h.inject(make_response(media, 487, to_tag="media"), UAS2)
    assert h.take_one(UAS2).method == "ACK"
    assert h.take(UAC) == []
    finish(h)


def test_minor_branch_never_wins_and_a_2xx_of_the_main_cancels_it():
    router = Router()

    @router.branch("mark")
    def mark(msg, tm):
        if msg.uri.user == "media":
            tm.setbflag(9)

    @router.request
    def route(msg, tm):
        tm.append_branch("sip:media@192.0.2.10")
        tm.t_on_branch("mark")
        tm.t_relay()

    h = ProxyHarness(router, {"minor_branch_flag": 9})
    h.inject(make_request("INVITE"), UAC)
    h.take(UAC)
    main, media = h.take_one(UAS), h.take_one(UAS2)
    h.inject(make_response(media, 404, to_tag="media"), UAS2)  # a minor 404 ...
    h.take(UAS2)
    h.inject(make_response(main, 486, to_tag="main"), UAS)  # ... does not beat 486
    h.take(UAS)
    assert [(m.status, m.to_tag) for m in h.take(UAC)] == [(486, "main")]

    h = ProxyHarness(router, {"minor_branch_flag": 9})
    h.inject(make_request("INVITE"), UAC)
    h.take(UAC)
    main, media = h.take_one(UAS), h.take_one(UAS2)
    h.inject(make_response(media, 183, to_tag="media"), UAS2)
    h.inject(make_response(main, 200, to_tag="main"), UAS)
    assert [m.status for m in h.take(UAC)] == [183, 200]
    assert h.take_one(UAS2).method == "CANCEL"


def test_t_cancel_branch_from_an_onreply_route():
    """Seed 003 example 1.29: no support for early media: cancel the branch on 183."""
    router = Router()

    @router.request
    def route(msg, tm):
        tm.append_branch(CAROL)
        tm.append_branch(DAVE)
        tm.t_on_reply("r")
        tm.t_relay()

    @router.onreply("r")
    def r(reply, tm):
        if tm.t_check_status("183"):
            tm.t_cancel_branch()
        if tm.t_check_status("182"):
            tm.t_cancel_branch("o")

    h = ProxyHarness(router)
    h.inject(make_request("INVITE"), UAC)
    h.take(UAC)
    bob, carol, dave = h.take_one(UAS), h.take_one(UAS2), h.take_one(UAS3)
    h.inject(make_response(carol, 183, to_tag="c"), UAS2)
    assert h.take_one(UAS2).method == "CANCEL"
    assert [m.status for m in h.take(UAC)] == [183]  # still relayed (not dropped)
    h.inject(make_response(dave, 180, to_tag="d"), UAS3)
    h.inject(make_response(bob, 182, to_tag="b"), UAS)  # cancel the others: dave
    assert [m.method for m in h.take(UAS3)] == ["CANCEL"]
    assert h.take(UAS2) == []  # carol's CANCEL went already
    assert h.take(UAS) == []


def test_t_cancel_branch_all_with_cancel_b_method_0_completes_at_once():
    router = Router()

    @router.request
    def route(msg, tm):
        tm.append_branch(CAROL)
        tm.t_on_reply("r")
        tm.t_relay()

    @router.onreply("r")
    def r(reply, tm):
        tm.t_cancel_branch("a")

    h = ProxyHarness(router, {"cancel_b_method": 0})
    h.inject(make_request("INVITE"), UAC)
    h.take(UAC)
    bob, _carol = h.take_one(UAS), h.take_one(UAS2)
    h.inject(make_response(bob, 180, to_tag="b"), UAS)
    assert h.take_one(UAS).method == "CANCEL"
    assert h.take(UAS2) == []  # unreplied, method 0: stopped, a fake 487
    h.inject(make_response(bob, 487, to_tag="b"), UAS)
    h.take(UAS)
    assert [m.status for m in h.take(UAC)] == [180, 487]


def test_t_reply_from_an_onreply_route_seed_002_example_54():
    """onreply_route { if (t_grep_status("486")) t_reply("486", "Busy"); }"""
    router = Router()

    @router.request
    def route(msg, tm):
        tm.append_branch(CAROL)
        tm.t_on_reply("busy")
        tm.t_relay()

    @router.onreply("busy")
    def busy(reply, tm):
        if reply.status == 486:
            assert not tm.t_grep_status("486")  # the current reply is not recorded yet
        if tm.t_grep_status("486"):
            tm.t_reply(486, "Busy")

    h = ProxyHarness(router)
    h.inject(make_request("INVITE"), UAC)
    h.take(UAC)
    bob, carol = h.take_one(UAS), h.take_one(UAS2)
    h.inject(make_response(carol, 180, to_tag="c"), UAS2)
    h.inject(make_response(bob, 486, to_tag="b"), UAS)
    assert [m.status for m in h.take(UAC)] == [180]
    h.inject(make_response(carol, 183, to_tag="c"), UAS2)  # grep finds bob's 486 now
    up = h.take(UAC)
    assert [(m.status, m.reason) for m in up] == [(486, "Busy")]
    assert up[0].to_tag not in ("b", "c")  # our own reply
    assert h.take_one(UAS2).method == "CANCEL"  # the pending branch is cancelled
