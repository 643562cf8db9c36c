"""What routes of one transaction share and what they do not, sans-IO (seed 003 §1.1.1 and
§1.5): message/transaction flags, branch flags, script flags, transaction AVPs and
``$bavp``, and the ``$T_*`` variables."""

from __future__ import annotations

from forkhelpers import no_transaction_left  # noqa: F401  (autouse fixture)

from siptm.script import Router
from siptm.testing import UAC, UAS, UAS2, ProxyHarness, make_request, make_response

BOB = "sip:bob@192.0.2.9"  # UAS
CAROL = "sip:carol@192.0.2.10"  # UAS2


def scoping_router(log: list) -> Router:
    router = Router()

    @router.request
    def route(msg, tm):
        tm.setflag(1)
        tm.setsflag(2)
        tm.append_branch(CAROL)  # takes the current branch flags (none yet)
        tm.setbflag(3)  # the R-URI's branch (bob)
        tm.setbflag("GW", 1)  # the appended branch (carol), a named flag
        tm.avp["caller"] = "alice"
        log.append(("request", bool(tm.isflagset(1)), bool(tm.issflagset(2)),
                    bool(tm.isbflagset(3)), bool(tm.isbflagset("GW", 1)),
                    dict(tm.bavp), tm.T_branch_idx))
        tm.t_on_branch("b")
        tm.t_on_reply("r")
        tm.t_on_failure("f")
        tm.t_relay()
        tm.setflag(4)  # after t_relay: the request's, not the transaction's

    @router.branch("b")
    def branch(msg, tm):
        tm.bavp["who"] = msg.uri.user
        log.append(("branch", tm.T_branch_idx, bool(tm.isflagset(1)), bool(tm.isflagset(4)),
                    bool(tm.issflagset(2)), bool(tm.isbflagset(3)),
                    bool(tm.isbflagset("GW")), tm.avp.get("caller")))

    @router.onreply("r")
    def reply(msg, tm):
        log.append(("onreply", msg.status, tm.T_branch_idx, tm.bavp.get("who"),
                    bool(tm.isbflagset("GW")), tm.avp.get("caller"), tm.T_ruri))
        tm.avp["seen"] = msg.status
        if msg.status == 180:
            tm.setflag(5)  # a transaction flag from here on

    @router.failure("f")
    def failure(msg, tm):
        log.append(("failure", tm.T_branch_idx, tm.bavp.get("who"), bool(tm.isflagset(1)),
                    bool(tm.isflagset(5)), bool(tm.issflagset(2)),
                    bool(tm.isbflagset("GW")), tm.avp.get("caller"), tm.avp.get("seen"),
                    tm.T_ruri, tm.T_reply_code))

    return router


def test_flags_avps_and_variables_are_scoped_as_the_seeds_say():
    log: list = []
    h = ProxyHarness(scoping_router(log))
    h.inject(make_request("INVITE"), UAC)
    bob, carol = h.take_one(UAS), h.take_one(UAS2)
    h.inject(make_response(carol, 180, to_tag="c"), UAS2)
    h.inject(make_response(bob, 486, to_tag="b"), UAS)
    h.inject(make_response(carol, 480, to_tag="c"), UAS2)
    assert log == [
        ("request", True, True, True, True, {}, None),
        # branch route: transaction flags yes (4 was set after t_relay: no), script
        # flags of the request route no, each branch its own branch flags
        ("branch", 0, True, False, False, True, False, "alice"),
        ("branch", 1, True, False, False, False, True, "alice"),
        # onreply: per-branch $bavp; AVPs per reply (onreply_avp_mode 0)
        ("onreply", 180, 1, "carol", True, None, CAROL),
        ("onreply", 486, 0, "bob", False, None, BOB),
        ("onreply", 480, 1, "carol", True, None, CAROL),
        # failure: the winning branch's (carol, 480) $bavp and branch flags
        ("failure", None, "carol", True, True, False, True, "alice", None, CAROL, 480),
    ]


def test_onreply_avp_mode_1_shares_the_transaction_avps():
    log: list = []
    h = ProxyHarness(scoping_router(log), {"onreply_avp_mode": 1})
    h.inject(make_request("INVITE"), UAC)
    bob, carol = h.take_one(UAS), h.take_one(UAS2)
    h.inject(make_response(bob, 486, to_tag="b"), UAS)
    h.inject(make_response(carol, 480, to_tag="c"), UAS2)
    replies = [entry for entry in log if entry[0] == "onreply"]
    assert [entry[5] for entry in replies] == ["alice", "alice"]
    assert log[-1][8] == 480  # set by the onreply route, seen by the failure route


def test_request_flags_reach_the_transaction_by_t_flush_flags_or_t_relay():
    log: list = []
    router = Router()

    @router.request
    def route(msg, tm):
        tm.t_newtran()
        tm.setflag(1)  # the request's flag: not the transaction's yet
        tm.t_on_failure("f")
        if msg.headers.get("X-Flush"):
            tm.t_flush_flags()
            tm.t_reply(480, "Later")  # the failure route does not run: no t_relay
            log.append(("flushed", bool(tm.isflagset(1))))
            return
        tm.t_set_fr(0, 1000)
        tm.t_relay()  # t_relay takes the request's flags into the transaction

    @router.failure("f")
    def failure(msg, tm):
        log.append(("failure", bool(tm.isflagset(1))))

    h = ProxyHarness(router)
    h.inject(make_request("INVITE", extra=["X-Flush: 1"]), UAC)
    h.inject(make_request("INVITE", call_id="c2", branch="z9hG4bKc2"), UAC)
    h.advance(1.0)
    assert log == [("flushed", True), ("failure", True)]


def test_resetflag_resetbflag_resetsflag_and_numbers_as_text():
    log: list = []
    router = Router()

    @router.request
    def route(msg, tm):
        tm.setflag("3")
        tm.setsflag(3)
        tm.setbflag(3)
        log.append((bool(tm.isflagset(3)), bool(tm.issflagset("3")), bool(tm.isbflagset(3))))
        tm.resetflag(3)
        tm.resetsflag(3)
        tm.resetbflag("3")
        log.append((bool(tm.isflagset(3)), bool(tm.issflagset(3)), bool(tm.isbflagset(3))))
        log.append((int(tm.setbflag(1, 5)), int(tm.isbflagset(1, 5))))  # no branch 5
        tm.sl_send_reply(404, "Nobody")

    h = ProxyHarness(router)
    h.inject(make_request("INVITE"), UAC)
    assert log == [(True, True, True), (False, False, False), (-1, -1)]


def test_bavp_outside_branch_routes_is_empty_and_read_only():
    errors: list[str] = []
    router = Router()

    @router.request
    def route(msg, tm):
        assert tm.bavp.get("x") is None and len(tm.bavp) == 0
        try:
            tm.bavp["x"] = 1
        except RuntimeError as exc:
            errors.append(str(exc))
        tm.sl_send_reply(404)

    h = ProxyHarness(router)
    h.inject(make_request("OPTIONS"), UAC)
    assert errors == ["$bavp is not available in a request route (only branch, onreply "
                      "and failure routes)"]


def test_fr_timeout_variables_read_write_and_reset():
    log: list = []
    router = Router()

    @router.request
    def route(msg, tm):
        log.append((tm.T_fr_timeout, tm.T_fr_inv_timeout))
        tm.T_fr_inv_timeout = 3000
        tm.T_fr_timeout = 1500
        log.append((tm.T_fr_timeout, tm.T_fr_inv_timeout))
        tm.T_fr_timeout = None  # seed 003: NULL resets it
        log.append((tm.T_fr_timeout, tm.T_fr_inv_timeout))
        tm.t_relay()
        tm.T_fr_timeout = 2000  # after t_relay: the live branch too
        log.append((tm.T_fr_timeout, tm.T_fr_inv_timeout))

    h = ProxyHarness(router)
    h.inject(make_request("INVITE"), UAC)
    assert log == [(30000, 120000), (1500, 3000), (30000, 3000), (2000, 3000)]
    h.take()
    h.advance(2.0)  # no reply at all: fr_timer (2 s, set on the fly) ends the branch
    assert [(round(s.time, 3), s.msg.status) for s in h.take_sent(UAC)] == [(2.0, 408)]


def test_t_ruri_and_t_reply_code_in_the_request_route():
    log: list = []
    router = Router()

    @router.request
    def route(msg, tm):
        log.append((tm.T_ruri, tm.T_reply_code, tm.T_branch_idx, tm.route_type))
        tm.t_newtran()
        log.append((tm.T_ruri, tm.T_reply_code))
        tm.t_reply(486, "Busy")
        log.append((tm.T_ruri, tm.T_reply_code))

    h = ProxyHarness(router)
    h.inject(make_request("INVITE"), UAC)
    assert log == [(None, 0, None, "request"), (BOB, 100), (BOB, 486)]


def test_du_attribute():
    router = Router()

    @router.request
    def route(msg, tm):
        assert tm.du is None
        tm.du = "sip:192.0.2.10:5060"
        assert tm.du == "sip:192.0.2.10:5060"
        tm.t_relay()

    h = ProxyHarness(router)
    h.inject(make_request("MESSAGE"), UAC)
    assert h.take_one(UAS2).uri_text == BOB  # sent to $du, R-URI unchanged
