"""How the layer hands effects to the engine: the public ``queued`` list and the
listener a transaction sends from (``Transaction.local``)."""

from __future__ import annotations

from txhelpers import UAC, make_layer, request

from siptm.core import Send
from siptm.net import Address
from siptm.script import Router
from siptm.testing import PROXY, UAS, ProxyHarness, make_request, make_response


def relay_router() -> Router:
    router = Router()

    @router.request
    def route(msg, tm):
        if not tm.t_relay():
            tm.sl_reply_error()

    return router


# --- the layer's queue ------------------------------------------------------------------


def test_queued_holds_what_a_call_outside_receive_queued_until_drained() -> None:
    layer = make_layer()
    [deliver] = layer.receive(request(), UAC, 0.0)
    assert layer.queued == []
    layer.reply(deliver.tx, 180, 0.1)
    assert [type(e) for e in layer.queued] == [Send]
    queued = layer.queued
    assert layer.drain() is queued  # the list itself, handed over
    assert layer.queued == [] and layer.drain() == []


# --- the listener a transaction sends from ------------------------------------------------


def test_the_listener_a_transaction_sends_from_is_kept_on_it_until_it_terminates() -> None:
    other = Address("udp", "127.0.0.2", 5060)
    h = ProxyHarness(relay_router(), listeners=(PROXY, other))
    engine = h.engine
    h.inject(make_request("INVITE"), UAC, local=other)
    sent = h.take_sent()
    [uas] = [tx for tx in engine.layer.table if tx.is_server]
    [branch] = [tx for tx in engine.layer.table if not tx.is_server]
    assert engine.local_for(uas) == other and uas.local == other
    assert engine.local_for(branch) is not None
    assert {s.dest: s.local for s in sent} == {UAC: other, UAS: engine.local_for(branch)}
    [forwarded] = [s.msg for s in sent if s.dest == UAS]
    h.inject(make_response(forwarded, 200), UAS)
    h.take_sent()
    h.settle()
    assert h.in_use == 0
    # Terminated: forgotten, as the engine's owner link is
    assert engine.local_for(uas) is None and engine.local_for(branch) is None
    assert uas.owner is None and branch.owner is None


def test_a_tcp_listener_is_not_noted() -> None:
    layer = make_layer()
    [deliver] = layer.receive(request(), UAC, 0.0)
    h = ProxyHarness(relay_router())
    h.engine.note_local(deliver.tx, Address("tcp", "127.0.0.1", 5060))
    assert h.engine.local_for(deliver.tx) is None
    h.engine.note_local(deliver.tx, PROXY)
    assert h.engine.local_for(deliver.tx) == PROXY
