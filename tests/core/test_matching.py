"""Matching: RFC 3261 §17.1.3 / §17.2.3, the RFC 2543 fallback with ruri_matching and
via1_matching (seed 003), CANCEL / ACK / end-to-end ACK lookups, and the table."""

from __future__ import annotations

from txhelpers import UAC, UAS, make_layer, outgoing, request, response, summary

from siptm.core import (
    DeliverRequest,
    DeliverResponse,
    IdFactory,
    MatchingConfig,
    State,
    TransactionLayer,
)
from siptm.net import Address


def new_tx(layer: TransactionLayer, req: object, now: float = 0.0) -> object:
    layer.drain()
    fx = layer.receive(req, UAC, now)
    assert summary(fx) == ["DeliverRequest"], "expected a new transaction"
    return fx[0].tx


def absorbed(layer: TransactionLayer, req: object, now: float = 1.0) -> bool:
    before = layer.in_use
    fx = layer.receive(req, UAC, now)
    return not [e for e in fx if isinstance(e, DeliverRequest)] and layer.in_use == before


# --- magic cookie ------------------------------------------------------------------


def test_cookie_same_branch_sent_by_method_is_a_retransmission() -> None:
    layer = make_layer()
    new_tx(layer, request())
    assert absorbed(layer, request())
    # the rest of the request does not matter once the cookie is there
    assert absorbed(layer, request(ruri="sip:other@example.com", call_id="different"))


def test_cookie_other_branch_port_host_or_method_is_a_new_transaction() -> None:
    layer = make_layer()
    new_tx(layer, request())
    new_tx(layer, request(branch="z9hG4bKclient2"))
    new_tx(layer, request(via_port=5062))
    new_tx(layer, request(via_host="192.0.2.55"))
    new_tx(layer, request(via_port=None))  # absent port is not 5060 (exact sent-by)
    new_tx(layer, request("CANCEL"))  # CANCEL is its own transaction (§9.2)
    assert layer.in_use == 6


def test_cookie_host_compares_case_insensitively_branch_exactly() -> None:
    layer = make_layer()
    new_tx(layer, request(via_host="pc33.Example.COM"))
    assert absorbed(layer, request(via_host="PC33.example.com"))
    new_tx(layer, request(via_host="pc33.example.com", branch="z9hG4bKCLIENT1"))


def test_ack_with_cookie_matches_the_invite() -> None:
    layer = make_layer()
    tx = new_tx(layer, request())
    layer.reply(tx, 486, 0.0)
    layer.drain()
    assert layer.receive(request("ACK"), UAC, 0.5) == []
    assert tx.state is State.CONFIRMED
    assert layer.lookup_ack(request("ACK")) is tx


def test_ack_for_a_transaction_with_another_branch_is_delivered_without_one() -> None:
    layer = make_layer()
    new_tx(layer, request())
    ack = request("ACK", branch="z9hG4bKother")
    fx = layer.receive(ack, UAC, 0.5)
    assert summary(fx) == ["DeliverRequest"] and fx[0].tx is None
    assert layer.in_use == 1  # an ACK never creates a transaction


def test_lookup_request_and_cancel_with_cookie() -> None:
    layer = make_layer()
    tx = new_tx(layer, request())
    assert layer.lookup_request(request()) is tx
    cancel = request("CANCEL")
    assert layer.lookup_cancel(cancel) is tx  # seed t_lookup_cancel
    cancel_tx = new_tx(layer, cancel)
    assert cancel_tx is not tx and cancel_tx.method == "CANCEL"
    assert layer.lookup_request(request("CANCEL")) is cancel_tx
    assert layer.lookup_cancel(request("CANCEL", branch="z9hG4bKnope")) is None
    assert layer.lookup_cancel(request("CANCEL", via_port=5099)) is None


# --- RFC 2543 (no cookie) -----------------------------------------------------------


def old(method: str = "INVITE", **kw: object) -> object:
    kw.setdefault("branch", None)
    return request(method, **kw)  # type: ignore[arg-type]


def test_rfc2543_retransmission_matches_on_all_fields() -> None:
    layer = make_layer()
    new_tx(layer, old())
    assert absorbed(layer, old())
    new_tx(layer, old(call_id="other"))
    new_tx(layer, old(cseq=2))
    new_tx(layer, old(from_tag="zz"))
    new_tx(layer, old(to_tag="tt"))
    new_tx(layer, old(ruri="sip:carol@example.com"))
    new_tx(layer, old(via_port=5070))
    new_tx(layer, old("OPTIONS", cseq=1))


def test_rfc2543_branch_without_cookie_is_part_of_the_top_via() -> None:
    layer = make_layer()
    new_tx(layer, old(branch="oldstyle1"))
    assert absorbed(layer, old(branch="oldstyle1"))
    new_tx(layer, old(branch="oldstyle2"))


def test_ruri_matching_off_ignores_the_request_uri() -> None:
    layer = TransactionLayer(matching=MatchingConfig(ruri_matching=False), ids=IdFactory(""))
    tx = new_tx(layer, old())
    assert absorbed(layer, old(ruri="sip:carol@example.com"))
    assert layer.lookup_cancel(old("CANCEL", ruri="sip:x@y")) is tx


def test_via1_matching_off_ignores_the_top_via() -> None:
    layer = TransactionLayer(matching=MatchingConfig(via1_matching=False), ids=IdFactory(""))
    tx = new_tx(layer, old())
    assert absorbed(layer, old(via_port=5070))
    assert layer.lookup_cancel(old("CANCEL", via_host="192.0.2.77")) is tx


def test_rfc2543_ack_matches_invite_without_to_tag_with_switches() -> None:
    layer = make_layer()
    tx = new_tx(layer, old())
    layer.reply(tx, 404, 0.0)
    # the ACK carries the To tag of our reply; as the seeds' tm (ACK_TAG off), the tag
    # is not compared, Request-URI and top Via are
    assert layer.lookup_ack(old("ACK", to_tag="whatever")) is tx
    assert layer.lookup_ack(old("ACK", ruri="sip:carol@example.com")) is None
    assert layer.lookup_ack(old("ACK", via_port=5070)) is None
    layer.drain()
    assert layer.receive(old("ACK", to_tag=tx.local_tag), UAC, 0.5) == []
    assert tx.state is State.CONFIRMED
    lenient = TransactionLayer(matching=MatchingConfig(False, False), ids=IdFactory(""))
    tx2 = new_tx(lenient, old())
    assert lenient.lookup_ack(old("ACK", ruri="sip:carol@example.com", via_port=5070)) is tx2


def test_rfc2543_ack_for_2xx_in_accepted_is_passed_up_with_its_transaction() -> None:
    layer = make_layer()
    tx = new_tx(layer, old())
    ok = layer.reply(tx, 200, 0.0)
    layer.drain()
    fx = layer.receive(old("ACK", to_tag=ok.to_tag), UAC, 0.5)
    assert summary(fx) == ["DeliverRequest"] and fx[0].tx is tx


def test_rfc2543_cancel_is_its_own_transaction_and_finds_the_invite() -> None:
    layer = make_layer()
    tx = new_tx(layer, old())
    assert layer.lookup_cancel(old("CANCEL")) is tx
    cancel_tx = new_tx(layer, old("CANCEL"))
    assert absorbed(layer, old("CANCEL"))
    assert layer.lookup_request(old("CANCEL")) is cancel_tx
    assert layer.lookup_cancel(old("CANCEL", ruri="sip:carol@example.com")) is None
    assert layer.lookup_cancel(old("CANCEL", via_port=5070)) is None
    assert layer.lookup_cancel(old("CANCEL", call_id="x")) is None


def test_cookie_and_rfc2543_transactions_do_not_mix() -> None:
    layer = make_layer()
    new_tx(layer, request())  # cookie
    new_tx(layer, old())  # same everything, but no branch: not the same transaction
    assert layer.in_use == 2


# --- end-to-end ACK (t_check_trans) ---------------------------------------------------


def test_e2e_ack_lookup_by_2xx_to_tag_best_effort() -> None:
    layer = make_layer()
    tx = new_tx(layer, request())
    from siptm.sip import Response

    ok1 = Response.for_request(tx.request, 200, to_tag="fork-a")
    ok2 = Response.for_request(tx.request, 200, to_tag="fork-b")
    layer.respond(tx, ok1, 0.0)
    layer.respond(tx, ok2, 0.1)
    for tag in ("fork-a", "fork-b"):
        ack = request("ACK", branch="z9hG4bKe2e" + tag, to_tag=tag)
        assert layer.lookup_e2e_ack(ack) is tx
    assert layer.lookup_e2e_ack(request("ACK", branch="z9hG4bKe2e", to_tag="fork-c")) is None
    assert layer.lookup_e2e_ack(request("ACK", branch="z9hG4bKe2e")) is None
    # after a non-2xx there is nothing end-to-end to match
    tx2 = new_tx(layer, request(call_id="c2", branch="z9hG4bKc2"))
    layer.reply(tx2, 486, 0.0)
    assert layer.lookup_e2e_ack(
        request("ACK", call_id="c2", branch="z9hG4bKz", to_tag=tx2.local_tag)) is None


# --- client side -------------------------------------------------------------------


def test_response_matches_branch_and_cseq_method() -> None:
    layer = make_layer()
    tx, req = outgoing(layer)
    layer.receive(response(req, 180), UAS, 0.1)
    layer.cancel(tx, 0.2)
    cancel_tx = tx.cancel_tx
    assert cancel_tx.branch == tx.branch
    layer.drain()
    fx = layer.receive(response(cancel_tx.sent_request, 200), UAS, 0.3)
    assert fx[0].tx is cancel_tx
    fx = layer.receive(response(req, 487), UAS, 0.4)
    assert summary(fx) == ["Send:ACK", "DeliverResponse"] and fx[1].tx is tx
    assert layer.lookup_response(response(req, 487)) is tx


def test_stray_responses_are_delivered_without_a_transaction() -> None:
    layer = make_layer()
    tx, _req = outgoing(layer)
    layer.drain()
    for stray in (
        response(request(branch="z9hG4bKunknown"), 200),
        response(request(branch=None), 200),
        response(request("OPTIONS", branch=tx.branch), 200),  # right branch, other method
    ):
        fx = layer.receive(stray, UAS, 1.0)
        assert summary(fx) == ["DeliverResponse"] and fx[0].tx is None
    assert layer.stats.stray_responses == 3
    assert tx.state is State.CALLING


def test_send_request_rejects_ack_missing_cookie_and_reused_branch() -> None:
    layer = make_layer()
    import pytest

    with pytest.raises(ValueError, match="ACK"):
        layer.send_request(request("ACK"), UAS, 0.0)
    with pytest.raises(ValueError, match="magic cookie"):
        layer.send_request(request(branch="old"), UAS, 0.0)
    layer.send_request(request(), UAS, 0.0)
    with pytest.raises(ValueError, match="already in use"):
        layer.send_request(request(), UAS, 0.0)


def test_send_stateless() -> None:
    layer = make_layer()
    ack = request("ACK", branch="z9hG4bKe2e")
    layer.send_stateless(ack, UAS)
    fx = layer.drain()
    assert summary(fx) == ["Send:STATELESS"] and fx[0].tx is None and fx[0].data == bytes(ack)


# --- the table --------------------------------------------------------------------


def test_ids_are_hash_index_label_and_findable() -> None:
    layer = make_layer()
    a = new_tx(layer, request())
    b = new_tx(layer, request("CANCEL"))
    c = new_tx(layer, request(call_id="another", branch="z9hG4bKc"))
    assert a.id == f"{a.hash_index}:{a.label}"
    assert a.hash_index == b.hash_index  # same Call-ID and CSeq number: same bucket
    assert a.label != b.label
    assert a.hash_index == layer.table.hash_index(a.request.call_id, 1)
    d = new_tx(layer, request(branch=None, call_id="old-style"))
    assert d.hash_index == layer.table.hash_index("old-style", 1)
    assert layer.get(a.id) is a and layer.get(b.id) is b and layer.get(c.id) is c
    assert layer.get((c.hash_index, c.label)) is c
    assert layer.get("nonsense") is None and layer.get("1:2:3") is None
    loads = layer.table.loads()
    assert loads[a.hash_index] == 2 and sum(loads.values()) == 4
    stats = layer.table.hash_stats()
    assert stats["size"] == 65536 and stats["in_use"] == 4 and stats["max_load"] == 2


def test_ids_never_repeat_and_in_use_returns_to_zero() -> None:
    layer = make_layer()
    seen = set()
    for i in range(200):
        tx = new_tx(layer, request(branch=f"z9hG4bKn{i}"), now=float(i))
        assert tx.id not in seen
        seen.add(tx.id)
        layer.reply(tx, 200, float(i))
    from txhelpers import advance

    advance(layer, 1000.0)
    assert layer.in_use == 0
    assert layer.table.loads() == {}
    assert layer.table.server_by_key == {} and layer.table.server_by_dialog == {}
    assert layer.get(next(iter(seen))) is None


def test_small_table_counts_per_bucket() -> None:
    layer = TransactionLayer(table_size=4, ids=IdFactory(""))
    for i in range(20):
        new_tx(layer, request(branch=f"z9hG4bKs{i}", call_id=f"c{i}"))
    assert sum(layer.table.loads().values()) == 20
    assert all(0 <= b < 4 for b in layer.table.loads())
    import pytest

    with pytest.raises(ValueError):
        TransactionLayer(table_size=6)


def test_a_referenced_transaction_stays_in_the_table_until_released() -> None:
    layer = make_layer()
    tx = new_tx(layer, request("OPTIONS"))
    layer.ref(tx)  # e.g. a route that awaits
    layer.reply(tx, 200, 0.0)
    from txhelpers import advance

    advance(layer, 100.0)
    assert tx.state is State.TERMINATED
    assert layer.in_use == 1 and layer.get(tx.id) is tx
    assert new_tx(layer, request("OPTIONS"), 101.0) is not tx  # no longer matched
    assert not [e for e in layer.drain() if type(e).__name__ == "Terminated"]
    layer.unref(tx)
    assert summary(layer.drain()) == ["Terminated"]
    assert layer.in_use == 1  # only the new one


def test_response_sources_do_not_matter_for_matching() -> None:
    layer = make_layer()
    tx, req = outgoing(layer)
    fx = layer.receive(response(req, 200), Address("udp", "203.0.113.9", 9999), 0.5)
    assert next(e for e in fx if isinstance(e, DeliverResponse)).tx is tx
