"""Proxy-style editing of a parsed message, and what it serializes to."""

from __future__ import annotations

import pytest
from sip_samples import INVITE, INVITE_15, SDP, build

from siptm.sip import ParseError, Request, Response, Via, parse, parse_uri


def lines_of(data: bytes) -> list[bytes]:
    head = data.split(b"\r\n\r\n", 1)[0]
    return head.split(b"\r\n")


def assert_untouched_lines_kept(before: bytes, after: bytes, changed: set[bytes]) -> None:
    """Every header line of ``before`` whose name is not in ``changed`` is in ``after``, byte
    for byte and in the same relative order."""
    kept = [
        line for line in lines_of(before)[1:]
        if line.split(b":", 1)[0].strip().lower() not in changed
    ]
    out = lines_of(after)[1:]
    positions = [out.index(line) for line in kept]
    assert positions == sorted(positions)


def test_unmodified_message_is_its_input():
    msg = parse(INVITE_15)
    for attr in ("via", "vias", "cseq", "call_id", "from_", "to", "from_tag", "to_tag",
                 "contacts", "routes", "record_routes", "max_forwards", "content_length", "uri"):
        getattr(msg, attr)
    assert bytes(msg) == INVITE_15
    assert not msg.is_modified()


def test_push_via():
    msg = parse(INVITE_15)
    msg.push_via("SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKproxy1")
    out = bytes(msg)
    assert lines_of(out)[1] == b"Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKproxy1"
    assert lines_of(out)[2:] == lines_of(INVITE_15)[1:]
    assert out.endswith(b"\r\n\r\n" + SDP)
    again = parse(out)
    assert [v.branch for v in again.vias] == ["z9hG4bKproxy1", "z9hG4bKnashds8", "z9hG4bK74bf9"]
    assert msg.via.branch == "z9hG4bKproxy1" and len(msg.vias) == 3


def test_push_via_object_and_edit_it_later():
    msg = parse(INVITE)
    via = Via("TCP", "10.0.0.2", 5061, {"branch": "z9hG4bKobj"})
    msg.push_via(via)
    via.params["rport"] = None
    assert lines_of(bytes(msg))[1] == b"Via: SIP/2.0/TCP 10.0.0.2:5061;branch=z9hG4bKobj;rport"
    assert msg.via is via


def test_pop_via_one_per_line():
    data = build({"via": "SIP/2.0/UDP proxy.example.com;branch=z9hG4bKp"},
                 start=b"SIP/2.0 180 Ringing")
    data = data.replace(b"Max-Forwards: 70\r\n",
                        b"Via: SIP/2.0/UDP client.example.com;branch=z9hG4bKc\r\n")
    msg = parse(data)
    top = msg.pop_via()
    assert top.host == "proxy.example.com" and top.branch == "z9hG4bKp"
    out = bytes(msg)
    assert b"proxy.example.com" not in out
    assert lines_of(out)[1] == b"Via: SIP/2.0/UDP client.example.com;branch=z9hG4bKc"
    assert lines_of(out)[2:] == lines_of(data)[3:]
    assert parse(out).via.branch == "z9hG4bKc"


def test_pop_via_from_a_line_with_several_values():
    data = build({"via": "SIP/2.0/UDP p1.example.com;branch=z9hG4bK1 , SIP/2.0/TCP "
                         "p2.example.com:5070;branch=z9hG4bK2;received=192.0.2.9,"
                         "SIP/2.0/UDP p3.example.com;branch=z9hG4bK3"},
                 spelled={"via": "v"}, start=b"SIP/2.0 200 OK")
    msg = parse(data)
    assert [v.host for v in msg.vias] == ["p1.example.com", "p2.example.com", "p3.example.com"]
    assert msg.pop_via().branch == "z9hG4bK1"
    assert [v.branch for v in msg.vias] == ["z9hG4bK2", "z9hG4bK3"]
    out = bytes(msg)
    assert lines_of(out)[1] == (b"v: SIP/2.0/TCP p2.example.com:5070;branch=z9hG4bK2;"
                                b"received=192.0.2.9, SIP/2.0/UDP p3.example.com;branch=z9hG4bK3")
    assert msg.pop_via().branch == "z9hG4bK2"
    assert msg.pop_via().branch == "z9hG4bK3"
    assert msg.pop_via() is None and msg.via is None
    assert b"Via" not in bytes(msg) and b"\r\nv:" not in bytes(msg)


def test_pop_route():
    msg = parse(INVITE_15)
    first = msg.pop_route()
    assert first.uri.host == "p1.example.com" and first.uri.lr
    out = bytes(msg)
    assert b"Route: <sip:p2.example.com;lr>\r\n" in out
    assert_untouched_lines_kept(INVITE_15, out, {b"route"})
    assert msg.pop_route().uri.host == "p2.example.com"
    assert msg.pop_route() is None and msg.routes == []
    out = bytes(msg)
    assert b"\r\nRoute:" not in out and b"Record-Route: <sip:rr.atlanta" in out
    assert_untouched_lines_kept(INVITE_15, out, {b"route"})


def test_decrement_max_forwards():
    msg = parse(INVITE_15)
    assert msg.decrement_max_forwards() == 69
    assert msg.max_forwards == 69
    out = bytes(msg)
    assert lines_of(out)[3] == b"Max-Forwards: 69"
    assert_untouched_lines_kept(INVITE_15, out, {b"max-forwards"})
    assert len(lines_of(out)) == len(lines_of(INVITE_15))


def test_decrement_max_forwards_keeps_the_name_spelling():
    msg = parse(INVITE.replace(b"Max-Forwards: 70", b"MAX-FORWARDS :  0010"))
    msg.decrement_max_forwards()
    assert b"\r\nMAX-FORWARDS: 9\r\n" in bytes(msg)


@pytest.mark.parametrize("data", [
    INVITE_15,
    INVITE.replace(b"Max-Forwards: 70\r\n", b""),
    INVITE.replace(b"Max-Forwards: 70", b"MAX-FORWARDS :  0010"),
    INVITE.replace(b"Content-Length", b"X-Length"),
    INVITE.replace(b"Via:", b"v:"),
])
def test_forwarded_bytes_are_the_edited_copy_without_editing(data):
    via = "SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKfwd;rport"
    msg = parse(data)
    msg.via.params["received"] = "192.0.2.1"  # a changed value is rendered too
    copy = msg.copy()
    copy.decrement_max_forwards()
    copy.push_via(via)
    before = bytes(msg)
    assert msg.forwarded_bytes(via) == bytes(copy)
    assert bytes(msg) == before and msg.max_forwards == parse(data).max_forwards


def test_forwarded_bytes_of_a_new_body_set_the_content_length_line_itself():
    via = "SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKfwd"
    msg = parse(INVITE)
    msg.body = b"v=0\r\n"
    copy = msg.copy()
    copy.decrement_max_forwards()
    copy.push_via(via)
    out = msg.forwarded_bytes(via)
    assert out == bytes(copy)
    forwarded = parse(out)
    assert forwarded.body == b"v=0\r\n" and forwarded.headers.get("Content-Length") == "5"
    assert str(forwarded.vias[0]) == via and len(forwarded.vias) == len(msg.vias) + 1


def test_decrement_max_forwards_adds_70_when_absent():
    data = INVITE.replace(b"Max-Forwards: 70\r\n", b"")
    msg = parse(data)
    assert msg.max_forwards is None
    assert msg.decrement_max_forwards() == 70
    out = bytes(msg)
    assert parse(out).max_forwards == 70
    assert_untouched_lines_kept(data, out, set())


def test_rewrite_whole_request_uri():
    msg = parse(INVITE_15)
    msg.uri = "sip:bob@192.0.2.50:5062;transport=tcp"
    out = bytes(msg)
    assert lines_of(out)[0] == b"INVITE sip:bob@192.0.2.50:5062;transport=tcp SIP/2.0"
    assert lines_of(out)[1:] == lines_of(INVITE_15)[1:]
    msg.uri = parse_uri("tel:+15550100")
    assert lines_of(bytes(msg))[0] == b"INVITE tel:+15550100 SIP/2.0"
    assert msg.uri_text == "tel:+15550100"


def test_rewrite_request_uri_parts():
    msg = parse(INVITE_15)
    msg.uri.host = "10.0.0.7"
    msg.uri.port = 5070
    msg.uri.params["transport"] = "tcp"
    out = bytes(msg)
    assert lines_of(out)[0] == b"INVITE sip:bob@10.0.0.7:5070;transport=tcp SIP/2.0"
    assert lines_of(out)[1:] == lines_of(INVITE_15)[1:]
    assert parse(out).uri.host == "10.0.0.7"


def test_reading_the_uri_does_not_modify():
    msg = parse(INVITE_15)
    assert msg.uri.user == "bob" and msg.uri_text == "sip:bob@biloxi.example.com"
    assert not msg.is_modified() and bytes(msg) == INVITE_15


def test_replace_body_recomputes_content_length():
    msg = parse(INVITE_15)
    msg.body = b"new body"
    out = bytes(msg)
    assert out.endswith(b"\r\nContent-Length: 8\r\n\r\nnew body")
    assert_untouched_lines_kept(INVITE_15, out, {b"content-length"})
    assert parse(out).body == b"new body"
    msg.body = b""
    assert bytes(msg).endswith(b"\r\nContent-Length: 0\r\n\r\n")


def test_content_length_kept_in_compact_form_and_added_when_missing():
    data = INVITE.replace(b"Content-Length: 0", b"l: 3") + b"abc"
    msg = parse(data)
    msg.body = b"abcdef"
    assert bytes(msg).endswith(b"\r\nl: 6\r\n\r\nabcdef")
    no_cl = INVITE.replace(b"Content-Length: 0\r\n", b"") + b"udp body"
    msg = parse(no_cl)
    assert msg.body == b"udp body" and msg.content_length is None
    msg.decrement_max_forwards()
    out = bytes(msg)
    assert out.endswith(b"\r\nContent-Length: 8\r\n\r\nudp body")
    assert parse(out).content_length == 8


def test_headers_edited_through_the_message():
    msg = parse(INVITE_15)
    msg.headers.remove("User-Agent")
    msg.headers.add("X-Proxy", "siptm")
    msg.headers.set("Supported", "timer")
    out = bytes(msg)
    assert b"User-Agent" not in out
    assert b"\r\nSupported: timer\r\n" in out and b"\r\nX-Proxy: siptm\r\n" in out
    assert_untouched_lines_kept(INVITE_15, out, {b"user-agent", b"supported"})


def test_via_received_and_rport_reach_the_output():
    data = INVITE.replace(b"branch=z9hG4bK776asdhds", b"branch=z9hG4bK776asdhds;rport")
    msg = parse(data)
    assert msg.via.has_rport and msg.via.rport is None
    msg.via.params["received"] = "203.0.113.9"
    msg.via.params["rport"] = "40123"
    out = bytes(msg)
    assert lines_of(out)[1] == (b"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK776asdhds;"
                                b"rport=40123;received=203.0.113.9")
    assert_untouched_lines_kept(data, out, {b"via"})
    via = parse(out).via
    assert via.received == "203.0.113.9" and via.rport == 40123


def test_editing_from_to_and_contacts():
    msg = parse(INVITE_15)
    msg.to.tag = "totag1"
    msg.contacts[0].uri.host = "192.0.2.77"
    msg.from_.display_name = 'New "Name"'
    out = bytes(msg)
    again = parse(out)
    assert again.to_tag == "totag1" and again.to.display_name == "Bob"
    assert str(again.contacts[0].uri) == "sip:alice@192.0.2.77"
    assert again.from_.display_name == 'New "Name"' and again.from_tag == "1928301774"
    assert_untouched_lines_kept(INVITE_15, out, {b"to", b"from", b"contact"})


def test_copy_is_independent():
    msg = parse(INVITE_15)
    dup = msg.copy()
    dup.pop_via()
    dup.uri.host = "elsewhere.example.com"
    assert bytes(msg) == INVITE_15
    assert dup.via.branch == "z9hG4bK74bf9"


def test_edits_then_reparse_round_trip():
    msg = parse(INVITE_15)
    msg.push_via("SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKp")
    msg.decrement_max_forwards()
    msg.pop_route()
    msg.uri.host = "10.0.0.9"
    out = bytes(msg)
    assert bytes(parse(out)) == out


# --- responses ------------------------------------------------------------------------------


def test_response_for_request():
    data = INVITE_15.replace(b"CSeq: 314159 INVITE", b"cseq:  314159   INVITE")
    request = parse(data)
    request.via.params["received"] = "203.0.113.1"
    response = Response.for_request(request, 180, to_tag="a6c85cf",
                                    headers=[("Contact", "<sip:bob@192.0.2.4>")])
    assert response.status == 180 and response.reason == "Ringing"
    out = bytes(response)
    lines = lines_of(out)
    assert lines[0] == b"SIP/2.0 180 Ringing"
    assert lines[1] == (b"Via: SIP/2.0/UDP pc33.atlanta.example.com:5060;branch=z9hG4bKnashds8"
                        b";rport;received=203.0.113.1")
    assert lines[2] == lines_of(INVITE_15)[2]
    assert lines[3] == b"To: Bob <sip:bob@biloxi.example.com>;tag=a6c85cf"
    assert lines[4:7] == [lines_of(INVITE_15)[7], lines_of(INVITE_15)[8],
                          b"cseq:  314159   INVITE"]
    assert lines[7:] == [b"Contact: <sip:bob@192.0.2.4>", b"Content-Length: 0"]
    parsed = parse(out)
    assert parsed.to_tag == "a6c85cf" and parsed.from_tag == "1928301774"
    assert parsed.cseq.method == "INVITE" and parsed.call_id == request.call_id
    assert [v.branch for v in parsed.vias] == ["z9hG4bKnashds8", "z9hG4bK74bf9"]
    assert not [name for name in parsed.headers if name.lower() in ("route", "max-forwards")]


def test_response_for_request_keeps_an_existing_to_tag():
    request = parse(INVITE.replace(b"To: Bob <sip:bob@biloxi.example.com>",
                                   b"To: Bob <sip:bob@biloxi.example.com>;tag=existing"))
    response = Response.for_request(request, 200, to_tag="other", body=b"x")
    assert response.to_tag == "existing"
    parsed = parse(bytes(response))
    assert parsed.to_tag == "existing" and parsed.body == b"x" and parsed.reason == "OK"


def test_response_status_and_reason_edits():
    data = (b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK1\r\nTo: <sip:b@x>;tag=2\r\n"
            b"From: <sip:a@x>;tag=1\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n")
    msg = parse(data)
    assert bytes(msg) == data
    msg.status = 486
    msg.reason = "Busy Here"
    assert bytes(msg) == data.replace(b"200 OK", b"486 Busy Here")
    assert Response(999).reason == "Unknown" and Response(603).reason == "Decline"


def test_constructed_request():
    request = Request(
        "OPTIONS", "sip:bob@example.com",
        [("Via", "SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKc"), ("To", "<sip:bob@example.com>"),
         ("From", "<sip:a@example.com>;tag=9"), ("Call-ID", "c@1"), ("CSeq", "1 OPTIONS")],
    )
    out = bytes(request)
    assert out.startswith(b"OPTIONS sip:bob@example.com SIP/2.0\r\nVia: ")
    assert out.endswith(b"CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n")
    parsed = parse(out)
    assert parsed.method == "OPTIONS" and parsed.from_tag == "9" and parsed.max_forwards is None


def test_accessors_on_missing_headers():
    response = Response(200, headers=[("Call-ID", "x")])
    assert response.via is None and response.vias == [] and response.cseq is None
    assert response.from_ is None and response.to is None and response.from_tag is None
    assert response.contacts == [] and response.routes == [] and response.max_forwards is None
    assert response.content_length is None and response.transaction_method == ""
    assert response.pop_via() is None and response.pop_route() is None


@pytest.mark.parametrize(
    ("original", "replacement", "read"),
    [
        # A bare CR (not part of a line fold) may not appear in a quoted-string or a URI:
        # reading the header fails, rather than an edit failing later when it is re-rendered.
        (b"branch=z9hG4bK776asdhds", b'branch=z9hG4bK776asdhds;x="a\rb"', None),
        (b"To: Bob", b'To: "B\rob"', None),
        (b"To: Bob <sip:bob@biloxi.example.com>", b"To: <sip:bob@biloxi.example.com;x=\r>",
         lambda msg: msg.to),
        (b"Content-Length: 0", b"Route: <sip:p1;lr>, <sip:p2;x=a\rb>\r\nContent-Length: 0",
         lambda msg: msg.pop_route()),
        (b"Content-Length: 0", b'Contact: "a\rb" <sip:c@d>\r\nContent-Length: 0',
         lambda msg: msg.contacts),
        (b"Content-Length: 0", b"Contact: <sip:c@d?h=a\rb>\r\nContent-Length: 0",
         lambda msg: msg.contacts),
    ],
)
def test_bare_cr_in_a_value_is_a_parse_error(original, replacement, read):
    data = INVITE.replace(original, replacement)
    if read is None:
        with pytest.raises(ParseError):
            parse(data)
        return
    msg = parse(data)
    with pytest.raises(ParseError):
        read(msg)
    msg.decrement_max_forwards()
    assert replacement.split(b"\r\n")[0] in bytes(msg)


def test_malformed_lazy_header_fails_only_when_read():
    data = INVITE.replace(b"Content-Length: 0\r\n",
                          b"Route: <sip:p1.example.com;lr\r\nContent-Length: 0\r\n")
    msg = parse(data)
    assert bytes(msg) == data
    with pytest.raises(ParseError):
        msg.routes  # noqa: B018
    with pytest.raises(ParseError):
        msg.pop_route()
    msg.decrement_max_forwards()
    assert b"\r\nRoute: <sip:p1.example.com;lr\r\n" in bytes(msg)


@pytest.mark.parametrize("vias", [
    [],
    ["SIP/2.0/UDP a.example.com;branch=z9hG4bK1"],
    ["SIP/2.0/UDP a.example.com:5060;branch=z9hG4bK1;received=192.0.2.1;rport=5062"],
    ["SIP/2.0/UDP a.example.com:65536;branch=z9hG4bK1"],
    ["SIP/2.0/UDP a.example.com;branch=z9hG4bK1", "/2.0/UDP x"],
    ["SIP/2.0/UDP a.example.com, SIP/2.0/TCP b.example.com;branch=z9hG4bK2"],
    ["SIP/2.0/UDP a.example.com,"],
    ["sip / 2.0 / udp [2001:db8::1] : 5060 ; branch = z9hG4bK1"],
    ['SIP/2.0/UDP a.example.com;x="quoted value"'],
    ["SIP/2.0/UDP a.example.com;branch="],
])
def test_has_valid_vias_tells_what_reading_every_via_tells(vias):
    data = build({"via": "SIP/2.0/UDP proxy.example.com;branch=z9hG4bKtop"},
                 start=b"SIP/2.0 200 OK")
    lines = data.split(b"\r\n")
    lines[2:2] = [b"Via: " + value.encode() for value in vias]
    msg = parse(b"\r\n".join(lines))
    msg.pop_via()
    try:
        expected = bool(msg.copy().vias)
    except ParseError:
        expected = False
    assert msg.has_valid_vias() is expected
