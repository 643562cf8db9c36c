"""INVITEs that do not end in a call: CANCEL while ringing, no answer (fr_timer), a 486
relayed and ACKed hop by hop. SIPp on both sides, the bundled default script."""

from __future__ import annotations

from sipp_harness import LOOPBACK


def test_cancel_while_ringing(e2e):
    uas = e2e.run_sipp_uas(scenario="uas_cancel.xml", calls=1)
    proxy = e2e.start_siptm(None)
    result = e2e.run_sipp_uac(proxy.address, f"{LOOPBACK}:{uas.port}", "uac_cancel.xml",
                              timeout=8)
    assert result.ok, result.describe() + "\n" + proxy.log
    server = uas.wait(10)
    assert server.ok, server.describe()

    # the UAC: 180, then 200 for its CANCEL and 487 for its INVITE
    assert [m.cseq for m in result.received(200)] == [(1, "CANCEL")]
    (terminated,) = result.received(487)
    assert terminated.cseq == (1, "INVITE")
    assert terminated.vias == result.sent("INVITE")[0].vias[:1]  # the proxy's Via is gone

    # the UAS: one INVITE, the proxy's CANCEL on the INVITE's branch, one ACK for its 487
    (invite,) = server.received("INVITE")
    (cancel,) = server.received("CANCEL")
    (ack,) = server.received("ACK")
    assert len(invite.vias) == 2
    assert cancel.branch == invite.branch and len(cancel.vias) == 1
    assert cancel.first_line.split()[1] == invite.first_line.split()[1]  # same R-URI
    assert cancel.cseq == (invite.cseq[0], "CANCEL")
    # the ACK is the proxy's own (hop by hop, RFC 3261 §17.1.1.3): the INVITE's branch,
    # one Via, the To tag of the 487
    assert ack.branch == invite.branch and len(ack.vias) == 1
    assert ack.cseq == (invite.cseq[0], "ACK")
    assert ack.to_tag == server.sent(487)[0].to_tag

    stats = proxy.stats()
    assert stats["4xx_transactions"] >= 1
    proxy.wait_idle()


def test_no_answer_gets_408_after_fr_timer(e2e):
    uas = e2e.run_sipp_uas(scenario="uas_silent.xml")
    proxy = e2e.start_siptm(None, tm={"fr_timer": 2000})
    result = e2e.run_sipp_uac(proxy.address, f"{LOOPBACK}:{uas.port}", "uac_timeout.xml",
                              timeout=8)
    assert result.ok, result.describe() + "\n" + proxy.log
    server = uas.stop()

    # the UAC: 100 at once, 408 after fr_timer (2 s)
    sent = result.sent("INVITE")[0].time
    (timeout,) = result.received(408)
    assert 1.9 <= timeout.time - sent <= 2.6, timeout.time - sent
    assert len(result.sent("INVITE")) == 1  # the 100 stopped its retransmissions

    # the UAS: the proxy's INVITE and its retransmissions on the T1 schedule (RFC 3261
    # §17.1.1.2, timer A: 0.5, 1, 2 s apart) until fr_timer: at 0, 0.5 and 1.5 s
    invites = server.received("INVITE")
    assert len({m.branch for m in invites}) == 1
    assert [m.text for m in invites] == [invites[0].text] * len(invites)
    offsets = [m.time - invites[0].time for m in invites]
    expected = [0.0, 0.5, 1.5]
    assert len(offsets) == len(expected), offsets
    for got, want in zip(offsets, expected, strict=True):
        assert abs(got - want) <= 0.15, offsets
    # no provisional reply came: no CANCEL may go out (RFC 3261 §9.1)
    assert server.received("CANCEL") == []

    stats = proxy.stats()
    assert stats["4xx_transactions"] >= 1 and stats["local_replies"] >= 1
    proxy.wait_idle()


def test_486_relayed_and_acked_hop_by_hop(e2e):
    uas = e2e.run_sipp_uas(scenario="uas_486.xml", calls=1)
    proxy = e2e.start_siptm(None)
    result = e2e.run_sipp_uac(proxy.address, f"{LOOPBACK}:{uas.port}", "uac_486.xml",
                              timeout=8)
    assert result.ok, result.describe() + "\n" + proxy.log
    server = uas.wait(10)
    assert server.ok, server.describe()

    busy = result.received(486)
    assert busy and all(m.vias == result.sent("INVITE")[0].vias for m in busy)
    assert len(result.sent("ACK")) == 1

    (invite,) = server.received("INVITE")
    # exactly one ACK reached the UAS: the proxy's, on the branch of the INVITE it
    # sent; the UAC's ACK (two Vias if relayed) was absorbed by the proxy
    (ack,) = server.received("ACK")
    assert ack.branch == invite.branch
    assert len(ack.vias) == 1
    assert ack.first_line.split()[1] == invite.first_line.split()[1]
    assert ack.cseq == (invite.cseq[0], "ACK")
    assert ack.to_tag == server.sent(486)[0].to_tag

    stats = proxy.stats()
    assert stats["4xx_transactions"] == 1 and stats["relayed_replies"] >= 1
    proxy.wait_idle()
