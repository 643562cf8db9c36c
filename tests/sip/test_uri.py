"""SIP/SIPS/TEL and opaque URIs: parts, parameters, headers, escapes, editing, equality."""

from __future__ import annotations

import pytest

from siptm.sip import AbsoluteUri, Params, ParseError, SipUri, TelUri, parse_uri, unescape


def test_full_sip_uri_parts():
    text = (
        "sips:alice:secret@Atlanta.example.com:5061;transport=TCP;lr;maddr=239.255.255.1;ttl=15"
        ";user=phone;method=REGISTER;x-custom=Val?Subject=hi%20there&Priority=urgent"
    )
    uri = parse_uri(text)
    assert isinstance(uri, SipUri)
    assert uri.scheme == "sips" and uri.secure
    assert uri.user == "alice" and uri.password == "secret"
    assert uri.host == "Atlanta.example.com" and uri.port == 5061
    assert uri.hostport == "Atlanta.example.com:5061"
    assert uri.transport == "tcp" and uri.params["transport"] == "TCP"
    assert uri.lr and uri.params["lr"] is None
    assert uri.maddr == "239.255.255.1"
    assert uri.params["ttl"] == "15" and uri.params["user"] == "phone"
    assert uri.params["METHOD"] == "REGISTER" and uri.params["x-custom"] == "Val"
    assert list(uri.params) == ["transport", "lr", "maddr", "ttl", "user", "method", "x-custom"]
    assert uri.headers == {"Subject": "hi%20there", "Priority": "urgent"}
    assert unescape(uri.headers["Subject"]) == "hi there"
    assert not uri.dirty
    assert str(uri) == text


@pytest.mark.parametrize(
    ("text", "host", "port"),
    [
        ("sip:example.com", "example.com", None),
        ("sip:bob@example.com:5060", "example.com", 5060),
        ("sip:192.0.2.4", "192.0.2.4", None),
        ("sip:bob@192.0.2.4:65535", "192.0.2.4", 65535),
        ("sip:[2001:db8::10]", "[2001:db8::10]", None),
        ("sip:bob@[2001:db8::10]:5070", "[2001:db8::10]", 5070),
        ("sip:[::ffff:192.0.2.1]:5060;transport=udp", "[::ffff:192.0.2.1]", 5060),
        ("SIP:host-with_underscore.example", "host-with_underscore.example", None),
    ],
)
def test_hosts_and_ports(text, host, port):
    uri = parse_uri(text)
    assert uri.host == host and uri.port == port
    assert str(uri) == text


def test_no_user_part():
    uri = parse_uri("sip:proxy.example.com;lr")
    assert uri.user is None and uri.password is None and uri.lr
    assert uri.transport is None and uri.maddr is None


def test_escapes_kept_as_written():
    uri = parse_uri("sip:%61lice%20smith@example.com")
    assert uri.user == "%61lice%20smith"
    assert unescape(uri.user) == "alice smith"
    assert unescape("%00") == "\x00"
    assert unescape("no-escapes") == "no-escapes"
    assert unescape("%E5%A4%A7") == "大"
    assert unescape("%ff").encode("utf-8", "surrogateescape") == b"\xff"


def test_user_may_hold_semicolon_question_mark_and_slash():
    uri = parse_uri("sip:user;par=u%40example.net@example.com;lr")
    assert uri.user == "user;par=u%40example.net"
    assert uri.host == "example.com" and uri.lr
    uri = parse_uri("sip:a?b/c@example.com")
    assert uri.user == "a?b/c" and uri.headers == {}


def test_telephone_subscriber_user():
    uri = parse_uri("sip:+1-212-555-1212:1234@gateway.com;user=phone")
    assert uri.user == "+1-212-555-1212" and uri.password == "1234"
    assert uri.params["user"] == "phone"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "example.com",
        "sip:",
        "sip:@example.com",
        "sip:user@",
        "sip:user@exa mple.com",
        "sip:user@example.com:99999",
        "sip:user@example.com:50a",
        "sip:user@[2001:db8::1",
        "sip:us er@example.com",
        "sip:user@example.com;",
        "sip:user@example.com;;lr",
        "sip:user@example.com?=v",
        "sip:user:pa@ss@example.com:x",
        "tel:",
        "tel:+1 555",
        "http:",
        "http://a b",
        "urn:<x>",
        # whitespace, controls, quotes and angle brackets never belong in a URI
        "sip:a@b;x=a b",
        "sip:a@b;x=a\rb",
        "sip:a@b;x=\n",
        "sip:a@b;x\t=1",
        "sip:a@b;x=\x00",
        "sip:a@b;x=\x7f",
        "sip:a@b?h=a\nb",
        "sip:a@b?h=a b",
        "sip:a@b;x=<",
        'sip:a@b;x="q"',
        "sip:a@b;lr\r",
        "sips:a@b ",
        "tel:+1;x=\r",
        "tel:+1;x=a b",
    ],
)
def test_malformed_uris(text):
    with pytest.raises(ParseError):
        parse_uri(text)


def test_tel_uri():
    uri = parse_uri("tel:+1-201-555-0123;ext=1234;phone-context=example.com")
    assert isinstance(uri, TelUri)
    assert uri.scheme == "tel" and uri.number == "+1-201-555-0123"
    assert uri.params["ext"] == "1234" and uri.params["phone-context"] == "example.com"
    assert str(uri) == "tel:+1-201-555-0123;ext=1234;phone-context=example.com"
    uri.number = "+1-201-555-9999"
    assert str(uri) == "tel:+1-201-555-9999;ext=1234;phone-context=example.com"
    assert parse_uri("tel:7042;phone-context=example.com") == parse_uri(
        "TEL:7042;PHONE-CONTEXT=EXAMPLE.COM"
    )
    assert parse_uri("tel:1") != parse_uri("tel:2")


@pytest.mark.parametrize(
    "text",
    ["http://www.example.com/a?b=c", "urn:service:sos", "isbn:2983792873", "name:John_Smith",
     "soap.beep://192.0.2.103:3002", "mailto:a@example.com"],
)
def test_other_schemes_are_opaque(text):
    uri = parse_uri(text)
    assert isinstance(uri, AbsoluteUri)
    assert str(uri) == text and uri.scheme == text.split(":")[0]
    assert not uri.dirty
    assert uri == AbsoluteUri(text) and uri.copy() == uri


# --- editing ------------------------------------------------------------------------------


def test_untouched_uri_renders_exactly():
    text = "SIP:Bob@BILOXI.example.com:05060;Transport=UDP;LR"
    uri = parse_uri(text)
    assert str(uri) == text
    uri.params.get("transport")  # reading does not dirty
    assert not uri.dirty and str(uri) == text


def test_host_assignment_rerenders():
    uri = parse_uri("sip:bob@biloxi.example.com;transport=tcp?Subject=x")
    uri.host = "192.0.2.7"
    assert uri.dirty
    assert str(uri) == "sip:bob@192.0.2.7;transport=tcp?Subject=x"
    uri.port = 5080
    assert str(uri) == "sip:bob@192.0.2.7:5080;transport=tcp?Subject=x"
    uri.user = None
    assert str(uri) == "sip:192.0.2.7:5080;transport=tcp?Subject=x"


def test_param_edits_rerender():
    uri = parse_uri("sip:proxy.example.com;transport=udp")
    uri.params["lr"] = None
    assert str(uri) == "sip:proxy.example.com;transport=udp;lr"
    uri.params["TRANSPORT"] = "tcp"  # same parameter, case-insensitively; keeps its spelling
    assert str(uri) == "sip:proxy.example.com;transport=tcp;lr"
    del uri.params["transport"]
    assert str(uri) == "sip:proxy.example.com;lr"
    assert uri.lr and uri.transport is None


def test_password_scheme_and_headers_edits():
    uri = parse_uri("sip:alice@atlanta.example.com")
    uri.password = "pw"
    uri.scheme = "sips"
    uri.headers = {"Subject": "meeting"}
    assert str(uri) == "sips:alice:pw@atlanta.example.com?Subject=meeting"
    assert uri.secure


def test_constructed_uri():
    uri = SipUri("example.com", user="bob", port=5060, params={"transport": "tcp", "lr": None})
    assert str(uri) == "sip:bob@example.com:5060;transport=tcp;lr"
    assert SipUri("[2001:db8::1]").hostport == "[2001:db8::1]"
    assert parse_uri(str(uri)) == uri


def test_copy_is_independent():
    uri = parse_uri("sip:bob@example.com;lr")
    dup = uri.copy()
    dup.host = "other.example.com"
    assert str(uri) == "sip:bob@example.com;lr"
    assert str(dup) == "sip:bob@other.example.com;lr"


def test_params_mapping():
    params = Params([("Transport", "UDP"), ("lr", None)])
    assert params["transport"] == "UDP" and "LR" in params and 5 not in params
    assert params.lowered() == {"transport": "UDP", "lr": None}
    assert params == Params([("TRANSPORT", "UDP"), ("LR", None)])
    assert params.render() == ";Transport=UDP;lr"
    assert not params.dirty
    with pytest.raises(KeyError):
        params["maddr"]
    with pytest.raises(KeyError):
        del params["maddr"]
    assert not params.dirty


# --- RFC 3261 §19.1.4 comparison ---------------------------------------------------------------

EQUIVALENT = [
    ("sip:%61lice@atlanta.com;transport=TCP", "sip:alice@AtLanTa.CoM;Transport=tcp"),
    ("sip:carol@chicago.com", "sip:carol@chicago.com;newparam=5"),
    ("sip:carol@chicago.com", "sip:carol@chicago.com;security=on"),
    ("sip:carol@chicago.com;newparam=5", "sip:carol@chicago.com;security=on"),
    ("sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com",
     "sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com"),
    ("sip:alice@atlanta.com?subject=project%20x&priority=urgent",
     "sip:alice@atlanta.com?priority=urgent&subject=project%20x"),
]

DIFFERENT = [
    ("SIP:ALICE@AtLanTa.CoM;Transport=udp", "sip:alice@AtLanTa.CoM;Transport=UDP"),
    ("sip:bob@biloxi.com", "sip:bob@biloxi.com:5060"),
    ("sip:bob@biloxi.com", "sip:bob@biloxi.com;transport=udp"),
    ("sip:bob@biloxi.com", "sip:bob@biloxi.com:6000;transport=tcp"),
    ("sip:carol@chicago.com", "sip:carol@chicago.com?Subject=next%20meeting"),
    ("sip:bob@phone21.boxesbybob.com", "sip:bob@192.0.2.4"),
    ("sip:alice@atlanta.com", "sips:alice@atlanta.com"),
    ("sip:alice:pw@atlanta.com", "sip:alice@atlanta.com"),
    ("sip:alice@atlanta.com;maddr=192.0.2.1", "sip:alice@atlanta.com"),
    ("sip:alice@atlanta.com;ttl=1", "sip:alice@atlanta.com"),
    ("sip:alice@atlanta.com;user=phone", "sip:alice@atlanta.com"),
    ("sip:alice@atlanta.com;method=INVITE", "sip:alice@atlanta.com"),
    ("sip:alice@atlanta.com;x=1", "sip:alice@atlanta.com;x=2"),
]


@pytest.mark.parametrize(("a", "b"), EQUIVALENT)
def test_rfc3261_equivalent(a, b):
    assert parse_uri(a) == parse_uri(b)
    assert parse_uri(b) == parse_uri(a)


@pytest.mark.parametrize(("a", "b"), DIFFERENT)
def test_rfc3261_not_equivalent(a, b):
    assert parse_uri(a) != parse_uri(b)
    assert parse_uri(b) != parse_uri(a)


def test_equality_across_types():
    assert parse_uri("sip:a@b") != parse_uri("tel:+1")
    assert parse_uri("tel:+1") != parse_uri("http://x")
    assert parse_uri("sip:a@b") != "sip:a@b"
