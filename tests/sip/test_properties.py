"""Property tests: generated messages round-trip and read back what was generated; mutated
messages (generated and RFC 4475) only ever yield a message or a ParseError."""

from __future__ import annotations

import contextlib
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sip_samples import INVITE, INVITE_15
from sip_strategies import AddrSpec, MessageSpec, UriSpec, messages, sip_uris

from siptm.sip import Message, ParseError, SipUri, parse, parse_uri

SETTINGS = settings(max_examples=250, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
TORTURE = sorted(Path(__file__).parent.joinpath("data", "rfc4475").glob("*.dat"))
SEEDS = [p.read_bytes() for p in TORTURE] + [INVITE, INVITE_15]


def check_uri(uri, spec: UriSpec | str) -> None:
    if isinstance(spec, str):
        assert str(uri) == spec
        return
    assert isinstance(uri, SipUri)
    assert uri.scheme == spec.scheme
    assert uri.user == spec.user and uri.password == spec.password
    assert uri.host == spec.host and uri.port == spec.port
    assert [tuple(item) for item in uri.params._items] == spec.params
    assert uri.headers == dict(spec.headers)
    assert str(uri) == spec.text()


def check_addr(addr, spec: AddrSpec) -> None:
    assert str(addr.uri) == spec.uri
    if spec.uri.lower().startswith(("sip:", "sips:")):
        assert isinstance(addr.uri, SipUri)
    assert addr.display_name == spec.display
    assert [tuple(item) for item in addr.params._items] == spec.params
    assert addr.tag == spec.tag


def check_message(msg: Message, spec: MessageSpec) -> None:
    if spec.is_request:
        assert msg.method == spec.method
        check_uri(msg.uri, spec.uri)
    else:
        assert msg.status == spec.status and msg.reason == spec.reason
    assert len(msg.vias) == len(spec.vias)
    for via, want in zip(msg.vias, spec.vias):
        assert via.protocol == "SIP/2.0" and via.transport == want.transport
        assert via.host == want.host and via.port == want.port
        assert via.sent_by == (want.host, want.port)
        assert via.branch == want.param("branch") and via.received == want.param("received")
        assert via.maddr == want.param("maddr") and via.ttl == want.param("ttl")
        assert via.has_rport == any(n == "rport" for n, _ in want.params)
        rport = want.param("rport")
        assert via.rport == (int(rport) if rport else None)
    assert msg.via is msg.vias[0]
    check_addr(msg.from_, spec.from_)
    check_addr(msg.to, spec.to)
    assert msg.from_tag == spec.from_.tag and msg.to_tag == spec.to.tag
    assert msg.call_id == spec.call_id
    assert (msg.cseq.number, msg.cseq.method) == spec.cseq
    assert msg.max_forwards == spec.max_forwards
    contacts = msg.contacts
    if spec.star:
        assert len(contacts) == 1 and contacts[0].is_star
    else:
        assert len(contacts) == len(spec.contacts)
        for got, want in zip(contacts, spec.contacts):
            check_addr(got, want)
            expires = dict((n.lower(), v) for n, v in want.params).get("expires")
            assert got.expires == (int(expires) if expires else None)
    for got_list, want_list in ((msg.routes, spec.routes),
                                (msg.record_routes, spec.record_routes)):
        assert len(got_list) == len(want_list)
        for got, want in zip(got_list, want_list):
            check_addr(got, want)
    for name, values in spec.unknown.items():
        assert msg.headers.get_all(name) == values
    assert msg.content_length == spec.content_length
    assert msg.body == spec.body
    assert list(msg.headers) == spec.names


@SETTINGS
@given(messages(), st.booleans())
def test_generated_messages_round_trip_read_back_and_edit(spec, rewrite_uri):
    msg = parse(spec.data)
    assert bytes(msg) == spec.data
    check_message(msg, spec)
    assert bytes(msg) == spec.data  # reading every field changed nothing
    assert not msg.is_modified()

    # The same message through a proxy's edits, then parsed again.
    msg.push_via("SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKproxy")
    hops = msg.decrement_max_forwards()
    route = msg.pop_route()
    msg.vias[1].params["received"] = "203.0.113.5"
    if rewrite_uri and spec.is_request:
        msg.uri = "sip:rewritten@10.0.0.9;lr"
    out = bytes(msg)
    again = parse(out)
    assert again.via.branch == "z9hG4bKproxy"
    assert again.vias[1].received == "203.0.113.5"
    assert len(again.vias) == len(spec.vias) + 1
    assert again.max_forwards == hops == (70 if spec.max_forwards is None
                                          else max(spec.max_forwards - 1, 0))
    assert len(again.routes) == max(len(spec.routes) - 1, 0)
    if route is not None:
        assert str(route.uri) == spec.routes[0].uri
    assert again.body == spec.body and again.content_length == len(spec.body)
    assert again.call_id == spec.call_id and again.from_tag == spec.from_.tag
    assert again.to_tag == spec.to.tag and again.cseq.number == spec.cseq[0]
    if spec.is_request:
        assert again.uri_text == ("sip:rewritten@10.0.0.9;lr" if rewrite_uri
                                  else msg.uri_text)
    assert bytes(again) == out


@SETTINGS
@given(sip_uris())
def test_generated_uris_round_trip(spec):
    uri = parse_uri(spec.text())
    check_uri(uri, spec)
    assert uri == parse_uri(spec.text())
    copy = uri.copy()
    copy.host = "changed.example.com"
    assert copy.host == "changed.example.com" and str(uri) == spec.text()
    again = parse_uri(str(copy))
    assert again.user == spec.user and again.port == spec.port
    assert [tuple(i) for i in again.params._items] == spec.params


# --- mutations --------------------------------------------------------------------------------

ACCESSORS = ("via", "vias", "cseq", "call_id", "from_", "to", "from_tag", "to_tag", "contacts",
             "routes", "record_routes", "max_forwards", "content_length", "content_type")
INTERESTING = [*b"\r\n\t :;,<>\"\\@?=%/[]*0129", 0, 0x7F, 0x80, 0xC3, 0xFF]


@st.composite
def mutations(draw, data: bytes) -> bytes:
    data = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "set", "truncate", "insert", "delete", "dup line",
                                   "drop line", "swap lines", "repeat"]))
        pos = draw(st.integers(0, len(data))) if data else 0
        if op == "flip" and data:
            data[min(pos, len(data) - 1)] ^= 1 << draw(st.integers(0, 7))
        elif op == "set" and data:
            data[min(pos, len(data) - 1)] = draw(st.sampled_from(INTERESTING) | st.integers(0, 255))
        elif op == "truncate":
            del data[pos:]
        elif op == "insert":
            data[pos:pos] = draw(st.binary(max_size=8) | st.lists(
                st.sampled_from(INTERESTING), max_size=8).map(bytes))
        elif op == "delete":
            del data[pos:pos + draw(st.integers(1, 16))]
        elif op == "repeat":
            end = min(len(data), pos + draw(st.integers(1, 32)))
            data[pos:pos] = data[pos:end] * draw(st.integers(1, 50))
        else:
            lines = bytes(data).split(b"\r\n")
            i = draw(st.integers(0, len(lines) - 1))
            j = draw(st.integers(0, len(lines) - 1))
            if op == "dup line":
                lines.insert(j, lines[i])
            elif op == "drop line":
                del lines[i]
            else:
                lines[i], lines[j] = lines[j], lines[i]
            data = bytearray(b"\r\n".join(lines))
    return bytes(data)


def only_message_or_parse_error(data: bytes) -> None:
    try:
        msg = parse(data)
    except ParseError as error:
        # The catch-all in parse() is a safety net: reaching it means a parser bug.
        assert error.__cause__ is None, repr(error.__cause__)
        assert 0 < len(str(error)) <= 64
        return
    # The tags read for transaction matching (without parsing From/To) are the tags of the
    # parsed From/To, whichever is read first.
    tags = msg.from_tag, msg.to_tag
    for i, name in enumerate(("from_", "to")):
        with contextlib.suppress(ParseError):
            assert getattr(msg, name).tag == tags[i]
    for name in ACCESSORS + (("uri", "uri_text") if msg.is_request else ()):
        with contextlib.suppress(ParseError):
            getattr(msg, name)
    assert bytes(msg) == bytes(msg)
    # A proxy's usual edits also end in bytes or a ParseError.
    for edit in (
        lambda: msg.push_via("SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKfuzz"),
        msg.decrement_max_forwards,
        msg.pop_route,
        lambda: msg.via.params.__setitem__("received", "192.0.2.1"),
        lambda: msg.contacts[0].params.__setitem__("expires", "60") if msg.contacts else None,
        lambda: setattr(msg.to, "tag", "fuzz") if msg.to is not None else None,
        lambda: msg.uri.params.__setitem__("lr", None) if msg.is_request
        and isinstance(msg.uri, SipUri) else None,
    ):
        with contextlib.suppress(ParseError):
            edit()
    try:
        out = bytes(msg)
    except ParseError:
        return
    try:
        parse(out)
    except ParseError as error:
        assert error.__cause__ is None, repr(error.__cause__)


@SETTINGS
@given(st.data())
def test_mutated_torture_messages(data):
    seed = data.draw(st.sampled_from(SEEDS))
    only_message_or_parse_error(data.draw(mutations(seed)))


@SETTINGS
@given(messages(), st.data())
def test_mutated_generated_messages(spec, data):
    only_message_or_parse_error(data.draw(mutations(spec.data)))


@SETTINGS
@given(st.binary(max_size=300))
@example(b"\r\n\r\n")
@example(b"SIP/2.0 200 OK\r\n\r\n")
def test_random_bytes(data):
    only_message_or_parse_error(data)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_parse_uri_only_raises_parse_error(text):
    try:
        uri = parse_uri(text)
    except ParseError:
        return
    str(uri)
    assert parse_uri(str(uri)) == uri
