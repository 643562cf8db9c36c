"""A Via line of several plain values (``Via: a, b``, as SIPp's [last_Via:] writes them) is
read value by value without the general parser: it must give what parsing each value on
its own gives, and everything else must still reach the general parser."""

from __future__ import annotations

import pytest

from siptm.errors import ParseError
from siptm.sip import parse
from siptm.sip.values import parse_via, parse_vias, vias_of_line

A = "SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKst4c83f97e8e.007c674fc.1;rport"
B = "SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-21480-1-0"
C = "SIP/2.0/TCP [2001:db8::1]:5061;branch=z9hG4bKc;received=192.0.2.1;rport=5070"
QUOTED = 'SIP/2.0/UDP host;branch=z9hG4bKq;x="quoted"'
SPACED = "sip / 2.0 / udp host ; branch=z9hG4bKs"


def fields(via):
    return (via.protocol, via.transport, via.host, via.port, list(via.params.items()),
            str(via))


@pytest.mark.parametrize("value, parts", [
    (f"{A}, {B}", [A, B]),
    (f"{A},{B}", [A, B]),
    (f"{A} ,\t{B} , {C}", [A, B, C]),
    (f"{A}, {B}  ", [A, B]),
    (f"{C}", [C]),
    # not of the plain shape: the general parser, same results
    (f"{A}, {QUOTED}", [A, QUOTED]),
    (f"{A}, {SPACED}", [A, SPACED]),
])
def test_a_line_of_several_values_reads_like_each_value_alone(value, parts):
    expected = [fields(parse_via(part)) for part in parts]
    assert [fields(v) for v in vias_of_line(f"Via: {value}".encode())] == expected
    assert [fields(v) for v in vias_of_line(f"v:  {value}".encode())] == expected
    assert [fields(v) for v in parse_vias(value)] == expected


@pytest.mark.parametrize("value", [
    f"{A},", f"{A}, ", f"{A},,{B}", f"{A}, {B},", f"{A}, SIP/2.0/UDP h:99999;branch=z9hG4bKp",
    f"{A}; {B}", f"{A} {B}",
])
def test_a_broken_value_among_plain_ones_fails_the_line(value):
    with pytest.raises(ParseError):
        vias_of_line(f"Via: {value}".encode())
    with pytest.raises(ParseError):
        parse_vias(value)


def test_a_folded_line_between_values_goes_to_the_general_parser():
    vias = vias_of_line(f"Via: {A},\r\n {B}".encode())
    assert [fields(v) for v in vias] == [fields(parse_via(A)), fields(parse_via(B))]


def test_a_response_with_both_vias_on_one_line_parses_them_all():
    data = (
        f"SIP/2.0 200 OK\r\nVia: {A}, {B}\r\n"
        "From: sipp <sip:sipp@127.0.0.1:5070>;tag=1\r\nTo: <sip:s@127.0.0.1>;tag=2\r\n"
        "Call-ID: 1-1@127.0.0.1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
    ).encode()
    msg = parse(data)
    assert [v.branch for v in msg.vias] == ["z9hG4bKst4c83f97e8e.007c674fc.1",
                                           "z9hG4bK-21480-1-0"]
    assert msg.has_valid_vias()
