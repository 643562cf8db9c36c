"""Parallel forking with real peers (issue 6, "Proof, with real peers"): a SIPp UAC calls
through ``siptm run``; the routing script forks to several SIPp UASs on loopback with
``append_branch``. The response context of RFC 3261 §16.7 is read off the SIPp traces:
what the caller got, what each UAS got (INVITE, the proxy's ACK or CANCEL); the in-use
transaction count is back to 0 at the end of each test.

UAS behaviours come from ``scenarios/uas_fork.xml`` (``fork_uas``); the caller is
``scenarios/uac_fork.xml`` (``fork_call``). A UAS's final response waits for its
``delay``, which orders the branches' answers."""

from __future__ import annotations

import pytest
from sipp_harness import (
    TRACE_SKEW,
    assert_acked_by_proxy,
    assert_cancelled_by_proxy,
    describe_all,
    fork_call,
    fork_script,
    fork_uas,
    invite_finals,
)

FORK_TWO = '''
def fork(msg, tm):
    tm.append_branch("sip:b@127.0.0.1:$port2")
    if not tm.t_relay():
        tm.sl_reply_error()
'''


def test_486_and_200_the_caller_gets_the_200_and_the_486_is_acked(e2e):
    busy = fork_uas(e2e, "reject", code=486, reason="Busy Here")
    answer = fork_uas(e2e, "answer", prov=(180, "Ringing"), delay=300)
    proxy = e2e.start_siptm(fork_script(FORK_TWO, port2=answer.port))
    result = fork_call(e2e, proxy, busy)
    one, two = busy.wait(10), answer.wait(10)
    assert result.ok, describe_all(result, one, two, proxy=proxy)

    # the caller: the 180 of the answering branch, then its 200 and nothing else; the
    # ACK and BYE went to the UAS that answered (through the proxy, by the Contact)
    assert invite_finals(result) == [200], describe_all(result, proxy=proxy)
    assert result.received(180)
    assert one.ok and two.ok, describe_all(one, two)
    # each branch its own client transaction: its own Via branch, our Via on top
    (inv1,), (inv2,) = one.received("INVITE"), two.received("INVITE")
    assert inv1.branch != inv2.branch
    assert len(inv1.vias) == len(inv2.vias) == 2 and inv1.vias[1] == inv2.vias[1]
    assert inv2.first_line.split()[1] == f"sip:b@127.0.0.1:{answer.port}"
    # the 486 branch was ACKed by the proxy, hop by hop; the 200 one was not cancelled
    assert_acked_by_proxy(one, 486)
    assert len(two.received("ACK")) == 1 and len(two.received("BYE")) == 1
    assert two.received("CANCEL") == []

    stats = proxy.stats()
    assert stats["2xx_transactions"] >= 1 and stats["4xx_transactions"] == 0
    proxy.wait_idle()


def test_both_486_the_caller_gets_the_best_response_once(e2e):
    first = fork_uas(e2e, "reject", code=486, reason="Busy Here", prov=(180, "Ringing"))
    second = fork_uas(e2e, "reject", code=486, reason="Busy Here Too", delay=500)
    proxy = e2e.start_siptm(fork_script(FORK_TWO, port2=second.port))
    result = fork_call(e2e, proxy, first)
    one, two = first.wait(10), second.wait(10)
    assert result.ok, describe_all(result, one, two, proxy=proxy)

    # one final response, sent once every branch answered (§16.7 step 6): the 486 of
    # the first branch (a tie goes to the earliest), after the second branch's 486
    assert invite_finals(result) == [486], describe_all(result, proxy=proxy)
    (busy,) = result.received(486)
    assert busy.first_line == "SIP/2.0 486 Busy Here"
    assert busy.vias == result.sent("INVITE")[0].vias
    assert busy.time >= two.sent(486)[0].time - TRACE_SKEW
    assert len(result.sent("ACK")) == 1
    # every branch was ACKed by the proxy, hop by hop
    assert_acked_by_proxy(one, 486)
    assert_acked_by_proxy(two, 486)

    stats = proxy.stats()
    assert stats["4xx_transactions"] >= 1 and stats["2xx_transactions"] == 0
    proxy.wait_idle()


FORK_603 = '''
def fork(msg, tm):
    tm.t_on_failure("after_603")
    tm.append_branch("sip:b@127.0.0.1:$port2")
    if not tm.t_relay():
        tm.sl_reply_error()


@router.failure("after_603")
def after_603(msg, tm):
    # a 6xx blocks new branches (RFC 3261 §16.7 step 5, seed 003 disable_6xx_block 0)
    status = "603" if tm.t_check_status("603") else "other"
    tm.append_branch("sip:c@127.0.0.1:$port3")
    result = tm.t_relay()
    log.warning("failure route: status %s, new branch t_relay -> %d", status, result)
'''


def test_603_cancels_the_other_branch_and_blocks_new_ones(e2e):
    decline = fork_uas(e2e, "reject", code=603, reason="Decline", delay=300)
    ringing = fork_uas(e2e, "ring", prov=(180, "Ringing"))
    third = e2e.run_sipp_uas(scenario="uas_silent.xml", timeout=10)
    proxy = e2e.start_siptm(fork_script(FORK_603, port2=ringing.port, port3=third.port))
    result = fork_call(e2e, proxy, decline)
    one, two = decline.wait(10), ringing.wait(10)
    assert result.ok, describe_all(result, one, two, proxy=proxy)

    # the caller: the 180 of the ringing branch, then the 603
    assert invite_finals(result) == [603], describe_all(result, proxy=proxy)
    assert result.received(180)
    # the 603 branch: ACKed; the other: CANCELled (200, 487, the proxy's ACK)
    assert one.ok and two.ok, describe_all(one, two)
    assert_acked_by_proxy(one, 603)
    assert_cancelled_by_proxy(two)
    # the failure route ran for the 603 and its new branch was refused (-3): the third
    # UAS never heard of the call
    assert "failure route: status 603, new branch t_relay -> -3" in proxy.log, proxy.log
    assert third.stop().messages == []
    proxy.wait_idle()


@pytest.mark.parametrize("aggregate", [True, False])
def test_401_and_407_of_two_branches_are_aggregated(e2e, aggregate):
    www = 'WWW-Authenticate: Digest realm="one.example", nonce="n1", algorithm=MD5'
    proxy_auth = 'Proxy-Authenticate: Digest realm="two.example", nonce="n2", algorithm=MD5'
    first = fork_uas(e2e, "reject", code=401, reason="Unauthorized", hdr=www)
    second = fork_uas(e2e, "reject", code=407, reason="Proxy Authentication Required",
                      hdr=proxy_auth, delay=200)
    proxy = e2e.start_siptm(fork_script(FORK_TWO, port2=second.port),
                            tm={"aggregate_challenges": aggregate})
    result = fork_call(e2e, proxy, first)
    one, two = first.wait(10), second.wait(10)
    assert result.ok, describe_all(result, one, two, proxy=proxy)

    # one reply upstream: the 401 (preferred over the 407, §16.7 step 6), carrying
    # every challenge of both branches (§16.7 step 7, seed 002 aggregate_challenges)
    assert invite_finals(result) == [401], describe_all(result, proxy=proxy)
    (reply,) = result.received(401)
    assert reply.header("WWW-Authenticate") == [www.partition(": ")[2]]
    if aggregate:
        assert reply.header("Proxy-Authenticate") == [proxy_auth.partition(": ")[2]]
    else:  # only the first 401 goes up, unchanged
        assert reply.header("Proxy-Authenticate") == []
    assert_acked_by_proxy(one, 401)
    assert_acked_by_proxy(two, 407)
    proxy.wait_idle()


FORK_MINOR = '''
MEDIA = "sip:media@127.0.0.1:$media"


def fork(msg, tm):
    tm.append_branch(MEDIA)
    tm.t_on_branch("minor")
    if not tm.t_relay():
        tm.sl_reply_error()


@router.branch("minor")
def minor(msg, tm):
    if msg.uri_text == MEDIA:
        tm.setbflag("MINOR_BFLAG")  # seed 003: a minor branch, marked before it is sent
'''


def test_a_minor_branch_is_cancelled_when_the_main_branch_fails(e2e):
    callee = fork_uas(e2e, "reject", code=486, reason="Busy Here", delay=500)
    media = fork_uas(e2e, "ring", prov=(183, "Session Progress"))
    proxy = e2e.start_siptm(fork_script(FORK_MINOR, media=media.port),
                            tm={"minor_branch_flag": "MINOR_BFLAG"})
    result = fork_call(e2e, proxy, callee)
    one, two = callee.wait(10), media.wait(10)
    assert result.ok, describe_all(result, one, two, proxy=proxy)

    # the caller heard the media server's early media (183), then got the callee's
    # 486 at once: the minor branch was not waited for, it was cancelled
    assert result.received(183)
    assert invite_finals(result) == [486], describe_all(result, proxy=proxy)
    (busy,) = result.received(486)
    assert busy.time - one.sent(486)[0].time < 0.4
    assert_acked_by_proxy(one, 486)
    assert_cancelled_by_proxy(two)
    (cancel,) = two.received("CANCEL")
    assert cancel.time >= one.sent(486)[0].time - TRACE_SKEW
    proxy.wait_idle()


FORK_CANCELLED = '''
def fork(msg, tm):
    tm.t_on_failure("cancelled")
    tm.append_branch("sip:b@127.0.0.1:$port2")
    if not tm.t_relay():
        tm.sl_reply_error()


@router.failure("cancelled")
def cancelled(msg, tm):
    # seed 002 example 55, seed 003 example 1.28; a cancelled transaction takes no
    # new branch
    log.warning("failure route: canceled=%d was_cancelled=%d",
                bool(tm.t_is_canceled()), bool(tm.t_was_cancelled()))
    tm.append_branch("sip:c@127.0.0.1:$port3")
    log.warning("failure route: new branch t_relay -> %d", tm.t_relay())
'''


def test_the_callers_cancel_reaches_every_branch(e2e):
    ringing = fork_uas(e2e, "ring", prov=(180, "Ringing"))
    trying = fork_uas(e2e, "ring", prov=(100, "Trying"))
    third = e2e.run_sipp_uas(scenario="uas_silent.xml", timeout=10)
    proxy = e2e.start_siptm(fork_script(FORK_CANCELLED, port2=trying.port,
                                        port3=third.port))
    result = e2e.run_sipp_uac(proxy.address, f"127.0.0.1:{ringing.port}", "uac_cancel.xml",
                              timeout=8)
    one, two = ringing.wait(10), trying.wait(10)
    assert result.ok, describe_all(result, one, two, proxy=proxy)

    # the caller: 200 for its CANCEL, one 487 for its INVITE
    assert [m.cseq for m in result.received(200)] == [(1, "CANCEL")]
    assert invite_finals(result) == [487], describe_all(result, proxy=proxy)
    # every branch got the proxy's CANCEL (§16.10), answered 487, got the ACK
    assert one.ok and two.ok, describe_all(one, two)
    assert_cancelled_by_proxy(one)
    assert_cancelled_by_proxy(two)
    assert "failure route: canceled=1 was_cancelled=1" in proxy.log, proxy.log
    assert "failure route: new branch t_relay -> -3" in proxy.log
    assert third.stop().messages == []
    proxy.wait_idle()


REPLICATE = '''
def fork(msg, tm):
    # seed 003 example 1.35: a copy whose replies never reach the caller
    tm.t_replicate("sip:127.0.0.1:$copy")
    if not tm.t_relay():
        tm.sl_reply_error()
'''


def test_t_replicate_sends_a_copy_whose_replies_stay_at_the_proxy(e2e):
    callee = fork_uas(e2e, "answer", prov=(180, "Ringing"), delay=300)
    copy = fork_uas(e2e, "reject", code=486, reason="Busy Here",
                    prov=(183, "Session Progress"))
    proxy = e2e.start_siptm(fork_script(REPLICATE, copy=copy.port))
    result = fork_call(e2e, proxy, callee)
    one, two = callee.wait(10), copy.wait(10)
    assert result.ok, describe_all(result, one, two, proxy=proxy)

    # the caller: the callee's 180 and 200 only; nothing of the copy's 183 and 486
    assert invite_finals(result) == [200], describe_all(result, proxy=proxy)
    assert result.received(183) == [] and result.received(486) == []
    # the copy: the same request (R-URI kept), sent to the replica's address; its 486
    # ACKed by the proxy
    (inv1,), (inv2,) = one.received("INVITE"), two.received("INVITE")
    assert inv2.first_line == inv1.first_line
    assert inv2.header("Call-ID") == inv1.header("Call-ID")
    assert_acked_by_proxy(two, 486)
    assert len(one.received("BYE")) == 1
    proxy.wait_idle()


FORK_TCP = '''
def fork(msg, tm):
    tm.append_branch("sip:b@127.0.0.1:$port2;transport=tcp")
    if not tm.t_relay():
        tm.sl_reply_error()
'''


def test_a_fork_over_udp_and_tcp(e2e):
    # the UDP branch rings and is cancelled when the TCP branch answers
    ringing = fork_uas(e2e, "ring", prov=(180, "Ringing"))
    answer = fork_uas(e2e, "answer", prov=(183, "Session Progress"), delay=300,
                      transport="tcp")
    proxy = e2e.start_siptm(fork_script(FORK_TCP, port2=answer.port))
    result = fork_call(e2e, proxy, ringing)
    one, two = ringing.wait(10), answer.wait(10)
    assert result.ok, describe_all(result, one, two, proxy=proxy)
    assert one.ok and two.ok, describe_all(one, two)

    assert invite_finals(result) == [200], describe_all(result, proxy=proxy)
    assert result.received(180) and result.received(183)
    (inv1,), (inv2,) = one.received("INVITE"), two.received("INVITE")
    assert inv1.transport == "UDP" and inv2.transport == "TCP"
    assert "SIP/2.0/TCP" in inv2.vias[0] and "SIP/2.0/UDP" in inv1.vias[0]
    # Max-Forwards decremented once on every branch
    assert inv1.header("Max-Forwards") == inv2.header("Max-Forwards") == ["69"]
    assert_cancelled_by_proxy(one)
    # the ACK and BYE for the 200 reached the TCP UAS through the proxy
    assert len(two.received("ACK")) == 1 and len(two.received("BYE")) == 1
    proxy.wait_idle()


def test_a_chosen_503_goes_upstream_as_500(e2e):
    first = fork_uas(e2e, "reject", code=503, reason="Service Unavailable",
                     hdr="Retry-After: 30")
    second = fork_uas(e2e, "reject", code=503, reason="Overloaded", delay=200)
    proxy = e2e.start_siptm(fork_script(FORK_TWO, port2=second.port))
    result = fork_call(e2e, proxy, first)
    one, two = first.wait(10), second.wait(10)
    assert result.ok, describe_all(result, one, two, proxy=proxy)

    # RFC 3261 §16.7 step 6: the downstream overload is not ours to report
    assert invite_finals(result) == [500], describe_all(result, proxy=proxy)
    assert_acked_by_proxy(one, 503)
    assert_acked_by_proxy(two, 503)
    proxy.wait_idle()
