"""A message whose only change is removed header lines is sent as the received bytes
with those lines cut out: byte for byte what re-assembling it line by line gives."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sip_samples import INVITE_15, SDP

from siptm.sip import parse

RESPONSE = (
    b"SIP/2.0 180 Ringing\r\n"
    b"Via: SIP/2.0/UDP proxy.example.com;branch=z9hG4bKp\r\n"
    b"Via: SIP/2.0/UDP client.example.com;branch=z9hG4bKc;received=192.0.2.1;rport=5070\r\n"
    b"Record-Route: <sip:rr.example.com;lr>\r\n"
    b"To: Bob <sip:bob@biloxi.example.com>;tag=b1\r\n"
    b"From: Alice <sip:alice@atlanta.example.com>;tag=a1\r\n"
    b"Call-ID: c1@192.0.2.1\r\n"
    b"CSeq: 1 INVITE\r\n"
    b"Contact: <sip:bob@192.0.2.4>\r\n"
    b"Content-Type: application/sdp\r\n"
    b"Content-Length: %d\r\n\r\n" % len(SDP)
) + SDP


def pop_via(msg):
    msg.pop_via()


def pop_both_vias(msg):
    msg.pop_via()
    msg.pop_via()


def remove_middle_then_top(msg):
    msg.headers.remove_first("Contact")
    msg.headers.remove_first("Call-ID")
    msg.pop_via()


def remove_last_then_first(msg):
    msg.headers.remove_first("Content-Type")
    msg.headers.remove_first("Record-Route")
    msg.pop_via()
    msg.headers.remove_first("CSeq")


def remove_content_length(msg):
    msg.pop_via()
    msg.headers.remove_first("Content-Length")


def pop_then_edit(msg):
    msg.pop_via()
    msg.via.params["received"] = "192.0.2.99"


def pop_then_add(msg):
    msg.pop_via()
    msg.headers.add("Server", "x")


def pop_then_new_body(msg):
    msg.pop_via()
    msg.body = b"v=0\r\n"


def pop_route(msg):
    msg.pop_route()


def pop_three_vias(msg):
    for _ in range(3):
        msg.pop_via()


def pop_then_remove_above_and_below(msg):
    msg.pop_via()
    msg.headers.remove_first("CSeq")
    msg.headers.remove_first("Subject")
    msg.pop_via()


EDITS = [pop_via, pop_both_vias, remove_middle_then_top, remove_last_then_first,
         remove_content_length, pop_then_edit, pop_then_add, pop_then_new_body,
         pop_three_vias, pop_then_remove_above_and_below]

SHAPES = {
    "canonical": RESPONSE,
    "leading CRLFs and trailing bytes": b"\r\n\r\n" + RESPONSE + b"garbage",
    "bare LF line ends": RESPONSE[:-len(SDP)].replace(b"\r\n", b"\n") + SDP,
    "one bare LF": RESPONSE.replace(b"Call-ID: c1@192.0.2.1\r\n", b"Call-ID: c1@192.0.2.1\n"),
    "folded header": RESPONSE.replace(b"Contact: <sip", b"Contact:\r\n  <sip"),
    "compact names": RESPONSE.replace(b"Via:", b"v:").replace(b"Content-Length:", b"l:"),
    "no Content-Length": RESPONSE.replace(b"Content-Length: %d\r\n" % len(SDP), b""),
    "no reason phrase": RESPONSE.replace(b"SIP/2.0 180 Ringing", b"SIP/2.0 180", 1),
    "empty reason phrase": RESPONSE.replace(b"SIP/2.0 180 Ringing", b"SIP/2.0 180 ", 1),
    "several Vias on the top line": RESPONSE.replace(
        b"branch=z9hG4bKp\r\nVia:", b"branch=z9hG4bKp, "),
    "several Vias, no blank after the comma": RESPONSE.replace(
        b"branch=z9hG4bKp\r\nVia: ", b"branch=z9hG4bKp,"),
    "several Vias, blanks around the comma": RESPONSE.replace(
        b"branch=z9hG4bKp\r\nVia: ", b"branch=z9hG4bKp  ,\t"),
    "three Vias on the top line": RESPONSE.replace(
        b"branch=z9hG4bKp\r\nVia:", b"branch=z9hG4bKp, SIP/2.0/UDP 192.0.2.9;branch=z9hG4bKm,"),
    "several Vias on a lower line": RESPONSE.replace(
        b"Via: SIP/2.0/UDP proxy.example.com;branch=z9hG4bKp\r\n",
        b"Via: SIP/2.0/UDP proxy.example.com;branch=z9hG4bKp\r\nSubject: s\r\n").replace(
        b"Subject: s\r\nVia:", b"Subject: s\r\nVia: SIP/2.0/UDP 192.0.2.9;branch=z9hG4bKm,"),
}


def reassembled(data: bytes, edit) -> bytes:
    """What the message gives when it is re-assembled line by line (a copy always is)."""
    copy = parse(data).copy()
    edit(copy)
    return bytes(copy)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("edit", EDITS)
def test_removing_lines_gives_the_reassembled_bytes(shape, edit):
    data = SHAPES[shape]
    msg = parse(data)
    edit(msg)
    out = bytes(msg)
    assert out == reassembled(data, edit)
    assert bytes(msg) == out  # asking twice gives the same


def test_the_popped_via_line_is_just_absent():
    msg = parse(RESPONSE)
    msg.pop_via()
    assert bytes(msg) == RESPONSE.replace(
        b"Via: SIP/2.0/UDP proxy.example.com;branch=z9hG4bKp\r\n", b"")


def test_a_line_holding_several_vias_is_rewritten():
    data = SHAPES["several Vias on the top line"]
    msg = parse(data)
    msg.pop_via()
    assert bytes(msg) == RESPONSE.replace(
        b"Via: SIP/2.0/UDP proxy.example.com;branch=z9hG4bKp\r\nVia: ", b"Via: ")


LOWERCASE_VERSION = INVITE_15.replace(b" SIP/2.0\r\n", b" sip/2.0\r\n", 1)


@pytest.mark.parametrize("data", [INVITE_15, LOWERCASE_VERSION])
@pytest.mark.parametrize("edit", [pop_route, pop_via])
def test_a_request_with_removed_lines(edit, data):
    msg = parse(data)
    edit(msg)
    assert bytes(msg) == reassembled(data, edit)


def test_a_copy_made_after_a_removal_is_independent():
    msg = parse(RESPONSE)
    msg.pop_via()
    copy = msg.copy()
    copy.pop_via()
    copy.headers.remove_first("Contact")
    assert bytes(msg) == RESPONSE.replace(
        b"Via: SIP/2.0/UDP proxy.example.com;branch=z9hG4bKp\r\n", b"")
    msg.headers.remove_first("Record-Route")
    assert b"client.example.com" not in bytes(copy)
    assert b"Contact" in bytes(msg) and b"Record-Route" in bytes(copy)


EDIT_STEPS = {
    "pop via": lambda msg: msg.pop_via(),
    "remove Subject": lambda msg: msg.headers.remove_first("Subject"),
    "remove CSeq": lambda msg: msg.headers.remove_first("CSeq"),
    "remove Record-Route": lambda msg: msg.headers.remove_first("Record-Route"),
    "remove Content-Type": lambda msg: msg.headers.remove_first("Content-Type"),
}


@settings(max_examples=300, deadline=None)
@given(shape=st.sampled_from(sorted(SHAPES)),
       steps=st.lists(st.sampled_from(sorted(EDIT_STEPS)), max_size=7))
def test_any_sequence_of_removals_gives_the_reassembled_bytes(shape, steps):
    def edit(msg):
        for step in steps:
            EDIT_STEPS[step](msg)

    data = SHAPES[shape]
    msg = parse(data)
    edit(msg)
    if msg.headers.modified:
        assert bytes(msg) == reassembled(data, edit)
    else:  # nothing was there to remove: the message goes out as it came
        assert bytes(msg) == parse(data)._raw
