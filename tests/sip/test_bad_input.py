"""Hostile input: huge headers, many lines, deep nesting, huge numbers. Each ends in a message
or a ParseError, in time linear in its size."""

from __future__ import annotations

import contextlib
import gc
import importlib
import time

import pytest
from sip_samples import INVITE, build

from siptm.sip import Message, ParseError, parse

ACCESSORS = ("via", "vias", "cseq", "call_id", "from_", "to", "from_tag", "to_tag", "contacts",
             "routes", "record_routes", "max_forwards", "content_length", "content_type")


def outcome(data: bytes) -> Message | ParseError:
    """Parse and read every accessor; only a message or a ParseError may come out."""
    try:
        msg = parse(data)
    except ParseError as error:
        assert error.__cause__ is None, f"parser bug behind {error!r}: {error.__cause__!r}"
        return error
    for name in ACCESSORS + (("uri",) if msg.is_request else ()):
        with contextlib.suppress(ParseError):
            getattr(msg, name)
    assert isinstance(bytes(msg), bytes)
    return msg


def with_header(line: bytes) -> bytes:
    return INVITE.replace(b"Content-Length: 0\r\n", line + b"\r\nContent-Length: 0\r\n")


def time_per_parse(data: bytes, min_total: float = 0.03) -> float:
    """CPU seconds per ``outcome(data)``: the best of three loops each long enough to measure
    (CPU time, not wall time, so other processes on a busy machine do not pass for a
    quadratic blow-up; and without the cyclic GC, whose pauses depend on what else the
    test process holds, not on the parser)."""

    def loop(count: int) -> float:
        start = time.process_time()
        for _ in range(count):
            outcome(data)
        return time.process_time() - start

    gc.collect()
    gc.disable()
    try:
        count = 1
        elapsed = loop(count)
        while elapsed < min_total:
            count *= 2
            elapsed = loop(count)
        return min(elapsed, loop(count), loop(count)) / count
    finally:
        gc.enable()


# Each maker builds an input of about ``n`` units of its hostile pattern.
MAKERS = {
    "header lines": lambda n: with_header(b"\r\n".join(b"X-H%d: v" % i for i in range(n))),
    "via lines": lambda n: with_header(
        b"\r\n".join(b"Via: SIP/2.0/UDP h%d;branch=z9hG4bK%d" % (i, i) for i in range(n))),
    "folded lines": lambda n: with_header(b"Subject: s" + b"\r\n folded" * n),
    "folded contact": lambda n: with_header(b"Contact: <sip:a@b>" + b"\r\n ;p=1" * n),
    "long value": lambda n: with_header(b"Subject: " + b"x" * (8 * n)),
    "long call-id": lambda n: INVITE.replace(b"a84b4c76e66710", b"c" * (8 * n)),
    "many contacts": lambda n: with_header(b"Contact: " + b"<sip:a@b>, " * n + b"<sip:c@d>"),
    "many routes": lambda n: with_header(b"Route: " + b"<sip:p;lr>," * n + b"<sip:q;lr>"),
    "many vias on a line": lambda n: INVITE.replace(
        b"Via: ", b"Via: " + b"SIP/2.0/UDP h;branch=z9hG4bKx, " * n),
    "many params": lambda n: with_header(b"Contact: <sip:a@b>" + b";p=v" * n),
    "many uri params": lambda n: with_header(b"Contact: <sip:a@b" + b";p=v" * n + b">"),
    "many via params": lambda n: INVITE.replace(b"branch=", b"x=1;" * n + b"branch="),
    "quotes": lambda n: with_header(b"Contact: " + b'"' * n),
    "escaped quotes": lambda n: with_header(b'Contact: "' + b'\\"' * n + b'" <sip:a@b>'),
    "open brackets": lambda n: with_header(b"Contact: " + b"<" * n + b"sip:a@b" + b">" * n),
    "nested mix": lambda n: with_header(b"Contact: " + b'<"(,;' * n),
    "commas": lambda n: with_header(b"Contact: " + b"," * n),
    "semicolons": lambda n: with_header(b"Contact: <sip:a@b>" + b";" * n),
    "quoted param values": lambda n: with_header(b"Contact: <sip:a@b>" + b';a="' * n),
    "from display": lambda n: INVITE.replace(b"From: Alice", b"From: " + b"Alice " * n),
    "from quotes": lambda n: INVITE.replace(b"From: Alice", b'From: "' + b'\\\\' * n + b'"'),
    "to params": lambda n: INVITE.replace(b"To: Bob <sip:bob@biloxi.example.com>",
                                          b"To: <sip:b@x>" + b";tag=1" * n),
    "leading crlfs": lambda n: b"\r\n" * n + INVITE,
    "empty lines": lambda n: b"INVITE sip:a@b SIP/2.0" + b"\n\r" * n,
    "colons": lambda n: with_header(b":" * n),
    "long header name": lambda n: with_header(b"X" * (8 * n) + b": v"),
    "long method": lambda n: INVITE.replace(b"INVITE", b"I" * (8 * n)),
    "long uri": lambda n: INVITE.replace(b"sip:bob@", b"sip:" + b"b" * (8 * n) + b"@", 1),
    "long reason": lambda n: b"SIP/2.0 200 " + b"O" * (8 * n) + INVITE[INVITE.index(b"\r\n"):],
}


@pytest.mark.parametrize("kind", sorted(MAKERS))
def test_hostile_input_is_linear(kind):
    make = MAKERS[kind]
    small, large = make(10_000), make(40_000)
    t_small = time_per_parse(small)
    assert t_small < 2.0, f"{kind}: {t_small:.3f}s for {len(small)} bytes"
    t_large = time_per_parse(large)
    # 4x the input may not cost much more than 4x the time (quadratic would be 16x).
    assert t_large < 10 * t_small, f"{kind}: {t_small:.5f}s -> {t_large:.5f}s"


def test_64k_header_value():
    data = with_header(b"Subject: " + b"s" * 65536)
    msg = outcome(data)
    assert isinstance(msg, Message) and len(msg.headers["Subject"]) == 65536
    assert bytes(msg) == data


def test_64k_of_contacts_parse():
    data = with_header(b"Contact: " + b", ".join(b"<sip:u%d@h>" % i for i in range(6000)))
    assert len(data) > 65536
    msg = parse(data)
    assert len(msg.contacts) == 6000 and msg.contacts[-1].uri.user == "u5999"


def test_ten_thousand_header_lines():
    data = with_header(b"\r\n".join(b"X-H%d: v%d" % (i, i) for i in range(10_000)))
    start = time.perf_counter()
    msg = parse(data)
    assert msg.headers["x-h9999"] == "v9999" and len(msg.headers) == 10_007
    assert bytes(msg) == data
    msg.decrement_max_forwards()
    assert bytes(msg) == data.replace(b"Max-Forwards: 70", b"Max-Forwards: 69")
    assert time.perf_counter() - start < 2.0


def test_ten_thousand_vias():
    vias = b"\r\n".join(b"Via: SIP/2.0/UDP h%d;branch=z9hG4bK%d" % (i, i) for i in range(10_000))
    data = INVITE.replace(b"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK776asdhds", vias)
    msg = parse(data)
    assert len(msg.vias) == 10_000 and msg.vias[-1].host == "h9999"
    msg.pop_via()
    assert len(parse(bytes(msg)).vias) == 9_999


@pytest.mark.parametrize(
    ("values", "readback"),
    [
        ({"cseq": "4294967295 INVITE"}, ("cseq.number", 4294967295)),
        ({"cseq": "0000000001 INVITE"}, ("cseq.number", 1)),
        ({"max-forwards": "255"}, ("max_forwards", 255)),
        ({"max-forwards": "0000000000070"}, ("max_forwards", 70)),
        ({"max-forwards": "0" * 5000 + "70"}, ("max_forwards", 70)),
        ({"content-length": "0000000000"}, ("content_length", 0)),
    ],
)
def test_big_but_valid_numbers(values, readback):
    msg = parse(build(values))
    path, expected = readback
    value = msg
    for part in path.split("."):
        value = getattr(value, part)
    assert value == expected


def test_unneeded_huge_number_is_kept_as_text():
    msg = parse(build({"expires": "9" * 5000}))
    assert msg.headers["Expires"] == "9" * 5000


@pytest.mark.parametrize(
    "values",
    [
        {"cseq": "4294967296 INVITE"},
        {"cseq": "99999999999999999999999 INVITE"},
        {"cseq": "9" * 5000 + " INVITE"},
        {"max-forwards": "256"},
        {"max-forwards": "9" * 5000},
        {"max-forwards": "٧٠"},  # Arabic-Indic digits are not DIGIT
        {"content-length": "9" * 5000},
        {"content-length": "4294967296"},
        {"content-length": "¹"},
        {"cseq": "١ INVITE"},
        {"via": "SIP/2.0/UDP host:999999;branch=z9hG4bK1"},
        {"via": "SIP/2.0/UDP host:" + "9" * 5000 + ";branch=z9hG4bK1"},
    ],
)
def test_huge_or_foreign_numbers_rejected(values):
    data = build(values)
    with pytest.raises(ParseError) as info:
        parse(data)
    assert info.value.__cause__ is None


@pytest.mark.parametrize(
    ("param", "attr"),
    [
        ("expires=" + "9" * 5000, "expires"),
        ("expires=²", "expires"),
        ("expires=٣", "expires"),
        ("q=" + "9" * 5000, "q"),
        ("q=nan", "q"),
    ],
)
def test_huge_contact_params_never_crash(param, attr):
    msg = parse(build({"contact": "<sip:a@b>;" + param}))
    value = getattr(msg.contacts[0], attr)
    assert value is None or isinstance(value, int | float)


def test_contact_expires_reads_as_delta_seconds():
    msg = parse(build({"contact": "<sip:a@b>;expires=3600, <sip:c@d>;expires=0, <sip:e@f>"}))
    assert [c.expires for c in msg.contacts] == [3600, 0, None]
    msg = parse(build({"contact": "<sip:a@b>;expires=280297596632815"}))
    assert msg.contacts[0].expires == 2**32 - 1


@pytest.mark.parametrize("rport", ["9" * 5000, "²", "٣", "-1", "", "abc"])
def test_strange_rport_values_never_crash(rport):
    data = INVITE.replace(b"branch=z9hG4bK776asdhds",
                          f"branch=z9hG4bK776asdhds;rport={rport}".encode())
    msg = outcome(data)
    if isinstance(msg, Message):
        assert msg.via.rport is None and msg.via.has_rport


def test_status_codes():
    tail = INVITE[INVITE.index(b"\r\n"):]
    for line in (b"SIP/2.0 4294967301 big", b"SIP/2.0 99 low", b"SIP/2.0 700 high",
                 b"SIP/2.0 2OO OK", b"SIP/2.0 ", b"SIP/2.0", b"SIP/2.0 \xd9\xa2\xd9\xa0\xd9\xa0 x"):
        with pytest.raises(ParseError):
            parse(line + tail)
    assert parse(b"SIP/2.0 699 x" + tail).status == 699
    assert parse(b"SIP/2.0 100" + tail).reason == ""


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\r\n",
        b"\r\n\r\n",
        b"\r\n" * 1000,
        b"INVITE",
        b"INVITE sip:a@b SIP/2.0",
        b"INVITE sip:a@b SIP/2.0\r\n\r\n",
        b"\x00" * 100,
        b"\xff\xfe" * 100,
        b" INVITE sip:a@b SIP/2.0\r\n\r\n",
        INVITE.replace(b"\r\n", b"\n"),
        INVITE.replace(b"\r\n", b"\r"),
        INVITE.replace(b"Via:", b" Via:"),
        INVITE.replace(b"Via:", b"Via\x00:"),
        INVITE.replace(b"Via:", b"V\xffia:"),
        INVITE.replace(b"Call-ID:", b"Call-ID :"),
        INVITE.replace(b"Call-ID: a84b4c76e66710@pc33.example.com", b"Call-ID:   "),
        INVITE.replace(b"CSeq: 314159 INVITE", b"CSeq: 314159 INVITE extra"),
        INVITE.replace(b"To: Bob <sip:bob@biloxi.example.com>", b"To: <sip:b@x"),
        INVITE.replace(b"To: Bob <sip:bob@biloxi.example.com>", b'To: "Bob <sip:b@x>'),
        INVITE.replace(b"From: Alice", b"From: \xff\xfe"),
        INVITE.replace(b"z9hG4bK776asdhds", b"\xff\xfe"),
        INVITE.replace(b"z9hG4bK776asdhds", b'"unterminated'),
        INVITE.replace(b"sip:bob@biloxi.example.com SIP", b"sip:\xff@\xfe SIP"),
        INVITE + b"\x00" * 1000,
    ],
)
def test_odd_inputs_end_in_message_or_parse_error(data):
    outcome(data)


def test_bare_lf_message_parses():
    data = INVITE.replace(b"\r\n", b"\n")
    msg = parse(data)
    assert msg.via.branch == "z9hG4bK776asdhds" and msg.call_id.endswith("example.com")
    assert bytes(msg) == data
    msg.decrement_max_forwards()
    assert parse(bytes(msg)).max_forwards == 69


def test_leading_crlfs_are_skipped():
    msg = parse(b"\r\n\r\n" + INVITE)
    assert msg.method == "INVITE" and bytes(msg) == INVITE


def test_max_forwards_read_after_the_header_was_replaced():
    msg = parse(INVITE)
    msg.headers.set("Max-Forwards", "0" * 5000 + "7")
    assert msg.max_forwards == 7
    for value in ("9" * 5000, "256", "٧", "-1"):
        msg.headers.set("Max-Forwards", value)
        with pytest.raises(ParseError):
            msg.max_forwards  # noqa: B018


def test_header_name_cache_stays_small(emptied):
    module = importlib.import_module("siptm.sip.parse")  # (the name is shadowed by parse())
    cache = emptied(module._NAME_CACHE)  # start from a fresh cache: other tests may have
    cache.update(module._seed_names())  # filled it
    for i in range(300):
        name = b"X-%d-" % i + b"n" * 60_000
        msg = parse(with_header(name + b": v"))
        assert msg.headers.get(name.decode()) == "v"
    assert sum(len(name) for name in cache) < 4096 * 100


def test_header_layout_cache_stays_small(emptied):
    """Each distinct sequence of header names is remembered, up to a bound; a peer
    sending ever new layouts fills it, and every message still parses right."""
    module = importlib.import_module("siptm.sip.parse")
    cache = emptied(module._SHAPES)
    for i in range(module._SHAPE_CACHE_LIMIT + 200):  # known names in ever new orders
        extra = b"\r\n".join(b"Subject: %d" % j if i >> j & 1 else b"Accept: %d" % j
                              for j in range(10))
        msg = parse(with_header(extra))
        assert len(msg.headers.get_all("Subject")) == bin(i).count("1")
        assert msg.call_id
    assert len(cache) == module._SHAPE_CACHE_LIMIT
    long_layout = b"\r\n".join(b"X-L%d: v" % j for j in range(module._SHAPE_MAX_HEADERS + 5))
    cache.clear()
    assert parse(with_header(long_layout)).headers.get("X-L44") == "v"
    assert not cache  # too many headers to be remembered


def test_status_line_cache_stays_small(emptied):
    module = importlib.import_module("siptm.sip.parse")
    cache = emptied(module._STATUS_LINES)
    base = (b"Via: SIP/2.0/UDP host.example.com;branch=z9hG4bK-1\r\n"
            b"From: <sip:a@example.com>;tag=1\r\nTo: <sip:b@example.com>;tag=2\r\n"
            b"Call-ID: c1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n")
    for i in range(module._STATUS_CACHE_LIMIT + 100):
        reason = b"Busy %d" % i + (b"x" * 80 if i % 2 else b"")
        msg = parse(b"SIP/2.0 486 " + reason + b"\r\n" + base)
        assert msg.status == 486 and msg.reason == reason.decode()
    assert len(cache) <= module._STATUS_CACHE_LIMIT
    assert all(len(line) <= module._STATUS_LINE_MAX_LEN for line in cache)
    with pytest.raises(ParseError):  # a bad status line is never remembered as good
        parse(b"SIP/2.0 99 Odd\r\n" + base)
    assert b"SIP/2.0 99 Odd" not in cache
