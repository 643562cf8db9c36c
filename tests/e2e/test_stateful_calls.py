"""Calls through the stateful proxy with SIPp as UAC and UAS, over UDP and TCP."""

from __future__ import annotations

import pytest
from sipp_harness import LOOPBACK

RELAY_TO_TCP = """
from siptm.script import Router
router = Router()

@router.request
def route(msg, tm):
    if msg.method == "CANCEL":
        tm.t_relay_cancel()
    if msg.method not in ("ACK", "CANCEL"):
        tm.t_check_trans()
    if not tm.t_relay_to_tcp():
        tm.sl_reply_error()
"""


@pytest.mark.parametrize(("uac_transport", "uas_transport", "script"), [
    ("udp", "udp", None),        # the bundled default script
    ("tcp", "udp", None),        # TCP in, UDP out (the R-URI has no transport)
    ("udp", "tcp", RELAY_TO_TCP),
])
def test_full_call(e2e, uac_transport, uas_transport, script):
    uas = e2e.run_sipp_uas(scenario="uas_builtin.xml", transport=uas_transport)
    proxy = e2e.start_siptm(script)
    result = e2e.run_sipp_uac(proxy.address, f"{LOOPBACK}:{uas.port}", "uac_builtin.xml",
                              calls=3, rate=20, transport=uac_transport)
    assert result.ok, result.describe() + "\n" + proxy.log
    assert result.stat("SuccessfulCall") == 3
    server = uas.stop()
    invites = server.received("INVITE")
    assert len(invites) == 3
    assert len(invites[0].header("Via")) == 2  # the proxy is in the path
    assert len(server.received("BYE")) == 3
    assert len(server.received("ACK")) == 3
    stats = proxy.stats()
    assert stats["UAS_transactions"] == 6  # 3 INVITE + 3 BYE (a 2xx ACK is none)
    assert stats["UAC_transactions"] == 6
    assert stats["2xx_transactions"] == 6
    assert stats["relayed_replies"] >= 9  # 180, 200 and the BYE's 200, per call
    proxy.wait_idle()
