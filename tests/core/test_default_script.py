"""The bundled default script, driven sans-IO."""

from __future__ import annotations

from siptm.script.runner import load_router
from siptm.testing import PROXY, UAC, UAS, ProxyHarness, make_request


def test_keepalive_options_to_the_proxy_is_answered_here():
    h = ProxyHarness(load_router(None))
    h.inject(make_request("OPTIONS", ruri=f"sip:{PROXY.host}:{PROXY.port}"), UAC)
    assert [m.status for m in h.take()] == [200]  # answered, nothing relayed
    h.settle()
    assert h.engine.in_use == 0


def test_options_to_a_user_is_relayed():
    h = ProxyHarness(load_router(None))
    h.inject(make_request("OPTIONS", ruri=f"sip:bob@{UAS.host}"), UAC)
    relayed = h.take(UAS)
    assert [m.method for m in relayed] == ["OPTIONS"]
    assert h.take(UAC) == []
