"""How the layer hands effects to the engine and how the table files transactions: the
public ``queued`` list, the listener a transaction sends from (``Transaction.local``),
and identifiers (table-wide labels, the remembered hash of the last Call-ID/CSeq)."""

from __future__ import annotations

from txhelpers import UAC, make_layer, request

from siptm.core import Send, TransactionLayer
from siptm.core.table import TransactionTable
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


# --- identifiers ---------------------------------------------------------------------------


class _Tx:
    __slots__ = ("hash_index", "label")


def test_labels_count_table_wide_and_a_wrong_hash_index_finds_nothing() -> None:
    table = TransactionTable(16)
    txs = [_Tx() for _ in range(5)]
    for i, tx in enumerate(txs):
        table.insert(tx, f"call-{i % 2}", 1)
    assert [tx.label for tx in txs] == [1, 2, 3, 4, 5]
    for tx in txs:
        assert table.get((tx.hash_index, tx.label)) is tx
        assert table.get(f"{tx.hash_index}:{tx.label}") is tx
        assert table.get(((tx.hash_index + 1) % 16, tx.label)) is None
    assert table.get((0, 99)) is None and table.get((16, 1)) is None


def test_the_hash_of_the_last_call_id_and_cseq_is_reused_only_for_the_same_pair() -> None:
    table = TransactionTable(1024)
    pairs = [("a@h", 1), ("a@h", 1), ("a@h", 2), ("b@h", 2), ("a@h", 2), ("a@h1", 2)]
    for call_id, number in pairs:
        tx = _Tx()
        table.insert(tx, call_id, number)
        assert tx.hash_index == table.hash_index(call_id, number)


def test_loads_are_counted_per_bucket_when_asked_for() -> None:
    table = TransactionTable(4)
    txs = []
    for i in range(12):
        tx = _Tx()
        table.insert(tx, f"c{i}", 1)
        txs.append(tx)
    loads = table.loads()
    assert list(loads) == sorted(loads)  # by bucket index
    assert sum(loads.values()) == 12
    for index in range(4):
        assert table.bucket_load(index) == loads.get(index, 0)
    for tx in txs[:6]:
        assert table.remove(tx) and not table.remove(tx)
    assert sum(table.loads().values()) == 6 == table.in_use
    stats = table.hash_stats()
    assert stats["in_use"] == 6 and stats["max_load"] == max(table.loads().values())


def test_a_layer_table_of_size_one_still_gives_unique_ids() -> None:
    layer = TransactionLayer(table_size=1)
    seen = set()
    for i in range(10):
        [deliver] = layer.receive(request(branch=f"z9hG4bKone{i}"), UAC, 0.0)
        assert deliver.tx.hash_index == 0
        assert deliver.tx.id not in seen
        seen.add(deliver.tx.id)


# --- lookups on the request being handled ---------------------------------------------------


def test_lookups_of_the_request_received_last_reuse_its_key() -> None:
    layer = make_layer()
    [deliver] = layer.receive(request(), UAC, 0.0)
    invite = deliver.tx
    layer.reply(invite, 180, 0.0)
    layer.drain()
    cancel = request("CANCEL")
    [deliver_cancel] = layer.receive(cancel, UAC, 0.1)
    assert layer.lookup_cancel(cancel) is invite  # the CANCEL's key, method INVITE
    assert layer.lookup_request(cancel) is deliver_cancel.tx
    other = request(branch="z9hG4bKother", call_id="other")
    assert layer.lookup_cancel(other) is None and layer.lookup_request(other) is None
    # a request that is not the last one received is keyed afresh
    assert layer.lookup_cancel(request("CANCEL")) is invite
    layer.receive(other, UAC, 0.2)
    assert layer.lookup_cancel(cancel) is invite
    assert layer.lookup_request(cancel) is deliver_cancel.tx
    ack = request("ACK", to_tag="totag1")
    layer.reply(invite, 486, 0.3)
    layer.receive(ack, UAC, 0.4)
    assert layer.lookup_ack(ack) is invite
    # RFC 2543 (no cookie): no key, matched on the dialog as before
    old = request(branch=None, call_id="old-style")
    [deliver_old] = layer.receive(old, UAC, 0.5)
    assert layer.lookup_request(old) is deliver_old.tx


# --- effects built without a class call -----------------------------------------------------


def test_the_constructors_build_the_same_frozen_objects() -> None:
    import dataclasses

    import pytest

    from siptm.core import effects
    from siptm.frozen import constructor
    from siptm.runtime import effects as runtime_effects

    tx = object()
    pairs = [
        (effects.new_send(b"x", UAC, tx, effects.SendKind.REQUEST),
         effects.Send(b"x", UAC, tx, effects.SendKind.REQUEST)),
        (effects.new_deliver_request(None, "req", UAC), effects.DeliverRequest(None, "req", UAC)),
        (effects.new_deliver_response(tx, "resp", UAC), effects.DeliverResponse(tx, "resp", UAC)),
        (effects.new_terminated(tx), effects.Terminated(tx)),
        (runtime_effects.new_send(b"y", UAC), runtime_effects.Send(b"y", UAC)),
    ]
    for made, called in pairs:
        assert type(made) is type(called) and made == called and repr(made) == repr(called)
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(made, dataclasses.fields(made)[0].name, None)
    assert runtime_effects.new_send(b"y", UAC).on_error is None  # defaults kept
    assert constructor(Address)("udp", "h", 1) == Address("udp", "h", 1)
    with pytest.raises(TypeError):
        constructor(int)
