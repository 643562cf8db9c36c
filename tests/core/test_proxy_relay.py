"""The stateful proxy relaying calls, sans-IO: wire-exact Via stacks, tags, CSeq and codes
(RFC 3261 §16, seeds 002/003 t_relay)."""

from __future__ import annotations

import pytest

from siptm.net import Address
from siptm.script import Router
from siptm.script.runner import load_router
from siptm.sip import Request, Response
from siptm.testing import PROXY, UAC, UAS, ProxyHarness, make_request, make_response

OUR_BRANCH = "z9hG4bKst"


def relay_router(flags: int = 0, record: bool = False) -> Router:
    router = Router()

    @router.request
    def route(msg, tm):
        if msg.method == "CANCEL":
            tm.t_relay_cancel()
        if record and msg.method == "INVITE":
            tm.record_route()
        if not tm.t_relay(flags):
            tm.sl_reply_error()

    return router


def via_texts(msg: Request | Response) -> list[str]:
    return [str(v) for v in msg.vias]


def test_full_call_invite_ringing_ok_ack_bye():
    h = ProxyHarness(load_router(None))  # the bundled default script
    sent = h.inject(make_request("INVITE"), UAC)

    # our own 100 goes upstream at once, with auto_inv_100_reason, no To tag
    [trying] = h.take(UAC)
    assert (trying.status, trying.reason) == (100, "trying -- your call is important to us")
    assert trying.to_tag is None
    assert via_texts(trying) == ["SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKuac1"]

    # the INVITE downstream: our Via on top with a fresh branch, Max-Forwards - 1, RR
    [invite] = h.take(UAS)
    assert invite.method == "INVITE" and invite.uri_text == "sip:bob@192.0.2.9"
    top, second = invite.vias
    assert (top.transport, top.host, top.port) == ("UDP", "127.0.0.1", 5060)
    assert top.branch.startswith(OUR_BRANCH) and "rport" in top.params
    assert str(second) == "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKuac1"
    assert invite.max_forwards == 69
    assert [str(r) for r in invite.record_routes] == ["<sip:127.0.0.1:5060;lr>"]
    assert str(invite.cseq) == "1 INVITE"
    assert sent[-1].local == PROXY  # sent from the listener

    # the UAS's 100 is absorbed; 180 and 200 go up with our Via popped
    assert h.inject(make_response(invite, 100), UAS) == []
    h.inject(make_response(invite, 180, to_tag="bobtag"), UAS)
    [ringing] = h.take(UAC)
    assert ringing.status == 180 and ringing.to_tag == "bobtag"
    assert via_texts(ringing) == ["SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKuac1"]
    ok = Response.for_request(invite, 200, to_tag="bobtag",
                              headers=[("Contact", "<sip:bob@192.0.2.9:5060>"),
                                       ("Record-Route", "<sip:127.0.0.1:5060;lr>")])
    h.inject(bytes(ok), UAS)
    [ok_up] = h.take(UAC)
    assert ok_up.status == 200 and ok_up.to_tag == "bobtag"
    assert via_texts(ok_up) == ["SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKuac1"]
    assert h.pending() == []

    # the end-to-end ACK follows the Route set (loose_route) to the Contact
    ack = make_request("ACK", ruri="sip:bob@192.0.2.9:5060", branch="z9hG4bKuacack",
                       to_tag="bobtag", extra=["Route: <sip:127.0.0.1:5060;lr>"])
    h.inject(ack, UAC)
    [ack_down] = h.take(UAS)
    assert ack_down.method == "ACK" and ack_down.routes == []
    assert ack_down.vias[0].branch.startswith(OUR_BRANCH)
    assert str(ack_down.vias[1]) == "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKuacack"
    assert h.pending() == []

    # BYE from the callee, relayed back to the caller's Contact, its 200 back down
    bye = (b"BYE sip:alice@192.0.2.1:5060 SIP/2.0\r\n"
           b"Via: SIP/2.0/UDP 192.0.2.9:5060;branch=z9hG4bKbye1\r\n"
           b"Route: <sip:127.0.0.1:5060;lr>\r\nMax-Forwards: 70\r\n"
           b"From: Bob <sip:bob@192.0.2.9>;tag=bobtag\r\n"
           b"To: Alice <sip:alice@192.0.2.1>;tag=fromtag1\r\n"
           b"Call-ID: call-1@192.0.2.1\r\nCSeq: 7 BYE\r\nContent-Length: 0\r\n\r\n")
    h.inject(bye, UAS)
    [bye_down] = h.take(UAC)
    assert bye_down.method == "BYE" and str(bye_down.cseq) == "7 BYE"
    assert len(bye_down.vias) == 2 and bye_down.routes == []
    assert h.pending() == []  # no 100 for a BYE
    h.inject(make_response(bye_down, 200, to_tag=None), UAC)
    [bye_ok] = h.take(UAS)
    assert bye_ok.status == 200 and via_texts(bye_ok) == [
        "SIP/2.0/UDP 192.0.2.9:5060;branch=z9hG4bKbye1"]

    h.settle()
    assert h.in_use == 0
    assert h.pending() == []


def test_auto_inv_100_can_be_switched_off_per_transaction():
    router = Router()

    @router.request
    def route(msg, tm):
        tm.t_set_auto_inv_100(0)
        tm.t_relay()

    h = ProxyHarness(router)
    h.inject(make_request("INVITE"), UAC)
    assert h.take(UAC) == []
    assert len(h.take(UAS)) == 1


def test_auto_inv_100_off_globally_and_its_reason():
    h = ProxyHarness(relay_router(), {"auto_inv_100": False})
    h.inject(make_request("INVITE"), UAC)
    assert h.take(UAC) == []
    h = ProxyHarness(relay_router(), {"auto_inv_100_reason": "Trying"})
    h.inject(make_request("INVITE"), UAC)
    assert h.take_one(UAC).reason == "Trying"


@pytest.mark.parametrize("method", ["MESSAGE", "OPTIONS"])
def test_non_invite_relay(method):
    h = ProxyHarness(relay_router())
    h.inject(make_request(method, branch="z9hG4bKm1"), UAC)
    assert h.take(UAC) == []  # no 100 for a non-INVITE
    req = h.take_one(UAS)
    assert req.method == method and len(req.vias) == 2 and req.max_forwards == 69
    h.inject(make_response(req, 200), UAS)
    ok = h.take_one(UAC)
    assert ok.status == 200 and str(ok.cseq) == f"1 {method}"
    assert via_texts(ok) == ["SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKm1"]
    h.settle()
    assert h.in_use == 0


def test_via_received_and_rport_stamped_and_replies_follow_them():
    h = ProxyHarness(relay_router())
    nat = Address("udp", "203.0.113.7", 40123)
    h.inject(make_request("MESSAGE", via="SIP/2.0/UDP uac.example.com;branch=z9hG4bKn1;rport"),
             nat)
    req = h.take_one(UAS)
    assert str(req.vias[1]) == ("SIP/2.0/UDP uac.example.com;branch=z9hG4bKn1;"
                                "rport=40123;received=203.0.113.7")
    h.inject(make_response(req, 202), UAS)
    [sent] = h.take_sent()
    assert sent.dest == nat and sent.msg.status == 202

    # no rport: received only when the sent-by differs from the source; the reply goes
    # to the received address and the sent-by port
    h.inject(make_request("MESSAGE", via="SIP/2.0/UDP 192.0.2.50:5070;branch=z9hG4bKn2"),
             Address("udp", "192.0.2.51", 6000))
    req = h.take_one(UAS)
    assert str(req.vias[1]) == "SIP/2.0/UDP 192.0.2.50:5070;branch=z9hG4bKn2;received=192.0.2.51"
    h.inject(make_response(req, 200), UAS)
    assert h.take_sent()[0].dest == Address("udp", "192.0.2.51", 5070)


def test_record_route_with_params_and_the_listener_it_names():
    router = Router()

    @router.request
    def route(msg, tm):
        tm.record_route("ftag=1")
        tm.t_relay()

    tcp = Address("tcp", "127.0.0.1", 5060)
    h = ProxyHarness(router, listeners=(PROXY, tcp))
    h.inject(make_request("INVITE", via="SIP/2.0/TCP 192.0.2.1:5060;branch=z9hG4bKt1"),
             Address("tcp", "192.0.2.1", 40000, connection=4), local=tcp)
    invite = h.take_one(UAS)
    assert [str(r) for r in invite.record_routes] == [
        "<sip:127.0.0.1:5060;transport=tcp;lr;ftag=1>"]
    # the R-URI has no transport: UDP out, from the UDP listener, Via says so
    assert invite.vias[0].transport == "UDP"


def in_dialog_router() -> Router:
    router = Router()

    @router.request
    def route(msg, tm):
        if msg.to_tag is not None:
            tm.loose_route()
        tm.t_relay()

    return router


def test_loose_route_pops_our_route_and_follows_the_next():
    h = ProxyHarness(in_dialog_router())
    h.inject(make_request("BYE", ruri="sip:bob@192.0.2.9", to_tag="b1",
                          extra=["Route: <sip:127.0.0.1:5060;lr>, <sip:192.0.2.77:5080;lr>"]),
             UAC)
    [sent] = h.take_sent()
    assert sent.dest == Address("udp", "192.0.2.77", 5080)
    assert sent.msg.uri_text == "sip:bob@192.0.2.9"
    assert [str(r) for r in sent.msg.routes] == ["<sip:192.0.2.77:5080;lr>"]


def test_loose_route_after_a_strict_router_restores_the_request_uri():
    # the previous hop was a strict router: the R-URI is us, the last Route is the target
    h = ProxyHarness(in_dialog_router())
    h.inject(make_request("BYE", ruri="sip:127.0.0.1:5060;lr", to_tag="b1",
                          extra=["Route: <sip:192.0.2.77:5080;lr>, <sip:bob@192.0.2.9>"]), UAC)
    [sent] = h.take_sent()
    assert sent.msg.uri_text == "sip:bob@192.0.2.9"
    assert [str(r) for r in sent.msg.routes] == ["<sip:192.0.2.77:5080;lr>"]
    assert sent.dest == Address("udp", "192.0.2.77", 5080)


def test_strict_next_hop_gets_the_route_as_request_uri():
    # §16.6 step 6: the next hop has no lr; the R-URI goes to the end of the route set
    h = ProxyHarness(in_dialog_router())
    h.inject(make_request("BYE", ruri="sip:bob@192.0.2.9", to_tag="b1",
                          extra=["Route: <sip:127.0.0.1:5060;lr>, <sip:192.0.2.78:5090>"]), UAC)
    [sent] = h.take_sent()
    assert sent.msg.uri_text == "sip:192.0.2.78:5090"
    assert [str(r) for r in sent.msg.routes] == ["<sip:bob@192.0.2.9>"]
    assert sent.dest == Address("udp", "192.0.2.78", 5090)


def test_max_forwards_zero_is_483():
    h = ProxyHarness(relay_router())
    h.inject(make_request("OPTIONS", max_forwards=0), UAC)
    reply = h.take_one(UAC)
    assert (reply.status, reply.reason) == (483, "Too Many Hops")
    assert h.pending() == []
    # the default script answers it statelessly too
    h = ProxyHarness(load_router(None))
    h.inject(make_request("INVITE", max_forwards=0), UAC)
    assert [m.status for m in h.take(UAC)] == [483]
    assert h.take(UAS) == []


def test_missing_max_forwards_is_added_by_the_default_script():
    h = ProxyHarness(load_router(None))
    h.inject(make_request("OPTIONS", max_forwards=None), UAC)
    assert h.take_one(UAS).max_forwards == 9  # mf_process_maxfwd_header(10), then - 1


def test_a_request_that_comes_back_unchanged_is_a_loop_482():
    h = ProxyHarness(relay_router())
    h.inject(make_request("INVITE", ruri="sip:bob@192.0.2.9"), UAC)
    h.take(UAC)
    looped = h.take_one(UAS)
    # it comes back to us unchanged (e.g. the next hop sends it here again)
    h.inject(bytes(looped), UAS)
    replies = h.take(UAS)
    assert [r.status for r in replies] == [100, 482]
    assert replies[1].reason == "Loop Detected"
    assert h.take(UAC) == []


def test_a_spiral_is_relayed():
    h = ProxyHarness(relay_router())
    h.inject(make_request("INVITE", ruri="sip:bob@192.0.2.9"), UAC)
    h.take(UAC)
    first = h.take_one(UAS)
    # the next hop retargets it (new Request-URI) and sends it back through us
    spiral = first.copy()
    spiral.uri = "sip:carol@192.0.2.10"
    spiral.push_via("SIP/2.0/UDP 192.0.2.9:5060;branch=z9hG4bKfwd1")
    h.inject(bytes(spiral), UAS)
    assert [m.status for m in h.take(UAS)] == [100]
    [again] = h.take(Address("udp", "192.0.2.10", 5060))
    assert len(again.vias) == 4
    assert again.vias[0].branch != first.vias[0].branch


def test_a_spiral_through_a_route_set_is_not_a_loop():
    # an application server on the path sends the request back to us with the same
    # Request-URI but a different Route set (RFC 3261 §16.6 step 8: Route is hashed)
    router = Router()

    @router.request
    def route(msg, tm):
        tm.loose_route()
        if msg.headers.get("X-Via-AS") is None:
            msg.headers.add("X-Via-AS", "1")
            msg.headers.prepend("Route", "<sip:127.0.0.1:5060;lr;back>")
            msg.headers.prepend("Route", "<sip:192.0.2.30;lr>")
        tm.t_relay()

    h = ProxyHarness(router)
    h.inject(make_request("OPTIONS"), UAC)
    [to_as] = h.take(Address("udp", "192.0.2.30", 5060))
    back = to_as.copy()
    back.pop_route()
    back.push_via("SIP/2.0/UDP 192.0.2.30:5060;branch=z9hG4bKas1")
    h.inject(bytes(back), Address("udp", "192.0.2.30", 5060))
    [out] = h.take(UAS)
    assert out.method == "OPTIONS" and len(out.vias) == 4


def test_t_relay_bad_destination_is_minus_4_and_answered():
    results = []
    router = Router()

    @router.request
    def route(msg, tm):
        results.append(tm.t_relay("udp:bad host:x"))

    h = ProxyHarness(router)
    h.inject(make_request("OPTIONS"), UAC)
    assert results == [-4] and not results[0]
    reply = h.take_one(UAC)
    assert reply.status == 478
    h.settle()
    assert h.in_use == 0


def test_t_relay_flag_0x02_sends_no_negative_reply():
    results = []
    router = Router()

    @router.request
    def route(msg, tm):
        results.append(int(tm.t_relay("tel:+123", 5060, 0x02)))
        results.append(int(tm.t_relay(0x02)))  # R-URI is a tel: URI, not routable

    h = ProxyHarness(router)
    h.inject(make_request("MESSAGE", ruri="tel:+12345"), UAC)
    assert results == [-4, -4]
    assert h.pending() == []

    # then the script may answer, with the error of the failed relay
    router = Router()

    @router.request
    def route2(msg, tm):
        if not tm.t_relay(0x02):
            tm.sl_reply_error()

    h = ProxyHarness(router)
    h.inject(make_request("MESSAGE", ruri="tel:+12345"), UAC)
    assert [m.status for m in h.take(UAC)] == [478]


def test_t_relay_to_a_fixed_destination_keeps_the_request_uri():
    router = Router()

    @router.request
    def route(msg, tm):
        tm.t_relay("192.0.2.40", 5070)

    h = ProxyHarness(router)
    h.inject(make_request("OPTIONS"), UAC)
    [sent] = h.take_sent()
    assert sent.dest == Address("udp", "192.0.2.40", 5070)
    assert sent.msg.uri_text == "sip:bob@192.0.2.9"


def test_t_relay_to_tcp_uses_tcp_and_our_tcp_via():
    router = Router()

    @router.request
    def route(msg, tm):
        tm.t_relay_to_tcp()

    tcp = Address("tcp", "127.0.0.1", 5060)
    h = ProxyHarness(router, listeners=(PROXY, tcp))
    h.inject(make_request("OPTIONS"), UAC)
    [sent] = h.take_sent()
    assert sent.dest == Address("tcp", "192.0.2.9", 5060)
    assert str(sent.msg.vias[0]).startswith("SIP/2.0/TCP 127.0.0.1:5060;branch=z9hG4bKst")
    h.inject(make_response(sent.msg, 200), Address("tcp", "192.0.2.9", 5060, connection=9))
    assert h.take_one(UAC).status == 200
    h.settle()
    assert h.in_use == 0


def test_replies_to_a_request_received_on_a_second_listener_leave_from_it():
    other = Address("udp", "127.0.0.2", 5060)
    h = ProxyHarness(relay_router(), listeners=(PROXY, other))
    h.inject(make_request("INVITE"), UAC, local=other)
    trying = [s for s in h.take_sent() if s.dest == UAC]
    assert trying[0].local == other


def test_forward_is_stateless():
    router = Router()

    @router.request
    def route(msg, tm):
        tm.forward()

    h = ProxyHarness(router)
    h.inject(make_request("INVITE"), UAC)
    assert h.take(UAC) == []  # no 100: stateless
    invite = h.take_one(UAS)
    assert len(invite.vias) == 2
    assert h.in_use == 0
    # its reply is a stray reply for us: forwarded by its second Via
    h.inject(make_response(invite, 180), UAS)
    assert h.take_one(UAC).status == 180


def test_forward_to_a_strict_router_leaves_the_routes_message_as_it_was():
    seen: list[bytes] = []
    router = Router()

    @router.request
    def route(msg, tm):
        before = bytes(msg)
        tm.forward()
        seen.append(bytes(msg) == before and msg.uri_text == "sip:bob@192.0.2.9")

    h = ProxyHarness(router)
    h.inject(make_request("ACK", ruri="sip:bob@192.0.2.9", to_tag="b1",
                          extra=["Route: <sip:192.0.2.78:5090>"]), UAC)
    [sent] = h.take_sent()
    assert seen == [True]
    assert sent.msg.uri_text == "sip:192.0.2.78:5090"
    assert [str(r) for r in sent.msg.routes] == ["<sip:bob@192.0.2.9>"]
    assert sent.dest == Address("udp", "192.0.2.78", 5090)
    assert sent.msg.max_forwards == 69 and len(sent.msg.vias) == 2


def test_the_next_hop_follows_the_request_uri_as_the_script_left_it():
    ports = iter((5091, 5092))
    router = Router()

    @router.request
    def route(msg, tm):
        if msg.method == "OPTIONS":
            msg.uri.port = next(ports)  # edited part by part: its text is a rendering
        tm.t_relay()

    h = ProxyHarness(router)
    for n in range(2):
        h.inject(make_request("OPTIONS", ruri="sip:bob@192.0.2.9", branch=f"z9hG4bKe{n}"), UAC)
    h.inject(make_request("MESSAGE", ruri="sip:bob@192.0.2.9:5091", branch="z9hG4bKe2"), UAC)
    dests = [s.dest.port for s in h.take_sent() if s.dest.host == "192.0.2.9"]
    assert dests == [5091, 5092, 5091]


def test_t_relay_return_codes_for_bad_messages_are_minus_2():
    results: list[int] = []
    router = Router()

    @router.request
    def route(msg, tm):
        results.append(int(tm.t_relay()))

    h = ProxyHarness(router)
    h.inject(make_request("OPTIONS", max_forwards=0), UAC)
    h.inject(make_request("OPTIONS", branch="z9hG4bKb2",
                          extra=["Via: SIP/2.0/UDP 192.0.2.3;;,;,,"]), UAC)
    assert results == [-2, -2]
    assert [m.status for m in h.take(UAC)] == [483, 400]
    assert h.take(UAS) == []


@pytest.mark.parametrize("method", ["INVITE", "MESSAGE"])
def test_a_branch_that_cannot_be_sent_is_answered_as_a_503_would_be(method):
    # §16.9: a transport error is a 503 from the branch; §16.7 step 6: a 503 goes up
    # as 500
    h = ProxyHarness(relay_router())
    h.failing.add(UAS)
    h.inject(make_request(method), UAC)
    finals = [m for m in h.take(UAC) if m.status >= 200]
    assert [(m.status, m.reason) for m in finals] == [(500, "Server Internal Error")]
    assert finals[0].to_tag
    h.settle()
    assert h.in_use == 0


def test_a_stateless_forward_keeps_its_branch_for_retransmissions():
    """RFC 3261 §16.11: the branch of a statelessly forwarded request is derived from
    the received one, so an end-to-end ACK retransmitted by the UAC (once per 2xx
    retransmission) goes out with the same branch; another ACK gets another one."""
    h = ProxyHarness(load_router(None))

    def forwarded_branch(branch: str, ruri: str = "sip:bob@192.0.2.9:5060") -> str:
        h.inject(make_request("ACK", ruri=ruri, branch=branch, to_tag="bobtag"), UAC)
        [ack] = h.take(UAS)
        return ack.vias[0].branch

    first = forwarded_branch("z9hG4bKuacack1")
    assert first.startswith(OUR_BRANCH)
    assert forwarded_branch("z9hG4bKuacack1") == first
    assert forwarded_branch("z9hG4bKuacack2") != first
    # an RFC 2543 branch (no magic cookie): derived from the request's identity
    old = forwarded_branch("oldstyle1")
    assert forwarded_branch("oldstyle1") == old != first
    assert forwarded_branch("oldstyle1", ruri="sip:carol@192.0.2.9:5060") != old
    h.settle()
    assert h.in_use == 0


def test_a_statelessly_forwarded_ack_has_a_branch_of_our_shape():
    """An ACK forwarded statelessly gets z9hG4bKst<10 hex>.<16 hex>, derived from the
    received branch and sent-by only (an ACK is never checked for loops)."""
    h = ProxyHarness(load_router(None))
    h.inject(make_request("ACK", ruri="sip:bob@192.0.2.9:5060", branch="z9hG4bKa1",
                          to_tag="bobtag"), UAC)
    [ack] = h.take(UAS)
    head, dot, tail = ack.vias[0].branch[len(OUR_BRANCH):].partition(".")
    assert ack.vias[0].branch.startswith(OUR_BRANCH) and dot
    assert len(head) == 10 and len(tail) == 16 and int(head + tail, 16) >= 0
    # another Request-URI, same received branch and sent-by: the same branch
    h.inject(make_request("ACK", ruri="sip:carol@192.0.2.9:5060", branch="z9hG4bKa1",
                          to_tag="bobtag"), UAC)
    [again] = h.take(Address("udp", "192.0.2.9", 5060))
    assert again.vias[0].branch == ack.vias[0].branch


def test_a_statelessly_forwarded_request_that_comes_back_is_a_loop():
    """forward() of a request other than ACK keeps the loop-detection part of the
    branch: relayed back to us unchanged, it is a loop (482)."""
    router = Router()

    @router.request
    def route(msg, tm):
        if msg.headers.get("X-Back") is None:
            tm.forward()
        elif not tm.t_relay():
            tm.sl_reply_error()

    h = ProxyHarness(router)
    h.inject(make_request("OPTIONS", ruri="sip:bob@192.0.2.9"), UAC)
    out = h.take_one(UAS)
    out.headers.add("X-Back", "1")
    h.inject(bytes(out), UAS)
    assert [r.status for r in h.take(UAS)] == [482]


def _relay_bytes(with_branch_route: bool, request: bytes) -> bytes:
    router = Router()

    @router.request
    def route(msg, tm):
        if with_branch_route:
            tm.t_on_branch("noop")
        tm.record_route()
        tm.t_relay()

    @router.branch("noop")
    def noop(msg, tm):
        pass

    h = ProxyHarness(router)
    h.inject(request, UAC)
    [sent] = [s for s in h.take_sent() if s.dest != UAC]  # (not the 100 Trying)
    return sent.data


@pytest.mark.parametrize("request_bytes", [
    make_request("INVITE", body=b"v=0\r\n", extra=["Content-Type: application/sdp"]),
    make_request("OPTIONS", max_forwards=None),  # Max-Forwards added
    make_request("MESSAGE", extra=["Route: <sip:192.0.2.50;lr>"], body=b"hi"),
])
def test_a_branch_sent_without_a_copy_has_the_bytes_of_a_copied_one(request_bytes):
    # a plain t_relay() sends the route's message as it stands (no copy of it); a
    # branch route makes the branch a copy: same wire bytes either way
    assert _relay_bytes(False, request_bytes) == _relay_bytes(True, request_bytes)


def test_cancel_and_ack_of_a_branch_sent_without_a_copy_carry_our_via():
    h = ProxyHarness(relay_router())
    h.inject(make_request("INVITE", max_forwards=10), UAC)
    [invite] = [s for s in h.take_sent() if s.dest == UAS]
    ours = invite.msg.vias[0]
    assert str(ours).startswith("SIP/2.0/UDP 127.0.0.1:5060;branch=" + OUR_BRANCH)
    assert invite.msg.max_forwards == 9
    h.inject(make_response(invite.msg, 180), UAS)
    h.take_sent()
    h.inject(make_request("CANCEL"), UAC)
    cancel = next(s for s in h.take_sent() if s.dest == UAS)
    assert cancel.msg.method == "CANCEL" and via_texts(cancel.msg) == [str(ours)]
    assert cancel.msg.max_forwards == 9
    h.inject(make_response(invite.msg, 487), UAS)
    ack = next(s for s in h.take_sent() if s.dest == UAS and s.msg.method == "ACK")
    assert via_texts(ack.msg) == [str(ours)] and ack.msg.uri_text == invite.msg.uri_text
    h.settle()
    assert h.in_use == 0
