"""Max-Breadth (RFC 5393 §5.3) and seed 003 ``t_replicate``, sans-IO."""

from __future__ import annotations

import pytest
from forkhelpers import no_transaction_left  # noqa: F401  (autouse fixture)

from siptm.script import Router
from siptm.testing import (
    UAC,
    UAS,
    UAS2,
    UAS3,
    UAS4,
    ProxyHarness,
    make_request,
    make_response,
)

CAROL = "sip:carol@192.0.2.10"  # UAS2
DAVE = "sip:dave@192.0.2.11"  # UAS3


def fork(*uris: str, failure: bool = False) -> Router:
    router = Router()

    @router.request
    def route(msg, tm):
        for uri in uris:
            tm.append_branch(uri)
        if failure:
            tm.t_on_failure("serial")
        if not tm.t_relay():
            tm.sl_reply_error()

    @router.failure("serial")
    def serial(msg, tm):
        msg.uri = "sip:erin@192.0.2.12"
        tm.t_relay()

    return router


@pytest.mark.parametrize(("header", "uris", "expected"), [
    (None, (), [None]),  # not forked: the request goes as it came
    ("5", (), ["5"]),  # one branch: the whole breadth, unchanged
    (None, (CAROL,), ["30", "30"]),  # RFC 5393: 60 when absent, shared
    ("3", (CAROL,), ["2", "1"]),  # the remainder to the first branches
    ("70", (CAROL, DAVE), ["24", "23", "23"]),
    ("2", (CAROL,), ["1", "1"]),
])
def test_parallel_branches_share_the_max_breadth(header, uris, expected):
    h = ProxyHarness(fork(*uris))
    extra = [f"Max-Breadth: {header}"] if header else []
    h.inject(make_request("INVITE", extra=extra), UAC)
    sent = [h.take_one(callee) for callee in (UAS, UAS2, UAS3)[:len(expected)]]
    assert [r.headers.get("Max-Breadth") for r in sent] == expected


@pytest.mark.parametrize(("header", "uris"), [("1", (CAROL,)), ("0", ()), ("2", (CAROL, DAVE))])
def test_not_enough_breadth_is_440(header, uris):
    h = ProxyHarness(fork(*uris))
    h.inject(make_request("INVITE", extra=[f"Max-Breadth: {header}"]), UAC)
    assert [(m.status, m.reason) for m in h.take(UAC)] == [
        (100, "trying -- your call is important to us"), (440, "Max-Breadth Exceeded")]
    assert h.take() == []  # nothing forwarded
    h.inject(make_request("ACK", to_tag=h.sent[-1].msg.to_tag), UAC)
    h.settle()
    assert h.in_use == 0


def test_sl_reply_error_after_a_max_breadth_failure_is_440():
    results: list[int] = []
    router = Router()

    @router.request
    def route(msg, tm):
        tm.append_branch(CAROL)
        code = tm.t_relay(0x02)  # no automatic reply
        results.append(int(code))
        if not code:
            tm.sl_reply_error()

    h = ProxyHarness(router)
    h.inject(make_request("OPTIONS", extra=["Max-Breadth: 1"]), UAC)
    assert results == [-3]
    assert [m.status for m in h.take(UAC)] == [440]


def test_serial_branches_get_the_breadth_back():
    h = ProxyHarness(fork(CAROL, failure=True))
    h.inject(make_request("INVITE", extra=["Max-Breadth: 4"]), UAC)
    bob, carol = h.take_one(UAS), h.take_one(UAS2)
    assert bob.headers.get("Max-Breadth") == carol.headers.get("Max-Breadth") == "2"
    h.inject(make_response(bob, 486, to_tag="b"), UAS)
    h.inject(make_response(carol, 486, to_tag="c"), UAS2)
    erin = h.take_one(UAS4)  # no branch pending any more: the whole breadth
    assert erin.headers.get("Max-Breadth") == "4"


def test_t_replicate_sends_a_copy_whose_replies_never_reach_the_caller():
    router = Router()

    @router.request
    def route(msg, tm):
        if msg.method == "INVITE":
            assert tm.t_replicate("sip:192.0.2.11:5060")
        tm.t_relay()

    h = ProxyHarness(router)
    h.inject(make_request("INVITE"), UAC)
    assert [m.status for m in h.take(UAC)] == [100]
    invite, copy = h.take_one(UAS), h.take_one(UAS3)
    assert copy.uri_text == invite.uri_text == "sip:bob@192.0.2.9"  # R-URI unchanged
    assert copy.vias[0].branch != invite.vias[0].branch
    assert [str(v) for v in copy.vias[1:]] == [str(v) for v in invite.vias[1:]]
    assert copy.max_forwards == 69
    h.inject(make_response(copy, 180, to_tag="copy"), UAS3)
    h.inject(make_response(copy, 486, to_tag="copy"), UAS3)
    assert h.take_one(UAS3).method == "ACK"  # ACKed hop by hop, nothing upstream
    assert h.take(UAC) == []
    h.inject(make_response(invite, 200, to_tag="bob"), UAS)
    assert [(m.status, m.to_tag) for m in h.take(UAC)] == [(200, "bob")]
    h.settle()
    assert h.in_use == 0


def test_t_replicate_a_register_and_answer_it_statelessly():
    """The seeds' main use: REGISTER replication, the request answered here."""
    router = Router()

    @router.request
    def route(msg, tm):
        tm.append_branch("sip:backup2@192.0.2.12")  # more destinations: as branches
        assert tm.t_replicate("sip:192.0.2.11")
        tm.sl_send_reply(200, "OK")

    h = ProxyHarness(router)
    h.inject(make_request("REGISTER", ruri="sip:example.org"), UAC)
    assert [m.status for m in h.take(UAC)] == [200]
    first, second = h.take_one(UAS3), h.take_one(UAS4)
    assert first.method == second.method == "REGISTER"
    assert first.uri_text == second.uri_text == "sip:example.org"
    h.inject(make_response(first, 200, to_tag="r1"), UAS3)
    h.inject(make_response(second, 500, to_tag="r2"), UAS4)
    assert h.take(UAC) == []
    h.settle()
    assert h.in_use == 0


def test_t_replicate_failures():
    results: list[int] = []
    router = Router()

    @router.request
    def route(msg, tm):
        results.append(int(tm.t_replicate("mailto:nobody@example.org")))
        results.append(int(tm.t_replicate("sip:[bad")))
        tm.sl_send_reply(404)

    h = ProxyHarness(router)
    h.inject(make_request("MESSAGE"), UAC)
    assert results == [-4, -4]
    assert [m.status for m in h.take(UAC)] == [404]
    assert h.take() == []
