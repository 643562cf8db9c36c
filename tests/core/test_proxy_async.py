"""``async def`` routes (the seeds' t_suspend/t_continue): the transaction lives while the
route awaits, retransmissions are absorbed, fr_timer keeps running; route exceptions
are logged with the route's name and answered 500."""

from __future__ import annotations

import asyncio
import logging

from siptm.script import Router
from siptm.testing import UAC, UAS, Gate, ProxyHarness, make_request, make_response


def test_an_async_route_awaits_then_relays_and_retransmissions_are_absorbed():
    gate = Gate()
    results: list[int] = []
    router = Router()

    @router.request
    async def route(msg, tm):
        where = await gate  # a database, an HTTP call...
        msg.uri = where
        results.append(int(tm.t_relay()))

    h = ProxyHarness(router)
    h.inject(make_request("INVITE"), UAC)
    assert [m.status for m in h.take(UAC)] == [100]  # the transaction exists at once
    assert h.step() == 1  # suspended at the await
    h.advance(1)
    h.inject(make_request("INVITE"), UAC)  # the UAC retransmits meanwhile
    assert [m.status for m in h.take(UAC)] == [100]
    assert h.take(UAS) == [] and h.in_use == 1

    gate.open("sip:bob@192.0.2.9:5062")
    assert h.step() == 0
    assert results == [1]
    [sent] = h.take_sent()
    assert sent.time == 1 and sent.dest.port == 5062 and sent.msg.method == "INVITE"
    h.inject(make_response(sent.msg, 180), sent.dest)
    h.inject(make_response(sent.msg, 200), sent.dest)
    assert [m.status for m in h.take(UAC)] == [180, 200]
    h.settle()
    assert h.in_use == 0 and h.engine.timers_running == 0


def test_an_async_route_driven_by_asyncio():
    router = Router()

    @router.request
    async def route(msg, tm):
        await asyncio.sleep(0)
        await asyncio.sleep(0.001)
        if not tm.t_relay():
            tm.sl_reply_error()

    h = ProxyHarness(router)
    h.inject(make_request("MESSAGE"), UAC)
    assert h.pending() == []
    h.run_async()
    req = h.take_one(UAS)
    h.inject(make_response(req, 200), UAS)
    assert h.take_one(UAC).status == 200
    h.settle()
    assert h.in_use == 0


def test_a_route_that_never_finishes_gets_408_at_fr_timer_and_cannot_relay_later():
    gate = Gate()
    results: list[int] = []
    router = Router()

    @router.request
    async def route(msg, tm):
        await gate
        results.append(int(tm.t_relay()))

    h = ProxyHarness(router, {"fr_timer": 5000})
    h.inject(make_request("INVITE"), UAC)
    h.step()
    h.advance(4.9)
    assert [m.status for m in h.take(UAC)] == [100]
    h.advance(0.1)
    [timeout] = h.take(UAC)
    assert timeout.status == 408 and h.now == 5
    h.inject(make_request("ACK", to_tag=timeout.to_tag), UAC)
    gate.open()
    h.step()
    assert results == [-3]  # too late: no destination any more
    assert h.take(UAS) == []
    h.settle()
    assert h.in_use == 0


def test_a_suspended_route_times_out_into_its_failure_route():
    gate = Gate()
    failures: list[tuple[str, str]] = []
    router = Router()

    @router.request
    async def route(msg, tm):
        tm.t_on_failure("fallback")
        tm.t_set_fr(0, 2000)
        await gate

    @router.failure("fallback")
    def fallback(msg, tm):
        failures.append((msg.uri_text, tm.route_type))
        msg.uri = "sip:voicemail@192.0.2.20"
        tm.t_relay()

    h = ProxyHarness(router)
    h.inject(make_request("INVITE"), UAC)
    assert [m.status for m in h.take(UAC)] == [100]
    h.step()
    h.advance(2)
    assert failures == [("sip:bob@192.0.2.9", "failure")]
    [sent] = h.take_sent()
    assert sent.time == 2 and sent.msg.uri_text == "sip:voicemail@192.0.2.20"
    h.inject(make_response(sent.msg, 200), sent.dest)
    assert [m.status for m in h.take(UAC)] == [200]


def test_a_non_invite_suspended_too_long_gets_the_seed_408_or_none_with_rfc4320():
    router = Router()

    @router.request
    async def route(msg, tm):
        await Gate()

    h = ProxyHarness(router, {"fr_timer": 3000})
    h.inject(make_request("MESSAGE"), UAC)
    h.step()
    h.advance(3)
    assert [(s.time, s.msg.status) for s in h.take_sent(UAC)] == [(3, 408)]

    h = ProxyHarness(router, {"fr_timer": 3000, "rfc4320_no_408": True})
    h.inject(make_request("MESSAGE"), UAC)
    h.step()
    h.settle()
    assert h.take_sent(UAC) == [] and h.in_use == 0


def test_a_cancel_while_the_route_awaits():
    gate = Gate()
    results: list[int] = []
    router = Router()

    @router.request
    async def route(msg, tm):
        if msg.method == "CANCEL":
            tm.t_relay_cancel()
            return
        await gate
        results.append(int(tm.t_relay()))

    h = ProxyHarness(router)
    h.inject(make_request("INVITE"), UAC)
    h.step()
    h.take()
    h.inject(make_request("CANCEL"), UAC)
    h.step()  # the CANCEL's route (async too) runs to its end
    statuses = sorted((str(m.cseq), m.status) for m in h.take(UAC))
    assert statuses == [("1 CANCEL", 200), ("1 INVITE", 487)]
    gate.open()
    h.step()
    assert results == [-3]  # seed 003: "request already cancelled"
    assert h.take(UAS) == []


def test_an_exception_in_a_route_is_logged_with_its_name_and_answered_500(caplog):
    router = Router()

    @router.request
    def my_route(msg, tm):
        raise KeyError("oops")

    h = ProxyHarness(router)
    with caplog.at_level(logging.ERROR, logger="siptm.script"):
        h.inject(make_request("OPTIONS"), UAC)
    assert "my_route" in caplog.text and "KeyError" in caplog.text
    assert h.take_one(UAC).status == 500
    assert h.runner.route_errors == 1
    h.inject(make_request("OPTIONS", branch="z9hG4bKnext"), UAC)  # the proxy goes on
    assert h.take_one(UAC).status == 500


def test_an_exception_after_an_await_is_answered_500_statefully(caplog):
    gate = Gate()
    router = Router()

    @router.request
    async def lookup(msg, tm):
        await gate
        raise RuntimeError("database down")

    h = ProxyHarness(router)
    h.inject(make_request("INVITE"), UAC)
    h.step()
    gate.open()
    with caplog.at_level(logging.ERROR, logger="siptm.script"):
        h.step()
    assert "lookup" in caplog.text and "database down" in caplog.text
    trying, error = h.take(UAC)
    assert (trying.status, error.status) == (100, 500)
    assert error.to_tag  # a stateful reply of the transaction
    h.inject(make_request("INVITE"), UAC)
    assert [m.status for m in h.take(UAC)] == [500]  # absorbed, the 500 again


def test_an_exception_after_t_relay_leaves_the_branch_alone():
    router = Router()

    @router.request
    def route(msg, tm):
        tm.t_relay()
        raise ValueError("after relaying")

    h = ProxyHarness(router)
    h.inject(make_request("MESSAGE"), UAC)
    req = h.take_one(UAS)
    assert h.take(UAC) == []  # no 500: the request is on its way
    h.inject(make_response(req, 200), UAS)
    assert h.take_one(UAC).status == 200


def test_a_route_that_ends_without_reply_or_relay_releases_its_transaction():
    # seed 002 t_release / Kamailio's end of script: the transaction waits wt_timer to
    # absorb retransmissions, then goes, with no reply
    router = Router()

    @router.request
    async def route(msg, tm):
        return  # dropped: nothing replied, nothing relayed

    h = ProxyHarness(router, {"wt_timer": 2000})
    h.inject(make_request("INVITE"), UAC)
    h.step()
    assert [m.status for m in h.take(UAC)] == [100]
    h.advance(1)
    h.inject(make_request("INVITE"), UAC)
    assert [m.status for m in h.take(UAC)] == [100]  # absorbed meanwhile
    h.advance(1)
    assert h.in_use == 0
    h.settle()
    assert h.pending() == []

    sync = Router()

    @sync.request
    def sync_route(msg, tm):
        tm.t_newtran()

    h = ProxyHarness(sync, {"wt_timer": 2000})
    h.inject(make_request("MESSAGE"), UAC)
    h.advance(2)
    assert h.in_use == 0 and h.pending() == []
