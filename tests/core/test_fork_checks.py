"""The seeds' checks in every route type, sans-IO: where each may be called (a clear
RuntimeError elsewhere) and what it answers: t_check_status, t_grep_status,
t_branch_timeout, t_branch_replied, t_any_timeout, t_any_replied, t_is_canceled /
t_was_cancelled, t_is_expired, t_local_replied."""

from __future__ import annotations

import pytest
from forkhelpers import no_transaction_left  # noqa: F401  (autouse fixture)

from siptm.script import Router
from siptm.sip import parse
from siptm.testing import UAC, UAS, UAS2, ProxyHarness, make_request, make_response

CAROL = "sip:carol@192.0.2.10"  # UAS2

# probe -> the route types where the seeds allow it
ALLOWED = {
    "t_check_status": {"request", "failure", "onreply", "branch"},
    "t_local_replied": {"request", "failure", "onreply", "branch"},
    "t_grep_status": {"request", "failure", "onreply", "branch"},
    "t_any_timeout": {"request", "failure", "onreply", "branch"},
    "t_any_replied": {"request", "failure", "onreply", "branch"},
    "t_is_canceled": {"request", "failure", "onreply", "branch"},
    "t_is_expired": {"request", "failure", "onreply", "branch"},
    "t_branch_timeout": {"failure"},
    "t_branch_replied": {"failure"},
    "t_drop_replies": {"failure"},
    "t_was_cancelled": {"failure", "onreply"},
    "t_cancel_branch": {"onreply"},
    "t_load_contacts": {"request"},
    "t_next_contacts": {"request", "failure"},
    "t_replicate": {"request"},
    "append_branch": {"request", "failure"},
    "t_relay": {"request", "failure"},
    "t_reply": {"request", "failure", "onreply"},
}
ARGS = {"t_check_status": ("2..",), "t_local_replied": ("all",), "t_grep_status": (486,),
        "t_replicate": ("sip:192.0.2.12",), "append_branch": ("sip:x@192.0.2.12",),
        "t_reply": (500,)}
SKIP_WHERE_ALLOWED = {"t_relay", "t_reply", "t_cancel_branch", "t_drop_replies",
                      "t_replicate", "append_branch"}  # they act; probed where refused only


def probe_all(tm, kind: str, results: dict[tuple[str, str], str]) -> None:
    for name, kinds in ALLOWED.items():
        if (name, kind) in results:
            continue
        if kind in kinds and name in SKIP_WHERE_ALLOWED:
            results[(name, kind)] = "ok"
            continue
        try:
            getattr(tm, name)(*ARGS.get(name, ()))
        except RuntimeError as exc:
            results[(name, kind)] = str(exc)
        else:
            results[(name, kind)] = "ok"


def test_each_check_is_allowed_where_the_seeds_say_and_a_clear_error_elsewhere():
    results: dict[tuple[str, str], str] = {}
    router = Router()

    @router.request
    def route(msg, tm):
        tm.t_on_branch("b")
        tm.t_on_reply("r")
        tm.t_on_failure("f")
        probe_all(tm, "request", results)
        tm.t_relay()

    @router.branch("b")
    def b(msg, tm):
        probe_all(tm, "branch", results)

    @router.onreply("r")
    def r(reply, tm):
        probe_all(tm, "onreply", results)

    @router.failure("f")
    def f(msg, tm):
        probe_all(tm, "failure", results)

    h = ProxyHarness(router, {"contacts_avp": "c"})
    h.inject(make_request("INVITE"), UAC)
    invite = h.take_one(UAS)
    h.inject(make_response(invite, 486, to_tag="b"), UAS)
    for name, kinds in ALLOWED.items():
        for kind in ("request", "failure", "onreply", "branch"):
            outcome = results[(name, kind)]
            if kind in kinds:
                assert outcome == "ok", (name, kind, outcome)
            else:
                assert outcome.startswith(f"{name}() cannot be used in a {kind} route"), \
                    (name, kind, outcome)


def test_errors_name_the_function_and_route_type():
    errors: list[str] = []
    router = Router()

    @router.request
    def route(msg, tm):
        tm.t_on_branch("b")
        tm.t_relay()

    @router.branch("b")
    def b(msg, tm):
        for call in (lambda: tm.t_relay_to_udp("192.0.2.9", 5060),
                     lambda: tm.t_newtran(), lambda: tm.t_branch_timeout()):
            try:
                call()
            except RuntimeError as exc:
                errors.append(str(exc))

    h = ProxyHarness(router)
    h.inject(make_request("INVITE"), UAC)
    assert errors == [
        "t_relay() cannot be used in a branch route (only in: request, failure)",
        "t_newtran() is not available in a branch route",
        "t_branch_timeout() cannot be used in a branch route (only in: failure)",
    ]


def two_branch_failure(h_config=None, *, replies, probe, advance=0.0):
    """Fork to bob and carol, feed ``replies`` [(branch, status)], then run ``probe``
    in the failure route; return what it returned."""
    out: list = []
    router = Router()

    @router.request
    def route(msg, tm):
        tm.append_branch(CAROL)
        tm.t_on_failure("f")
        tm.t_relay()

    @router.failure("f")
    def f(msg, tm):
        out.append(probe(msg, tm))

    h = ProxyHarness(router, h_config or {})
    h.inject(make_request("INVITE"), UAC)
    reqs = [h.take_one(UAS), h.take_one(UAS2)]
    for index, status in replies:
        h.inject(make_response(reqs[index], status, to_tag=f"t{index}"),
                 (UAS, UAS2)[index])
    if advance:
        h.advance(advance)
    return out, h


def test_t_grep_status_finds_any_branch_final_code():
    out, _ = two_branch_failure(
        replies=[(0, 486), (1, 404)],
        probe=lambda msg, tm: [bool(tm.t_grep_status(c)) for c in (486, "404", 500)])
    assert out == [[True, True, False]]


def test_t_check_status_searches_the_winning_code_like_regexec():
    out, _ = two_branch_failure(
        replies=[(0, 486), (1, 404)],
        probe=lambda msg, tm: (tm.T_reply_code, bool(tm.t_check_status("404")),
                               bool(tm.t_check_status("(487)|(408)")),
                               bool(tm.t_check_status("4[0-9][0-9]")),
                               bool(tm.t_check_status("40"))))
    assert out == [(404, True, False, True, True)]


def test_t_branch_timeout_t_any_timeout_and_t_branch_replied():
    # carol times out (408) after a 180, bob answers 486: 408 wins
    out, _ = two_branch_failure(
        {"fr_inv_timer": 3000},
        replies=[(1, 180), (0, 486)], advance=3.0,
        probe=lambda msg, tm: (tm.T_reply_code, bool(tm.t_branch_timeout()),
                               bool(tm.t_branch_replied()), bool(tm.t_any_timeout()),
                               bool(tm.t_local_replied("last"))))
    assert out == [(408, True, True, True, True)]
    # carol times out with no reply at all, bob 404: 404 wins, carol timed out
    out, _ = two_branch_failure(
        {"fr_timer": 3000},
        replies=[(0, 404)], advance=3.0,
        probe=lambda msg, tm: (tm.T_reply_code, bool(tm.t_branch_timeout()),
                               bool(tm.t_branch_replied()), bool(tm.t_any_timeout()),
                               bool(tm.t_local_replied("last")),
                               bool(tm.t_local_replied("all"))))
    assert out == [(404, False, False, True, False, False)]
    # both time out unreplied: every reply was local
    out, _ = two_branch_failure(
        {"fr_timer": 3000}, replies=[], advance=3.0,
        probe=lambda msg, tm: (bool(tm.t_branch_timeout()), bool(tm.t_branch_replied()),
                               bool(tm.t_local_replied("all")), bool(tm.t_any_replied())))
    assert out == [(True, False, True, False)]


def test_t_any_replied_does_not_count_the_current_reply():
    # failure route: the winning final reply does not count, other branches' do
    out, _ = two_branch_failure(
        replies=[(0, 486), (1, 480)],
        probe=lambda msg, tm: bool(tm.t_any_replied()))
    assert out == [True]  # bob's 486 (carol's 480 won)
    seen: list[tuple[int, bool]] = []
    router = Router()

    @router.request
    def route(msg, tm):
        tm.t_on_reply("r")
        tm.t_relay()

    @router.onreply("r")
    def r(reply, tm):
        seen.append((reply.status, bool(tm.t_any_replied())))

    h = ProxyHarness(router)
    h.inject(make_request("INVITE"), UAC)
    invite = h.take_one(UAS)
    for status in (100, 180, 200):
        h.inject(make_response(invite, status, to_tag="b"), UAS)
    assert seen == [(100, False), (180, True), (200, True)]  # seed 002 example 53


@pytest.mark.parametrize("cancel", [False, True])
def test_t_is_canceled_and_t_was_cancelled(cancel):
    seen: list = []
    router = Router()

    @router.request
    def route(msg, tm):
        if msg.method == "CANCEL":
            tm.t_relay_cancel()
        tm.t_on_failure("f")
        tm.t_relay()

    @router.failure("f")
    def f(msg, tm):
        seen.append((bool(tm.t_is_canceled()), bool(tm.t_was_cancelled()),
                     tm.T_reply_code))
        if not tm.t_is_canceled():
            tm.t_reply(480, "Later")

    h = ProxyHarness(router)
    h.inject(make_request("INVITE"), UAC)
    invite = h.take_one(UAS)
    h.inject(make_response(invite, 180, to_tag="b"), UAS)
    if cancel:
        h.inject(make_request("CANCEL"), UAC)
        h.inject(make_response(h.take_one(UAS), 200, to_tag=None), UAS)
        h.inject(make_response(invite, 487, to_tag="b"), UAS)
        assert seen == [(True, True, 487)]
        assert [m.status for m in h.take(UAC)][-1] == 487
    else:
        h.inject(make_response(invite, 486, to_tag="b"), UAS)
        assert seen == [(False, False, 486)]
        assert [m.status for m in h.take(UAC)][-1] == 480


def test_t_is_expired_after_max_inv_lifetime():
    seen: list[bool] = []
    router = Router()

    @router.request
    def route(msg, tm):
        seen.append(bool(tm.t_is_expired()))
        tm.t_on_failure("f")
        tm.t_relay()

    @router.failure("f")
    def f(msg, tm):
        seen.append(bool(tm.t_is_expired()))  # no point in a new branch

    h = ProxyHarness(router, {"max_inv_lifetime": 4000})
    h.inject(make_request("INVITE"), UAC)
    invite = h.take_one(UAS)
    h.inject(make_response(invite, 180, to_tag="b"), UAS)
    h.advance(4.0)
    assert seen == [False, True]
    assert [m.status for m in h.take(UAC)][-1] == 408


def test_request_route_checks_look_at_the_last_reply_sent():
    seen: list = []
    router = Router()

    @router.request
    def route(msg, tm):
        seen.append((tm.T_reply_code, bool(tm.t_check_status("0")),
                     bool(tm.t_local_replied("last"))))
        tm.t_reply(404, "Not Here")
        seen.append((tm.T_reply_code, bool(tm.t_check_status("404")),
                     bool(tm.t_local_replied("last")), bool(tm.t_local_replied("all"))))

    h = ProxyHarness(router)
    h.inject(make_request("INVITE"), UAC)
    assert seen == [(0, True, False), (404, True, True, True)]


def test_on_sl_reply_can_check_the_status_of_a_stray_reply():
    router = Router()

    @router.request
    def route(msg, tm):
        tm.t_relay()

    @router.onreply("stray")
    def stray(reply, tm):
        if tm.t_check_status("18[0-9]"):
            tm.exit()  # do not forward stray provisional replies

    h = ProxyHarness(router, {"on_sl_reply": "stray"})
    via = ("SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKstgone.1, "
           "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKuac9")
    for status in (180, 200):
        stray_reply = make_response(parse(make_request("INVITE", via=via)), status)
        h.inject(stray_reply, UAS)
    assert [m.status for m in h.take(UAC)] == [200]
