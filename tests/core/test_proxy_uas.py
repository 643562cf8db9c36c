"""The proxy as a UAS and the transaction checks (seeds 002/003): t_newtran, t_reply,
t_reply_with_body, t_lookup_request, t_retransmit_reply, t_release, t_check_trans,
sl_send_reply, sl_reply_error."""

from __future__ import annotations

from siptm.script import Router
from siptm.testing import UAC, UAS, ProxyHarness, make_request, make_response

LOG: list[object] = []


def uas_router() -> Router:
    router = Router()

    @router.request
    def route(msg, tm):
        LOG.append(("route", msg.method))
        if msg.method == "ACK":
            return
        LOG.append(("lookup before", int(tm.t_lookup_request())))
        if not tm.t_newtran():
            tm.sl_reply_error()
            return
        LOG.append(("lookup after", int(tm.t_lookup_request())))
        if msg.method == "INVITE":
            tm.t_reply(180, "Ringing")
            tm.t_reply(486, "Busy Here")
        elif msg.method == "MESSAGE":
            tm.t_reply_with_body(200, "OK", "hello", "text/plain")
        else:
            tm.t_reply(404, "Not Here")

    return router


def test_t_newtran_and_t_reply_add_one_to_tag_and_absorb_retransmissions():
    LOG.clear()
    h = ProxyHarness(uas_router())
    h.inject(make_request("INVITE"), UAC)
    trying, ringing, busy = h.take(UAC)
    assert (trying.status, trying.to_tag) == (100, None)  # fired by t_newtran
    assert ringing.status == 180 and ringing.to_tag
    assert (busy.status, busy.reason) == (486, "Busy Here")
    assert busy.to_tag == ringing.to_tag  # one To tag for the transaction's replies
    assert [str(v) for v in busy.vias] == ["SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKuac1"]
    assert h.take(UAS) == []
    assert LOG == [("route", "INVITE"), ("lookup before", -1), ("lookup after", 1)]

    # a retransmission: not routed, the same 486 again
    h.inject(make_request("INVITE"), UAC)
    [again] = h.take_sent(UAC)
    assert again.data == bytes(busy)
    assert len(LOG) == 3

    # the ACK for our 486 is absorbed by the transaction: not routed
    h.inject(make_request("ACK", to_tag=busy.to_tag), UAC)
    assert h.pending() == [] and len(LOG) == 3
    h.settle()
    assert h.in_use == 0


def test_t_reply_with_body():
    h = ProxyHarness(uas_router())
    h.inject(make_request("MESSAGE"), UAC)
    ok = h.take_one(UAC)
    assert ok.status == 200 and ok.body == b"hello"
    assert ok.headers.get("Content-Type") == "text/plain"
    assert ok.content_length == 5
    assert ok.to_tag
    h.inject(make_request("MESSAGE"), UAC)
    assert h.take_one(UAC).to_tag == ok.to_tag


def test_t_reply_creates_the_transaction_itself():
    router = Router()

    @router.request
    def route(msg, tm):
        tm.t_reply(403, "Forbidden")

    h = ProxyHarness(router)
    h.inject(make_request("OPTIONS"), UAC)
    [forbidden] = h.take(UAC)
    assert (forbidden.status, forbidden.reason) == (403, "Forbidden") and forbidden.to_tag
    h.inject(make_request("OPTIONS"), UAC)
    assert h.take_one(UAC).to_tag == forbidden.to_tag
    assert h.in_use == 1


def test_t_retransmit_reply_sends_the_last_reply_again():
    router = Router()

    @router.request
    def route(msg, tm):
        assert not tm.t_retransmit_reply()  # nothing sent yet
        tm.t_reply(404, "Not Found")
        assert tm.t_retransmit_reply()

    h = ProxyHarness(router)
    h.inject(make_request("OPTIONS"), UAC)
    first, second = h.take_sent(UAC)
    assert first.data == second.data and first.msg.status == 404


def test_t_release_drops_an_unanswered_transaction_after_wt_timer():
    router = Router()

    @router.request
    def route(msg, tm):
        tm.t_newtran()
        tm.t_release()

    h = ProxyHarness(router, {"wt_timer": 2000})
    h.inject(make_request("OPTIONS"), UAC)
    assert h.pending() == [] and h.in_use == 1
    h.advance(1)
    h.inject(make_request("OPTIONS"), UAC)  # absorbed meanwhile
    assert h.pending() == []
    h.advance(1)
    assert h.in_use == 0


def test_t_check_trans_for_cancel_is_t_lookup_cancel():
    results: list[tuple[str, int]] = []
    router = Router()

    @router.request
    def route(msg, tm):
        if msg.method == "CANCEL":
            results.append(("check", int(tm.t_check_trans())))
            results.append(("lookup", int(tm.t_lookup_cancel())))
            tm.sl_send_reply(481, "No Transaction")
            return
        results.append((msg.method, int(tm.t_check_trans())))  # a new request: false
        tm.t_relay()

    h = ProxyHarness(router)
    h.inject(make_request("CANCEL", branch="z9hG4bKother"), UAC)
    assert results == [("check", -1), ("lookup", -1)]
    assert h.take_one(UAC).status == 481
    assert h.in_use == 0  # answered statelessly
    h.inject(make_request("INVITE"), UAC)
    h.inject(make_request("CANCEL"), UAC)
    assert results[2:] == [("INVITE", -1), ("check", 1), ("lookup", 1)]


def e2e_ack_router(results: list) -> Router:
    router = Router()

    @router.request
    def route(msg, tm):
        if msg.method == "ACK":
            results.append(int(tm.t_check_trans()))  # ends the route for a hop-by-hop ACK
            tm.t_relay()
            return
        tm.t_check_trans()
        tm.t_relay()

    return router


def test_t_check_trans_for_an_e2e_ack_is_true_while_the_invite_transaction_lives():
    results: list[int] = []
    h = ProxyHarness(e2e_ack_router(results))
    h.inject(make_request("INVITE"), UAC)
    h.take(UAC)
    invite = h.take_one(UAS)
    h.inject(make_response(invite, 200, to_tag="bob"), UAS)
    assert h.take_one(UAC).status == 200

    h.inject(make_request("ACK", branch="z9hG4bKack1", to_tag="bob"), UAC)
    assert results == [1]
    assert h.take_one(UAS).method == "ACK"  # forwarded end to end

    h.advance(40)  # Timer L (64*T1) ended the INVITE transaction
    h.inject(make_request("ACK", branch="z9hG4bKack2", to_tag="bob"), UAC)
    assert results == [1, -1]
    assert h.take_one(UAS).method == "ACK"  # still relayed by the script


def test_t_check_trans_for_an_ack_reusing_the_invite_branch_after_a_2xx_is_e2e():
    # some UAs (and RFC 2543 ones) send the ACK for a 2xx with the INVITE's top Via:
    # it matches the INVITE transaction, which passes it on (RFC 6026 Accepted); it is
    # an end-to-end ACK, so t_check_trans is true and the script relays it
    results: list[int] = []
    h = ProxyHarness(e2e_ack_router(results))
    h.inject(make_request("INVITE"), UAC)
    h.take(UAC)
    invite = h.take_one(UAS)
    h.inject(make_response(invite, 200, to_tag="bob"), UAS)
    h.take(UAC)
    h.inject(make_request("ACK", to_tag="bob"), UAC)
    assert results == [1]
    assert h.take_one(UAS).method == "ACK"


def test_t_check_trans_on_a_retransmission_in_an_async_route_window():
    # the layer absorbs retransmissions before any route runs: the script never sees
    # them (t_check_trans has nothing left to do for them)
    routed: list[str] = []
    router = Router()

    @router.request
    def route(msg, tm):
        routed.append(msg.method)
        tm.t_check_trans()
        tm.t_relay()

    h = ProxyHarness(router)
    h.inject(make_request("MESSAGE"), UAC)
    req = h.take_one(UAS)
    h.inject(make_request("MESSAGE"), UAC)
    h.inject(make_response(req, 200), UAS)
    h.inject(make_request("MESSAGE"), UAC)
    assert routed == ["MESSAGE"]
    assert [m.status for m in h.take(UAC)] == [200, 200]


def test_sl_send_reply_and_sl_reply_error_are_stateless():
    router = Router()

    @router.request
    def route(msg, tm):
        if msg.method == "OPTIONS":
            tm.sl_send_reply(200, "Alive")
        else:
            tm.t_relay("udp:")  # fails: bad destination ...
            tm.sl_reply_error()  # ... answered with its error

    h = ProxyHarness(router)
    h.inject(make_request("OPTIONS"), UAC)
    ok = h.take_one(UAC)
    assert (ok.status, ok.reason) == (200, "Alive") and ok.to_tag
    assert h.in_use == 0
    h.inject(make_request("OPTIONS"), UAC)  # not absorbed: answered again, new tag
    again = h.take_one(UAC)
    assert again.status == 200 and again.to_tag != ok.to_tag


def test_sl_reply_error_without_a_failure_is_500():
    router = Router()

    @router.request
    def route(msg, tm):
        tm.sl_reply_error()

    h = ProxyHarness(router)
    h.inject(make_request("OPTIONS"), UAC)
    assert h.take_one(UAC).status == 500


def test_changes_before_t_relay_are_what_the_branch_carries():
    router = Router()

    @router.request
    def route(msg, tm):
        tm.t_newtran()
        msg.headers.add("X-Before", "1")
        msg.uri = "sip:carol@192.0.2.10"
        tm.t_relay()
        msg.headers.add("X-After", "1")  # too late for the branch

    h = ProxyHarness(router)
    h.inject(make_request("MESSAGE"), UAC)
    [sent] = h.take_sent()
    assert sent.msg.uri_text == "sip:carol@192.0.2.10"
    assert sent.msg.headers.get("X-Before") == "1"
    assert sent.msg.headers.get("X-After") is None
