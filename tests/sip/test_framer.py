"""StreamFramer: cutting a TCP/TLS byte stream into messages."""

from __future__ import annotations

import pytest
from sip_samples import INVITE, INVITE_15, build

from siptm.sip import PING, PONG, ParseError, StreamFramer, parse

MESSAGE = build({"content-type": "text/plain"}, body=b"hello\r\n\r\nworld")


def feed_all(framer: StreamFramer, chunks) -> list[bytes]:
    frames = []
    for chunk in chunks:
        frames.extend(framer.feed(chunk))
    return frames


def test_one_byte_at_a_time():
    framer = StreamFramer()
    stream = MESSAGE + INVITE_15
    frames = []
    for i in range(len(stream)):
        got = framer.feed(stream[i:i + 1])
        if i < len(MESSAGE) - 1:
            assert got == [] and framer.buffered == i + 1
        frames.extend(got)
    assert frames == [MESSAGE, INVITE_15]
    assert framer.buffered == 0
    assert parse(frames[0]).body == b"hello\r\n\r\nworld"


def test_several_messages_in_one_chunk():
    framer = StreamFramer()
    assert framer.feed(MESSAGE + INVITE + INVITE_15 + MESSAGE[:10]) == [MESSAGE, INVITE, INVITE_15]
    assert framer.buffered == 10
    assert framer.feed(MESSAGE[10:]) == [MESSAGE]


def test_arbitrary_chunking():
    stream = (INVITE + MESSAGE + INVITE_15) * 3
    for size in (2, 3, 7, 64, 1000):
        framer = StreamFramer()
        frames = feed_all(framer, [stream[i:i + size] for i in range(0, len(stream), size)])
        assert frames == [INVITE, MESSAGE, INVITE_15] * 3, size


def test_keepalive_ping_between_messages():
    framer = StreamFramer()
    assert framer.feed(PING) == [PING]
    assert framer.feed(PING + INVITE + PING) == [PING, INVITE, PING]
    assert framer.buffered == 0
    assert PONG == b"\r\n"


def test_ping_split_across_chunks():
    framer = StreamFramer()
    assert framer.feed(b"\r\n") == []
    assert framer.feed(b"\r") == []
    assert framer.feed(b"\n") == [PING]
    assert framer.buffered == 0


def test_stray_crlf_ignored():
    framer = StreamFramer()
    assert framer.feed(PONG + INVITE) == [INVITE]  # a pong (single CRLF) from the peer
    assert framer.feed(INVITE + PONG) == [INVITE]
    assert framer.feed(INVITE) == [INVITE]
    assert framer.buffered == 0


def test_message_without_content_length_rejected():
    framer = StreamFramer()
    no_cl = INVITE.replace(b"Content-Length: 0\r\n", b"")
    with pytest.raises(ParseError) as info:
        framer.feed(no_cl)
    assert "Content-Length" in str(info.value)
    assert framer.broken is info.value and framer.buffered == 0


def test_whole_messages_before_a_bad_one_are_returned_then_the_stream_is_broken():
    framer = StreamFramer()
    no_cl = INVITE.replace(b"Content-Length: 0\r\n", b"")
    assert framer.feed(MESSAGE + PING + INVITE + no_cl) == [MESSAGE, PING, INVITE]
    assert framer.broken is not None and "Content-Length" in str(framer.broken)
    assert framer.buffered == 0
    with pytest.raises(ParseError) as info:
        framer.feed(INVITE)  # nothing more is read from a broken stream
    assert info.value is framer.broken


@pytest.mark.parametrize("line", [b"l: 5", b"CONTENT-LENGTH:5", b"Content-Length  :  5  "])
def test_content_length_spellings(line):
    data = INVITE.replace(b"Content-Length: 0", line) + b"12345"
    assert StreamFramer().feed(data + INVITE) == [data, INVITE]


def test_folded_header_is_not_a_content_length():
    # " l: 5" continues the Subject value; only the real Content-Length frames the message.
    data = INVITE.replace(b"Content-Length: 0", b"Subject: a\r\n l: 5\r\nContent-Length: 0")
    assert StreamFramer().feed(data + INVITE) == [data, INVITE]
    assert parse(data).headers["Subject"] == "a l: 5"


@pytest.mark.parametrize("line", [b"Content-Length:\r\n 5", b"l :\r\n\t5 \r\n  "])
def test_a_folded_content_length_frames_the_message_as_parse_reads_it(line):
    data = INVITE.replace(b"Content-Length: 0", line) + b"12345"
    assert StreamFramer().feed(data + INVITE) == [data, INVITE]
    assert parse(data).body == b"12345"


def test_header_names_containing_l_are_not_content_length():
    data = INVITE.replace(b"Content-Length: 0", b"Xl: 9\r\nContent-Length-X: 9\r\nl: 0")
    assert StreamFramer().feed(data) == [data]


def test_two_content_lengths_rejected():
    data = INVITE.replace(b"Content-Length: 0", b"Content-Length: 0\r\nl: 0")
    with pytest.raises(ParseError):
        StreamFramer().feed(data)


@pytest.mark.parametrize("value", [b"-1", b"abc", b"99999999999", b""])
def test_bad_content_length_rejected(value):
    data = INVITE.replace(b"Content-Length: 0", b"Content-Length: " + value)
    with pytest.raises(ParseError):
        StreamFramer().feed(data)


def test_oversized_header_block_rejected_without_unbounded_buffering():
    framer = StreamFramer(max_header_bytes=1024)
    framer.feed(b"INVITE sip:a@b SIP/2.0\r\n")
    with pytest.raises(ParseError) as info:
        for _ in range(10_000):
            framer.feed(b"X-Filler: " + b"a" * 50 + b"\r\n")
            assert framer.buffered <= 1024 + 62
    assert "too large" in str(info.value)
    assert framer.buffered == 0


def test_oversized_header_block_found_at_once():
    framer = StreamFramer(max_header_bytes=100)
    with pytest.raises(ParseError):
        framer.feed(INVITE)  # complete, but its header block is over the limit
    assert framer.buffered == 0


def test_header_limit_is_exact():
    end = INVITE.index(b"\r\n\r\n")
    assert StreamFramer(max_header_bytes=end).feed(INVITE) == [INVITE]
    with pytest.raises(ParseError):
        StreamFramer(max_header_bytes=end - 1).feed(INVITE)


def test_body_over_limit_rejected_before_it_arrives():
    framer = StreamFramer(max_body_bytes=100)
    head = INVITE.replace(b"Content-Length: 0", b"Content-Length: 101")
    with pytest.raises(ParseError) as info:
        framer.feed(head)  # no body octet sent yet
    assert "too large" in str(info.value) and framer.buffered == 0
    ok = INVITE.replace(b"Content-Length: 0", b"Content-Length: 100") + b"x" * 100
    assert StreamFramer(max_body_bytes=100).feed(ok) == [ok]


def test_waits_for_the_whole_body():
    data = INVITE.replace(b"Content-Length: 0", b"Content-Length: 10") + b"0123456789"
    framer = StreamFramer()
    assert framer.feed(data[:-1]) == []
    assert framer.buffered == len(data) - 1
    assert framer.feed(data[-1:] + b"\r\n") == [data]
    assert framer.buffered == 2  # the start of what may be a ping


def test_broken_framer_stays_broken():
    framer = StreamFramer()
    with pytest.raises(ParseError) as info:
        framer.feed(INVITE.replace(b"Content-Length: 0\r\n", b""))
    first = info.value
    for chunk in (INVITE, PING, b""):
        with pytest.raises(ParseError) as again:
            framer.feed(chunk)
        assert again.value is first
    assert framer.broken is first and framer.buffered == 0


def test_frames_parse():
    framer = StreamFramer()
    for frame in framer.feed(INVITE_15 + PING + MESSAGE):
        if frame != PING:
            assert bytes(parse(frame)) == frame
