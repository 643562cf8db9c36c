"""Onreply and branch routes with real peers (issue 6, "Proof, with real peers"): a
reply route dropping a 183 (the caller never sees it), a branch route adding a header
to one branch only and dropping another (its UAS receives nothing). SIPp UAC and UASs
on loopback, ``siptm run`` in between; the in-use transaction count is back to 0 after
each."""

from __future__ import annotations

from sipp_harness import (
    assert_acked_by_proxy,
    assert_cancelled_by_proxy,
    describe_all,
    fork_call,
    fork_script,
    fork_uas,
    invite_finals,
)

DROP_183 = '''
def fork(msg, tm):
    # seed 003 example 1.32: a reply route for the transaction, one for alice's branch
    tm.append_branch("sip:alice@127.0.0.1:$alice")
    tm.t_on_reply("global")
    tm.t_on_branch("1")
    if not tm.t_relay():
        tm.sl_reply_error()


@router.branch("1")
def branch_1(msg, tm):
    if msg.uri.user == "alice":
        tm.t_on_reply("alice")


@router.onreply("alice")
def alice(reply, tm):
    log.warning("alice's reply route: %d", reply.status)


@router.onreply("global")
def global_(reply, tm):
    log.warning("global reply route: %d", reply.status)
    if tm.t_check_status("1[0-9][0-9]"):
        if tm.t_check_status("183"):
            tm.drop()
'''


def test_reply_route_drops_the_183(e2e):
    # bob: 183, 180, then 200; alice: 100, then 486 (her branch has its own reply route)
    bob = fork_uas(e2e, "answer", prov=(183, "Session Progress"), prov2=(180, "Ringing"),
                   delay=500)
    alice = fork_uas(e2e, "reject", code=486, reason="Busy Here", delay=200)
    proxy = e2e.start_siptm(fork_script(DROP_183, alice=alice.port))
    result = fork_call(e2e, proxy, bob)
    one, two = bob.wait(10), alice.wait(10)
    assert result.ok, describe_all(result, one, two, proxy=proxy)
    assert one.ok and two.ok, describe_all(one, two)

    # the caller: bob's 180 and 200, never his 183 (dropped by the reply route); the
    # 180 came after the 183 on the same branch: only the 183 was held back
    assert invite_finals(result) == [200], describe_all(result, proxy=proxy)
    assert result.received(183) == [], describe_all(result, proxy=proxy)
    (ringing,) = result.received(180)
    assert ringing.to_tag == one.sent(200)[0].to_tag
    # each branch's replies ran its reply route only: alice's, hers (set in the branch
    # route); bob's, the transaction's
    log = proxy.log
    assert "global reply route: 183" in log and "global reply route: 180" in log
    assert "global reply route: 200" in log
    assert "alice's reply route: 486" in log
    assert "global reply route: 486" not in log and "alice's reply route: 18" not in log
    assert_acked_by_proxy(two, 486)
    proxy.wait_idle()


BRANCH_ROUTE = '''
def fork(msg, tm):
    # three branches; seed 003 example 1.33 and seed 002 example 35 in one branch route
    tm.append_branch("sip:alice@127.0.0.1:$alice")
    tm.append_branch("sip:bad_uri@127.0.0.1:$bad")
    tm.t_on_branch("1")
    if not tm.t_relay():
        tm.sl_reply_error()


@router.branch("1")
def branch_1(msg, tm):
    if re.search("bad_uri", msg.uri_text):
        log.warning("dropping branch %s", msg.uri_text)
        tm.drop()
    if re.search(r"sip:[0-9]+", msg.uri_text):
        msg.headers.add("P-Warn", "numeric uri")
'''


def test_branch_route_adds_a_header_to_one_branch_and_drops_another(e2e):
    numeric = fork_uas(e2e, "answer", prov=(180, "Ringing"), delay=300)
    alice = fork_uas(e2e, "ring", prov=(180, "Ringing"))
    bad = e2e.run_sipp_uas(scenario="uas_silent.xml", timeout=10)
    proxy = e2e.start_siptm(fork_script(BRANCH_ROUTE, alice=alice.port, bad=bad.port))
    result = fork_call(e2e, proxy, numeric, extra=["-s", "4930123"])
    one, two = numeric.wait(10), alice.wait(10)
    assert result.ok, describe_all(result, one, two, proxy=proxy)
    assert one.ok and two.ok, describe_all(one, two)

    assert invite_finals(result) == [200], describe_all(result, proxy=proxy)
    # the numeric branch got the header, alice's did not: per-branch changes only
    (inv1,), (inv2,) = one.received("INVITE"), two.received("INVITE")
    assert inv1.first_line.split()[1].startswith("sip:4930123@")
    assert inv1.header("P-Warn") == ["numeric uri"]
    assert inv2.header("P-Warn") == []
    # alice's branch was cancelled by the 200; the dropped branch's UAS got nothing
    assert_cancelled_by_proxy(two)
    assert bad.stop().messages == []
    assert "dropping branch sip:bad_uri@127.0.0.1" in proxy.log
    proxy.wait_idle()


BRANCH_TIMER = '''
def fork(msg, tm):
    # seed 002 example 43: t_set_fr for the transaction, and per branch
    tm.t_set_fr(10000)
    tm.append_branch("sip:alice@127.0.0.1:$alice")
    tm.t_on_branch("1")
    if not tm.t_relay():
        tm.sl_reply_error()


@router.branch("1")
def branch_1(msg, tm):
    if re.search(r"sip:[0-9]+", msg.uri_text):
        tm.t_set_fr(1000, 500)  # the pstn branch rings for 1 s only
'''


def test_t_set_fr_in_a_branch_route_applies_to_that_branch(e2e):
    pstn = fork_uas(e2e, "ring", prov=(180, "Ringing"))
    alice = fork_uas(e2e, "answer", prov=(180, "Ringing"), delay=2000)
    proxy = e2e.start_siptm(fork_script(BRANCH_TIMER, alice=alice.port))
    result = fork_call(e2e, proxy, pstn, extra=["-s", "4930123"])
    one, two = pstn.wait(10), alice.wait(10)
    assert result.ok, describe_all(result, one, two, proxy=proxy)

    assert invite_finals(result) == [200], describe_all(result, proxy=proxy)
    # the pstn branch gave up after its own fr_inv_timer (1 s), long before alice's
    # answer (2 s); alice's branch kept the transaction's 10 s
    assert_cancelled_by_proxy(one)
    (cancel,) = one.received("CANCEL")
    rang = cancel.time - one.sent(180)[0].time
    assert 0.9 <= rang <= 1.5, rang
    assert cancel.time < two.sent(200)[0].time - 0.3
    assert two.received("CANCEL") == [] and len(two.received("BYE")) == 1
    proxy.wait_idle()
