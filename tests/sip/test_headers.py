"""The header section: case-insensitive lookup, compact forms, multiple values, editing."""

from __future__ import annotations

import pytest
from sip_samples import INVITE, build

from siptm.sip import COMPACT_FORMS, Headers, canonical_name, parse

EXPECTED_COMPACT = {
    "i": "call-id", "f": "from", "t": "to", "v": "via", "m": "contact", "l": "content-length",
    "c": "content-type", "s": "subject", "k": "supported", "e": "content-encoding",
    "o": "event", "u": "allow-events", "r": "refer-to", "x": "session-expires",
    "y": "identity", "b": "referred-by",
}


def test_compact_form_table():
    assert COMPACT_FORMS == EXPECTED_COMPACT
    for short, long in EXPECTED_COMPACT.items():
        assert canonical_name(short) == long
        assert canonical_name(short.upper()) == long
        assert canonical_name(long.upper()) == long
    assert canonical_name(" Via ") == "via"
    assert canonical_name("X-Unknown") == "x-unknown"


def test_case_insensitive_lookup():
    msg = parse(INVITE)
    headers = msg.headers
    for name in ("call-id", "CALL-ID", "Call-Id", "i", "I"):
        assert headers[name] == "a84b4c76e66710@pc33.example.com"
        assert name in headers
    assert headers.get("x-missing") is None and headers.get("x-missing", "d") == "d"
    assert "x-missing" not in headers and 42 not in headers
    with pytest.raises(KeyError):
        headers["x-missing"]


@pytest.mark.parametrize(("short", "long"), sorted(EXPECTED_COMPACT.items()))
def test_every_compact_form_in_a_message(short, long):
    values = {
        "call-id": "cid-1@example.com", "from": "<sip:a@example.com>;tag=ft",
        "to": "<sip:b@example.com>", "via": "SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKcf",
        "contact": "<sip:a@192.0.2.1>", "content-length": "4", "content-type": "text/plain",
        "subject": "hello", "supported": "timer", "content-encoding": "gzip",
        "event": "presence", "allow-events": "dialog", "refer-to": "<sip:c@example.com>",
        "session-expires": "1800", "identity": "abc", "referred-by": "<sip:d@example.com>",
    }
    spelled = {long: short}
    data = build(values, spelled, body=b"body")
    msg = parse(data)
    assert bytes(msg) == data
    assert msg.headers[long] == values[long]
    assert msg.headers[short] == values[long]
    assert msg.headers[short.upper()] == values[long]
    assert short in list(msg.headers)
    # Editing something else keeps the compact header's bytes exactly.
    msg.decrement_max_forwards()
    line = f"{short}: {values[long]}".encode()
    assert line in bytes(msg).split(b"\r\n")
    assert msg.call_id == values["call-id"]
    assert msg.from_tag == "ft"
    assert msg.via.branch == "z9hG4bKcf"
    assert str(msg.contacts[0].uri) == "sip:a@192.0.2.1"
    assert msg.content_length == 4 and msg.body == b"body"


def test_multi_valued_headers():
    data = INVITE.replace(
        b"Content-Length: 0\r\n",
        b"Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>\r\n"
        b"Route: <sip:p3.example.com;lr>\r\n"
        b"Contact: <sip:a@192.0.2.1>;q=0.5, \"Second, One\" <sip:b@192.0.2.2>;expires=30\r\n"
        b"m: <sip:c@192.0.2.3>\r\n"
        b"Content-Length: 0\r\n",
    ).replace(
        b"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK776asdhds\r\n",
        b"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK776asdhds, SIP/2.0/TCP [2001:db8::9]:5061"
        b";branch=z9hG4bKsecond;received=192.0.2.200\r\nv: SIP/2.0/TLS third.example.com;"
        b"branch=z9hG4bKthird;rport=5070\r\n",
    )
    msg = parse(data)
    assert bytes(msg) == data
    assert msg.headers.get_all("route") == [
        "<sip:p1.example.com;lr>, <sip:p2.example.com;lr>", "<sip:p3.example.com;lr>",
    ]
    assert msg.headers.count("Route") == 2 and msg.headers.count("v") == 2
    assert [r.uri.host for r in msg.routes] == ["p1.example.com", "p2.example.com",
                                                "p3.example.com"]
    assert all(r.uri.lr for r in msg.routes)
    contacts = msg.contacts
    assert [str(c.uri) for c in contacts] == ["sip:a@192.0.2.1", "sip:b@192.0.2.2",
                                              "sip:c@192.0.2.3"]
    assert contacts[0].q == 0.5 and contacts[1].q == 1.0
    assert contacts[1].display_name == "Second, One" and contacts[1].expires == 30
    vias = msg.vias
    assert [(v.transport, v.host, v.port) for v in vias] == [
        ("UDP", "192.0.2.1", 5060), ("TCP", "[2001:db8::9]", 5061), ("TLS", "third.example.com",
                                                                   None),
    ]
    assert vias[1].received == "192.0.2.200" and vias[2].rport == 5070
    assert msg.via is vias[0]


def test_star_contact():
    data = INVITE.replace(b"INVITE", b"REGISTER").replace(
        b"Content-Length: 0\r\n", b"Contact: *\r\nExpires: 0\r\nContent-Length: 0\r\n"
    )
    msg = parse(data)
    (star,) = msg.contacts
    assert star.is_star and star.display_name is None
    assert str(star) == "*"


@pytest.mark.parametrize("value", ["*<sip:a@192.0.2.1>", '* <sip:a@192.0.2.1>;x=""',
                                   "*  *<sip:a@192.0.2.1>;expires=0"])
def test_star_as_a_display_name_is_not_the_star_contact(value):
    # Found by the round-trip property: '*' is a token, so it can be a display name.
    msg = parse(build({"contact": value}))
    (contact,) = msg.contacts
    assert not contact.is_star and str(contact.uri) == "sip:a@192.0.2.1"
    assert contact.display_name == value.partition("<")[0].strip()


def test_items_keys_and_iteration_keep_spelling():
    msg = parse(INVITE.replace(b"Max-Forwards: 70", b"MAX-forwards  :   70"))
    assert list(msg.headers)[1] == "MAX-forwards"
    assert msg.headers.items()[1] == ("MAX-forwards", "70")
    assert msg.headers.keys() == list(msg.headers)
    assert len(msg.headers) == 7
    assert msg.max_forwards == 70


def test_add_prepend_insert():
    headers = Headers([("Via", "SIP/2.0/UDP a;branch=z9hG4bK1"), ("To", "<sip:b@x>")])
    headers.add("X-A", "1")
    headers.prepend("Via", "SIP/2.0/UDP top;branch=z9hG4bK0")
    headers.prepend("Record-Route", "<sip:rr@x;lr>")  # absent: goes to the very top
    headers.insert(3, "X-B", "2")
    assert headers.items() == [
        ("Record-Route", "<sip:rr@x;lr>"),
        ("Via", "SIP/2.0/UDP top;branch=z9hG4bK0"),
        ("Via", "SIP/2.0/UDP a;branch=z9hG4bK1"),
        ("X-B", "2"),
        ("To", "<sip:b@x>"),
        ("X-A", "1"),
    ]
    assert headers.modified


def test_set_replaces_first_and_drops_the_rest():
    headers = Headers([("X-A", "1"), ("To", "t"), ("x-a", "2"), ("X-A", "3")])
    headers.set("X-A", "new")
    assert headers.items() == [("X-A", "new"), ("To", "t")]
    headers["X-New"] = "appended"
    assert headers.items()[-1] == ("X-New", "appended")


def test_remove_and_remove_first():
    headers = Headers([("X-A", "1"), ("To", "t"), ("x-a", "2"), ("X-A", "3")])
    assert headers.remove_first("x-a") is True
    assert headers.get_all("X-A") == ["2", "3"]
    assert headers.remove("X-A") == 2
    assert headers.items() == [("To", "t")]
    assert headers.remove("X-A") == 0 and headers.remove_first("X-A") is False
    with pytest.raises(KeyError):
        del headers["X-A"]
    del headers["t"]  # compact form of To
    assert len(headers) == 0


def test_compact_and_long_names_are_one_header():
    headers = Headers([("v", "SIP/2.0/UDP a"), ("Via", "SIP/2.0/UDP b"), ("VIA", "SIP/2.0/UDP c")])
    assert headers.get_all("via") == ["SIP/2.0/UDP a", "SIP/2.0/UDP b", "SIP/2.0/UDP c"]
    assert headers.count("V") == 3
    assert headers.remove("v") == 3


def test_line_breaks_cannot_be_injected():
    headers = Headers()
    for name, value in [("X-A", "a\r\nVia: evil"), ("X-A", "a\nb"), ("X:A", "v"), ("X\r\n", "v")]:
        with pytest.raises(ValueError):
            headers.add(name, value)
    assert len(headers) == 0


def test_editing_one_header_keeps_every_other_byte():
    data = (
        b"INVITE sip:bob@example.com SIP/2.0\r\n"
        b"v :  SIP/2.0/UDP 192.0.2.1:5060 ;branch=z9hG4bK1\r\n"
        b"f: Alice <sip:alice@example.com>;tag=1\r\n"
        b"t:\tBob\r\n <sip:bob@example.com>\r\n"
        b"i: weird  spacing@x\r\n"
        b"CSEQ: 1 INVITE\r\n"
        b"X-Keep:   odd ; value ,, \r\n"
        b"Max-Forwards: 70\r\n"
        b"l: 0\r\n\r\n"
    )
    msg = parse(data)
    msg.headers.set("X-Added", "1")
    out = bytes(msg)
    assert out == data[:-2] + b"X-Added: 1\r\n\r\n"


def test_angle_bracket_inside_a_parameter_of_an_unbracketed_uri():
    # Found by the round-trip property: the '<' in the quoted value is not a name-addr's.
    data = build({"to": 'sip:bob@biloxi.example.com;tag=0;r="x<y:z>";lr',
                  "contact": 'sip:c@192.0.2.1;p="<>", <sip:d@192.0.2.2>'})
    msg = parse(data)
    assert msg.to_tag == "0" and str(msg.to.uri) == "sip:bob@biloxi.example.com"
    assert msg.to.params["r"] == '"x<y:z>"' and "lr" in msg.to.params
    assert [str(c.uri) for c in msg.contacts] == ["sip:c@192.0.2.1", "sip:d@192.0.2.2"]
    assert bytes(msg) == data


@pytest.mark.parametrize(
    ("value", "tag"),
    [
        ("<sip:a@b>;tag=", ""),  # empty: the same whichever way it is read
        ("<sip:a@b>;tag", None),
        ("<sip:a@b> ; tag ; tag = 0", None),  # the first one counts, both ways
        ("<sip:a@b>;tags=1;tag=2;tag", "2"),
        ("<sip:a@b> ; TAG = 5 ;x", "5"),
        ('"A ; tag=1" <sip:a@b>;x=";tag=2";tag=3', "3"),
        ("sip:a@b;x=1;tag=4", "4"),
        ("<sip:a@b;tag=5>", None),
        ("Alice  Smith\t<sip:a@b>;tag=6 ", "6"),  # the plain shape read from the bytes
        ("<sip:a@b> ;x=1;tag = 7\t", "7"),
        ("<sip:a@b>;TaG=9;tag=10", "9"),
        ("<sip:a@b>;x=\u00e9;tag=11", "11"),  # not ASCII: the text path
    ],
)
def test_from_tag_agrees_with_the_parsed_from(value, tag):
    msg = parse(build({"from": value}))
    assert msg.from_tag == tag
    assert msg.from_.tag == tag
    assert msg.from_tag == tag


@pytest.mark.parametrize(
    "line",
    [b"CSeq: 1 INVITE", b"CSeq:\t0042  ACK \t", b"cseq:7 x-Custom.Method!",
     b"CSeq: 4294967295 BYE", b"CSeq : 9 OPTIONS", b"CSeq: 1\r\n INVITE"],
)
def test_cseq_read_from_the_line_as_from_the_text(line):
    from siptm.sip.headers import raw_value
    from siptm.sip.values import cseq_of_line, parse_cseq

    fast, slow = cseq_of_line(line), parse_cseq(raw_value(line))
    assert (fast.number, fast.method, str(fast)) == (slow.number, slow.method, str(slow))


@pytest.mark.parametrize("line", [b"CSeq: 4294967296 BYE", b"CSeq: 1", b"CSeq: x INVITE",
                                  b"CSeq: 12345678901 INVITE", b"CSeq: 1 IN\"VITE"])
def test_bad_cseq_lines_fail_both_ways(line):
    from siptm.errors import ParseError
    from siptm.sip.values import cseq_of_line

    with pytest.raises(ParseError):
        cseq_of_line(line)


def test_line_at_and_copy_see_a_changed_value_as_it_is_now():
    msg = parse(INVITE.replace(b"Via:", b"v :"))
    headers = msg.headers
    i = headers.index("via")
    assert headers.line_at(i) == headers._lines[i]  # untouched: the bytes as received
    msg.via.params["received"] = "192.0.2.7"
    assert headers.line_at(i).startswith(b"v: SIP/2.0/UDP ")
    assert headers.line_at(i).endswith(b";received=192.0.2.7")
    copy = headers.copy()
    assert copy.render_lines() == headers.render_lines()
    copy.add("X-Only-In-Copy", "1")
    msg.via.params["received"] = "192.0.2.8"  # the copy keeps what it was given
    assert b"X-Only-In-Copy" not in b"".join(headers.render_lines())
    assert copy.line_at(i).endswith(b";received=192.0.2.7")
