"""Bad input never stops the proxy: the RFC 4475 torture messages and 1,000 random or
mutated datagrams get a 400 (505 for a bad version) with a reason, or are dropped; a
valid call works afterwards."""

from __future__ import annotations

import csv
import random
import re
from pathlib import Path

import pytest

from siptm.errors import ParseError
from siptm.script import Router
from siptm.script.runner import load_router
from siptm.sip import Response, parse
from siptm.testing import UAC, UAS, ProxyHarness, make_request, make_response

DATA = Path(__file__).parents[1] / "sip" / "data" / "rfc4475"
INDEX = list(csv.DictReader((DATA / "index.tsv").open(encoding="utf-8"), delimiter="\t"))
# RFC 4475 lets an element be liberal with these three (§3.1.2.12-14): nothing a proxy
# reads is broken, so they are relayed with the defective header left as it came
FORWARDABLE = {"baddate.dat", "badaspec.dat", "regbadct.dat"}
ERROR_LINE = re.compile(rb"SIP/2\.0 (\d{3}) [\x21-\x7e][\x20-\x7e]*\Z")


def parse_error(data: bytes) -> ParseError | None:
    try:
        parse(data)
    except ParseError as exc:
        return exc
    return None


def assert_error_reply_or_nothing(out, data: bytes, error: ParseError) -> None:
    """A datagram that does not parse: at most one reply, to its source, with the
    parser's status and a printable reason; nothing else."""
    assert len(out) <= 1, [s.first_line for s in out]
    if out:
        [sent] = out
        assert sent.dest == UAC
        start = sent.data.split(b"\r\n", 1)[0]
        match = ERROR_LINE.match(start)
        assert match, start
        assert int(match.group(1)) == error.status
        assert error.status in (400, 505) or 400 <= error.status < 600


@pytest.mark.parametrize("row", [r for r in INDEX if r["validity"] == "invalid"],
                         ids=lambda r: r["filename"])
def test_rfc4475_invalid_messages(row):
    data = (DATA / row["filename"]).read_bytes()
    h = ProxyHarness(load_router(None))
    out = h.inject(data, UAC)
    assert h.runner.route_errors == 0
    if row["filename"] in FORWARDABLE:
        relayed = [s for s in out if not s.data.startswith(b"SIP/2.0")]
        assert len(relayed) == 1
        return
    error = parse_error(data)
    if data.startswith(b"SIP/"):
        assert out == []  # a broken response is dropped
        return
    assert error is not None
    assert_error_reply_or_nothing(out, data, error)
    if row["filename"] == "badvers.dat":
        assert out and out[0].first_line.startswith("SIP/2.0 505 ")
    elif row["filename"] != "test.dat":  # test.dat: no Via to answer to
        assert out and out[0].first_line.startswith("SIP/2.0 400 ")


@pytest.mark.parametrize("row", [r for r in INDEX if r["validity"] == "valid"],
                         ids=lambda r: r["filename"])
def test_rfc4475_valid_messages_never_raise(row):
    data = (DATA / row["filename"]).read_bytes()
    h = ProxyHarness(load_router(None))
    h.inject(data, UAC)
    h.advance(1)
    assert h.runner.route_errors == 0
    if row["filename"] == "zeromf.dat":
        assert [s.first_line[:11] for s in h.take_sent(UAC)] == ["SIP/2.0 483"]
    if row["filename"] == "unkscm.dat":  # not a SIP URI: nowhere to relay it
        assert h.take_sent(UAC)[0].first_line.startswith("SIP/2.0 4")


def mutate(rng: random.Random, data: bytes) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.randint(1, 5)):
        op = rng.randrange(6)
        if op == 0 and buf:
            buf[rng.randrange(len(buf))] = rng.randrange(256)
        elif op == 1 and buf:
            i = rng.randrange(len(buf))
            del buf[i:i + rng.randint(1, 20)]
        elif op == 2:
            i = rng.randrange(len(buf) + 1)
            buf[i:i] = bytes(rng.choice(b':;,<>"\r\n @=%\x00\t09azSIP/') for _ in
                             range(rng.randint(1, 10)))
        elif op in (3, 4):
            lines = bytes(buf).split(b"\r\n")
            if len(lines) > 3:
                i = rng.randrange(1, len(lines) - 2)
                if op == 3:
                    lines.insert(rng.randrange(1, len(lines) - 2), lines[i])
                else:
                    del lines[i]
            buf = bytearray(b"\r\n".join(lines))
        else:
            del buf[rng.randrange(len(buf) + 1):]
    return bytes(buf)


def garbage(rng: random.Random, n: int) -> bytes:
    kind = n % 4
    if kind == 0:
        return bytes(rng.randrange(256) for _ in range(rng.randint(0, 200)))
    base = make_request(rng.choice(["INVITE", "MESSAGE", "OPTIONS", "BYE", "CANCEL", "ACK"]),
                        branch=f"z9hG4bKg{n}", call_id=f"g{n}", to_tag=rng.choice([None, "t"]))
    if kind == 3:
        reply = Response.for_request(parse(base), rng.choice([100, 180, 200, 486]),
                                     to_tag="x")
        reply.push_via(f"SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKst0.{n}")
        return mutate(rng, bytes(reply))
    return mutate(rng, base)


def test_a_thousand_garbage_datagrams_then_a_valid_call():
    rng = random.Random(4475)
    h = ProxyHarness(load_router(None))
    for n in range(1000):
        data = garbage(rng, n)
        error = parse_error(data)
        out = h.inject(data, UAC)
        if error is not None:
            assert_error_reply_or_nothing(out, data, error)
        for sent in out:  # whatever went out is a SIP message we can read back
            assert ERROR_LINE.match(sent.data.split(b"\r\n", 1)[0]) or parse(sent.data)
        if n % 50 == 0:
            h.advance(rng.random() * 5)
    assert h.runner.route_errors == 0
    h.settle()
    assert h.in_use == 0
    h.take_sent()

    h.inject(make_request("INVITE", call_id="after-garbage"), UAC)
    invite = h.take_one(UAS)
    h.inject(make_response(invite, 200), UAS)
    assert [m.status for m in h.take(UAC)] == [100, 200]
    h.settle()
    assert h.in_use == 0


@pytest.mark.parametrize("header", ["Via", "Route", "Max-Forwards", "CSeq", "From"])
@pytest.mark.parametrize("value", ["", ";;,;,,", "<sip:", '"unterminated', "sip:a b@c",
                                   "99999999999999999999"])
def test_one_malformed_header_is_a_400_not_a_route_error(header, value):
    # a lower Via (or Route) the parser only reads when the proxy needs it
    extra = ["Route: <sip:192.0.2.9;lr>",
             "Via: SIP/2.0/UDP 192.0.2.3;branch=z9hG4bKlow"]
    lines = make_request("MESSAGE", extra=extra).decode().split("\r\n")
    index = max(i for i, line in enumerate(lines) if line.startswith(header + ":"))
    lines[index] = f"{header}: {value}"
    data = "\r\n".join(lines).encode()
    h = ProxyHarness(load_router(None))
    out = h.inject(data, UAC)
    assert h.runner.route_errors == 0
    replies = [s for s in out if s.dest == UAC]
    relayed = [s for s in out if s.dest != UAC]
    if relayed:  # the value was acceptable after all
        assert not replies
    else:
        [reply] = replies
        assert reply.first_line.startswith(("SIP/2.0 400 ", "SIP/2.0 483 "))


def test_a_branch_reply_with_a_broken_via_stack_is_answered_502():
    h = ProxyHarness(load_router(None))
    h.inject(make_request("INVITE"), UAC)
    h.take(UAC)
    invite = h.take_one(UAS)
    lines = make_response(invite, 180).split(b"\r\n")
    broken = [b"Via: /2.0/UDP x" if line.startswith(b"Via: SIP/2.0/UDP 192.0.2.1")
              else line for line in lines]
    h.inject(b"\r\n".join(broken), UAS)
    assert h.take_sent() == []  # a provisional we cannot relay is dropped
    lines = make_response(invite, 486).split(b"\r\n")
    broken = [b"Via: /2.0/UDP x" if line.startswith(b"Via: SIP/2.0/UDP 192.0.2.1")
              else line for line in lines]
    h.inject(b"\r\n".join(broken), UAS)
    assert h.take_one(UAS).method == "ACK"
    bad_gateway = h.take_one(UAC)
    assert (bad_gateway.status, bad_gateway.reason) == (502, "Bad Gateway")
    assert h.runner.route_errors == 0



def relay_180_with_vias_below_the_callers(lower_vias: list[bytes]) -> list:
    """What the proxy sends when the callee's 180 carries ``lower_vias`` under the
    caller's Via."""
    h = ProxyHarness(load_router(None))
    h.inject(make_request("INVITE"), UAC)
    h.take(UAC)
    lines = make_response(h.take_one(UAS), 180).split(b"\r\n")
    caller = next(i for i, line in enumerate(lines)
                  if line.startswith(b"Via: SIP/2.0/UDP 192.0.2.1"))
    lines[caller + 1:caller + 1] = lower_vias
    h.inject(b"\r\n".join(lines), UAS)
    return h.take_sent()


@pytest.mark.parametrize("lower_vias", [
    [b"Via: /2.0/UDP x"],  # the Via right below the caller's
    [b"Via: SIP/2.0/UDP 192.0.2.7;branch=z9hG4bKok", b"Via: /2.0/UDP x"],  # one further down
    [b"Via: SIP/2.0/UDP 192.0.2.7:99999;branch=z9hG4bKport"],  # a port out of range
    [b"Via: SIP/2.0/UDP 192.0.2.7;branch=z9hG4bKok, SIP/2.0/UDP"],  # a broken second value
])
def test_a_provisional_with_any_malformed_via_left_is_not_relayed(lower_vias):
    assert relay_180_with_vias_below_the_callers(lower_vias) == []


def test_a_provisional_whose_lower_vias_are_unusual_but_valid_is_relayed():
    [relayed] = relay_180_with_vias_below_the_callers([
        b'v:  SIP / 2.0 / TCP [2001:db8::1]:5061 ;branch=z9hG4bKx ;x="a b"',
        b"Via: SIP/2.0/UDP a.example.com, SIP/2.0/UDP b.example.com",
    ])
    assert relayed.dest == UAC and parse(relayed.data).status == 180
    assert len(parse(relayed.data).vias) == 4


@pytest.mark.parametrize("method", ["MESSAGE", "ACK"])
def test_a_malformed_route_with_a_destination_uri_set_is_a_400_not_a_route_error(method):
    """With $du set the Route set is first read by the strict-router check; a malformed
    Route there is E_BAD_MSG (a 400 for a stateful relay, nothing for an ACK), not an
    exception in the route (which answered 500)."""
    router = Router()

    @router.request
    def route(msg, tm):
        tm.du = "sip:192.0.2.9:5060"
        if not tm.t_relay():
            return

    h = ProxyHarness(router)
    out = h.inject(make_request(method, extra=["Route: <sip:"]), UAC)
    assert h.runner.route_errors == 0
    assert not [s for s in out if s.dest != UAC]
    replies = [s for s in out if s.dest == UAC]
    if method == "ACK":
        assert replies == []
    else:
        [reply] = replies
        assert reply.first_line.startswith("SIP/2.0 400 ")
    h.settle()
    assert h.in_use == 0
