"""No transaction leaks under the RFC's waits: with ``rfc_wait_timers = true`` completed
transactions are held by timers L/M (64*T1) and K/I (T4) instead of wt_timer; once those
ran out, the in-use count is back to 0 after calls, rejected and cancelled INVITEs and
MESSAGEs. T1 is shortened to 50 ms here (L/M = 3.2 s). Failed INVITEs run over TCP only:
on UDP timer D is at least 32 s whatever T1."""

from __future__ import annotations

from sipp_harness import LOOPBACK
from test_stateful_calls import RELAY_TO_TCP

SHORT = {"retr_timer1": 50, "retr_timer2": 400, "rfc_wait_timers": True}
RFC_TIMERS_OUT = 8.0  # 64*T1 = 3.2 s; T4 = 5 s (no [tm] key sets it)


def test_transactions_are_all_freed_once_their_timers_ran_out(e2e):
    tcp_proxy = e2e.start_siptm(RELAY_TO_TCP, tm=SHORT)
    udp_proxy = e2e.start_siptm(None, tm=SHORT)
    runs = [
        (tcp_proxy, "tcp", "uas_builtin.xml", "uac_builtin.xml", 2),
        (tcp_proxy, "tcp", "uas_486.xml", "uac_486.xml", 1),
        (tcp_proxy, "tcp", "uas_cancel.xml", "uac_cancel.xml", 1),
        (udp_proxy, "udp", "uas_builtin.xml", "uac_builtin.xml", 2),
        (udp_proxy, "udp", "uas_message.xml", "uac_message.xml", 2),
    ]
    for proxy, transport, uas_scenario, uac_scenario, calls in runs:
        uas = e2e.run_sipp_uas(scenario=uas_scenario, transport=transport, calls=calls)
        result = e2e.run_sipp_uac(proxy.address, f"{LOOPBACK}:{uas.port}", uac_scenario,
                                  calls=calls, rate=20, transport=transport, timeout=8)
        assert result.ok, f"{uac_scenario} over {transport}\n{result.describe()}"
        assert result.stat("SuccessfulCall") == calls
        uas.stop()

    assert tcp_proxy.stats()["UAS_transactions"] == 2 * 2 + 1 + 2  # INVITE+BYE, INVITE, +CANCEL
    assert udp_proxy.stats()["UAS_transactions"] == 2 * 2 + 2
    for proxy in (tcp_proxy, udp_proxy):
        stats = proxy.wait_idle(RFC_TIMERS_OUT)
        assert stats["inuse_transactions"] == 0
        assert proxy.call("t_hash")["used_buckets"] == 0
