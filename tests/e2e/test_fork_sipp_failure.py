"""Failure routes and serial forking with real peers (issue 6, "Proof, with real peers"):
forward on no answer (fr_inv_timer, then a voicemail UAS), serial forking by q-value
(``t_load_contacts`` / ``t_next_contacts``), a failure route on 5xx that drops the
replies (``t_drop_replies``) and tries a third target. SIPp UAC and UASs on loopback,
``siptm run`` in between; the in-use transaction count is back to 0 after each."""

from __future__ import annotations

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

NO_ANSWER = '''
VOICEMAIL = "sip:voicemail@127.0.0.1:$voicemail"


def fork(msg, tm):
    tm.t_set_fr(2000)  # ring for 2 s (fr_inv_timer of this transaction)
    tm.t_on_failure("no_answer")
    if not tm.t_relay():
        tm.sl_reply_error()


@router.failure("no_answer")
def no_answer(msg, tm):
    # seed 002 examples 50/51: a branch that rang and timed out
    log.warning("failure route: timeout=%d replied=%d any_timeout=%d status=%d",
                bool(tm.t_branch_timeout()), bool(tm.t_branch_replied()),
                bool(tm.t_any_timeout()), bool(tm.t_check_status("408")))
    if tm.t_branch_timeout():
        msg.uri = VOICEMAIL  # seed 003 example 1.31: seturi, t_relay
        if not tm.t_relay():
            tm.t_reply(500, "No Voicemail")
'''


def test_forward_on_no_answer_to_voicemail(e2e):
    phone = fork_uas(e2e, "ring", prov=(180, "Ringing"))
    voicemail = fork_uas(e2e, "answer", prov=(183, "Session Progress"))
    proxy = e2e.start_siptm(fork_script(NO_ANSWER, voicemail=voicemail.port))
    result = fork_call(e2e, proxy, phone, timeout=12)
    one, two = phone.wait(10), voicemail.wait(10)
    assert result.ok, describe_all(result, one, two, proxy=proxy)

    # the caller: the phone's 180, the voicemail's 183 and 200 (then ACK and BYE to it)
    assert invite_finals(result) == [200], describe_all(result, proxy=proxy)
    assert result.received(180) and result.received(183)
    # the phone rang for fr_inv_timer (2 s after its 180), then was CANCELled
    assert_cancelled_by_proxy(one)
    (cancel,) = one.received("CANCEL")
    rang = cancel.time - one.sent(180)[0].time
    assert 1.9 <= rang <= 2.6, rang
    # the failure route saw a branch that timed out after a reply
    assert "failure route: timeout=1 replied=1 any_timeout=1 status=1" in proxy.log, proxy.log
    # the voicemail got the INVITE right after the timeout, from the failure route
    (invite,) = two.received("INVITE")
    assert invite.first_line.split()[1] == f"sip:voicemail@127.0.0.1:{voicemail.port}"
    assert invite.time - cancel.time < 0.5
    assert len(two.received("ACK")) == 1 and len(two.received("BYE")) == 1
    proxy.wait_idle()


SERIAL = '''
CONTACTS = [  # what a registrar lookup would give: R-URI q 1.0 (unspecified)
    ("sip:desk@127.0.0.1:$desk", None),
    ("sip:soft@127.0.0.1:$soft", 1.0),  # same q: rung with the desk phone
    ("sip:mobile@127.0.0.1:$mobile", 0.5),  # then, alone
]


def fork(msg, tm):
    msg.uri = CONTACTS[0][0]
    for uri, q in CONTACTS[1:]:
        tm.append_branch(uri, q=q)
    if not tm.t_load_contacts():  # seed 002 example 61
        tm.sl_send_reply(500, "Server Internal Error - Cannot load contacts")
        tm.exit()
    tm.t_on_failure("serial")
    if not tm.t_next_contacts():  # seed 002 example 62, first call
        tm.sl_send_reply(500, "Server Internal Error - Cannot get contacts")
    else:
        tm.t_relay()


@router.failure("serial")
def serial(msg, tm):
    if not tm.t_next_contacts():  # seed 002 example 62, following calls
        tm.t_reply(408, "Request Timeout")
    else:
        tm.t_on_failure("serial")  # once per arming: for the group after this one
        tm.t_relay()
'''


def test_serial_forking_by_q_value(e2e):
    desk = fork_uas(e2e, "reject", code=480, reason="Temporarily Unavailable")
    soft = fork_uas(e2e, "reject", code=486, reason="Busy Here", delay=300)
    mobile = fork_uas(e2e, "answer", prov=(180, "Ringing"))
    proxy = e2e.start_siptm(
        fork_script(SERIAL, desk=desk.port, soft=soft.port, mobile=mobile.port),
        tm={"contacts_avp": "tm_contacts"})
    result = fork_call(e2e, proxy, desk)
    one, two, three = desk.wait(10), soft.wait(10), mobile.wait(10)
    assert result.ok, describe_all(result, one, two, three, proxy=proxy)

    # the caller only gets the mobile's answer
    assert invite_finals(result) == [200], describe_all(result, proxy=proxy)
    assert not result.received(480) and not result.received(486)
    # q 1.0: desk and soft phone in parallel; both ACKed by the proxy
    assert_acked_by_proxy(one, 480)
    assert_acked_by_proxy(two, 486)
    assert abs(one.received("INVITE")[0].time - two.received("INVITE")[0].time) < 0.2
    # q 0.5: the mobile, once both had answered
    (invite,) = three.received("INVITE")
    assert invite.time >= two.sent(486)[0].time - TRACE_SKEW
    assert invite.first_line.split()[1] == f"sip:mobile@127.0.0.1:{mobile.port}"
    assert three.received("CANCEL") == [] and len(three.received("BYE")) == 1
    proxy.wait_idle()


DROP_5XX = '''
def fork(msg, tm):
    tm.t_on_failure("0")
    tm.append_branch("sip:b@127.0.0.1:$port2")
    if not tm.t_relay():
        tm.sl_reply_error()


@router.failure("0")
def failure_0(msg, tm):
    # seed 002 example 59
    if tm.t_check_status("5[0-9][0-9]"):
        tm.t_drop_replies()
        msg.uri.host, msg.uri.port = "127.0.0.1", $port3  # rewritehostport
        tm.append_branch()
        tm.t_relay()
'''


def test_failure_route_on_5xx_drops_the_replies_and_tries_a_third_target(e2e):
    first = fork_uas(e2e, "reject", code=503, reason="Service Unavailable")
    second = fork_uas(e2e, "reject", code=500, reason="Server Internal Error", delay=200)
    third = fork_uas(e2e, "reject", code=504, reason="Server Time-out")
    proxy = e2e.start_siptm(fork_script(DROP_5XX, port2=second.port, port3=third.port))
    result = fork_call(e2e, proxy, first)
    one, two, three = first.wait(10), second.wait(10), third.wait(10)
    assert result.ok, describe_all(result, one, two, three, proxy=proxy)

    # the 503 and 500 were dropped: the caller gets the third target's 504 (had they
    # stayed, the 500 would have won: within a class the lowest code, as Kamailio's
    # t_pick_branch)
    assert invite_finals(result) == [504], describe_all(result, proxy=proxy)
    for server, code in ((one, 503), (two, 500), (three, 504)):
        assert_acked_by_proxy(server, code)
    # one new branch, to the rewritten R-URI: the failure route started from the
    # winning branch's (the 500's, sip:b@...), its user part kept (seed 003)
    (invite,) = three.received("INVITE")
    assert invite.first_line.split()[1] == f"sip:b@127.0.0.1:{third.port}"
    assert invite.time >= two.sent(500)[0].time - TRACE_SKEW
    proxy.wait_idle()


def test_serial_forking_rings_a_group_for_fr_inv_timer_next(e2e):
    # seed 002 fr_inv_timer_next: while lower q-value contacts remain, a group rings for
    # fr_inv_timer_next (1 s here), not fr_inv_timer (10 s)
    desk = fork_uas(e2e, "ring", prov=(180, "Ringing"))
    soft = fork_uas(e2e, "ring", prov=(180, "Ringing"))
    mobile = fork_uas(e2e, "answer", prov=(180, "Ringing"))
    proxy = e2e.start_siptm(
        fork_script(SERIAL, desk=desk.port, soft=soft.port, mobile=mobile.port),
        tm={"contacts_avp": "tm_contacts", "fr_inv_timer": 10000,
            "fr_inv_timer_next": 1000})
    result = fork_call(e2e, proxy, desk)
    one, two, three = desk.wait(10), soft.wait(10), mobile.wait(10)
    assert result.ok, describe_all(result, one, two, three, proxy=proxy)

    assert invite_finals(result) == [200], describe_all(result, proxy=proxy)
    for phone in (one, two):
        assert_cancelled_by_proxy(phone)
        (cancel,) = phone.received("CANCEL")
        rang = cancel.time - phone.sent(180)[0].time
        assert 0.9 <= rang <= 1.5, rang
    # the group timed out (a local 408 for each branch, their CANCELs sent, as
    # Kamailio's fake_reply: the 487s are not waited for): the next group at once
    (invite,) = three.received("INVITE")
    cancelled = max(one.received("CANCEL")[0].time, two.received("CANCEL")[0].time)
    assert -0.05 <= invite.time - cancelled <= 0.3, invite.time - cancelled
    assert len(three.received("BYE")) == 1
    proxy.wait_idle()
