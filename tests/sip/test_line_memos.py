"""The parser's line memos (siptm.sip.memo): a line read before gives what reading it
afresh gives, mutable values are never shared between messages, errors are never
remembered, and each memo stays bounded."""

from __future__ import annotations

import importlib

import pytest

from siptm.errors import ParseError
from siptm.sip import memo, parse
from siptm.sip.values import cseq_of_line, line_tag

parse_module = importlib.import_module("siptm.sip.parse")  # (parse() shadows the name)
values_module = importlib.import_module("siptm.sip.values")


def request(from_line=b"From: <sip:a@example.com>;tag=1", cseq=b"CSeq: 7 INVITE",
            start=b"INVITE sip:b@example.com SIP/2.0", extra=b""):
    return (start + b"\r\nVia: SIP/2.0/UDP h.example.com;branch=z9hG4bK1\r\n" + from_line
            + b"\r\nTo: <sip:b@example.com>\r\nCall-ID: c1\r\n" + cseq
            + b"\r\nMax-Forwards: 70\r\n" + extra + b"Content-Length: 0\r\n\r\n")


def test_a_remembered_cseq_is_a_new_object_each_time():
    first, second = parse(request()), parse(request())
    assert first.cseq is not second.cseq
    first.cseq.number = 8
    assert second.cseq.number == 7 and str(second.cseq) == "7 INVITE"
    assert parse(request()).cseq.number == 7


@pytest.mark.parametrize("line, tag", [
    (b"From: <sip:a@example.com>;tag=abc", "abc"),
    (b"From: <sip:a@example.com>", None),
    (b"From: <sip:a@example.com>;tag=", ""),  # an empty tag is not "no tag"
    (b'From: "A, B" <sip:a@example.com>;x=1;tag=q', "q"),
])
def test_a_remembered_tag_is_what_reading_the_line_gives(line, tag):
    assert line_tag(line) == tag
    assert line_tag(line) == tag  # the second read comes from the memo
    assert line in values_module._LINE_TAGS


def test_errors_are_never_remembered():
    bad = request(cseq=b"CSeq: 99999999999 INVITE")
    for _ in range(2):
        with pytest.raises(ParseError):
            parse(bad)
    assert b"CSeq: 99999999999 INVITE" not in values_module._CSEQ_LINES
    with pytest.raises(ParseError):
        cseq_of_line(b"CSeq: x INVITE")
    bad_line = b"INVITE sip:b@example.com SIP/3.0"
    for _ in range(2):
        with pytest.raises(ParseError) as info:
            parse(request(start=bad_line))
        assert info.value.status == 505
    assert bad_line not in parse_module._REQUEST_LINES


def test_every_memo_stays_bounded(emptied):
    """Emptied when full: ever new lines keep every memo at most MEMO_SIZE entries."""
    memos = {
        "tags": (values_module, "_LINE_TAGS"), "cseq": (values_module, "_CSEQ_LINES"),
        "ints": (parse_module, "_INT_LINES"), "request": (parse_module, "_REQUEST_LINES"),
        "keys": (parse_module, "_LINE_KEYS"),
    }
    fresh = {name: emptied(getattr(module, attr)) for name, (module, attr) in memos.items()}
    for i in range(memo.MEMO_SIZE + 300):
        msg = parse(request(
            from_line=b"From: <sip:a@example.com>;tag=t%d" % i, cseq=b"CSeq: %d INVITE" % i,
            start=b"INVITE sip:b%d@example.com SIP/2.0" % i))
        assert msg.from_tag == f"t{i}" and msg.cseq.number == i
        assert msg.uri_text == f"sip:b{i}@example.com"
    for name, cache in fresh.items():
        assert 0 < len(cache) <= memo.MEMO_SIZE, name


def test_long_lines_are_read_every_time(emptied):
    tags = emptied(values_module._LINE_TAGS)
    long_line = b"From: <sip:" + b"a" * memo.MEMO_MAX_LINE + b"@example.com>;tag=z"
    assert parse(request(from_line=long_line)).from_tag == "z"
    assert long_line not in tags


def test_header_names_are_remembered_per_line_but_not_for_via_lines(emptied):
    keys = emptied(parse_module._LINE_KEYS)
    first, second = parse(request()), parse(request(extra=b"Subject: hi\r\n"))
    assert keys[b"CSeq: 7 INVITE"] == "cseq" and keys[b"Subject: hi"] == "subject"
    assert not [line for line in keys if line.startswith(b"Via")]
    assert second.headers.get("Subject") == "hi" and first.headers.get("Subject") is None
    assert list(second.headers) == [*list(first.headers)[:-1], "Subject", "Content-Length"]


def test_a_bad_header_line_is_never_remembered(emptied):
    keys = emptied(parse_module._LINE_KEYS)
    for _ in range(2):
        with pytest.raises(ParseError):
            parse(request(extra=b"Bad Name: x\r\n"))
    assert b"Bad Name: x" not in keys
