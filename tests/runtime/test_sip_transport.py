"""siptm.core.sip_transport: §18.2.1/§18.2.2 with RFC 3581, URI next hops, host:port targets."""

from __future__ import annotations

import pytest

from siptm.core.sip_transport import (
    UnsupportedTransport,
    default_port,
    is_ip,
    parse_hostport_target,
    response_address,
    stamp_received,
    uri_address,
)
from siptm.net import Address
from siptm.sip import parse, parse_uri, parse_via

UDP_SRC = Address("udp", "192.0.2.7", 40000)


def via(text: str):
    return parse_via(text)


# --- §18.2.1 / RFC 3581: stamping a received request --------------------------------------

def test_same_ip_no_rport_is_left_alone():
    v = via("SIP/2.0/UDP 192.0.2.7:5060;branch=z9hG4bK1")
    assert stamp_received(v, UDP_SRC) is False
    assert str(v) == "SIP/2.0/UDP 192.0.2.7:5060;branch=z9hG4bK1"


def test_different_ip_gets_received():
    v = via("SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1")
    assert stamp_received(v, UDP_SRC) is True
    assert v.received == "192.0.2.7"
    assert not v.has_rport


def test_host_name_always_gets_received():
    v = via("SIP/2.0/UDP pc33.example.com;branch=z9hG4bK1")
    stamp_received(v, UDP_SRC)
    assert v.received == "192.0.2.7"


def test_bare_rport_is_filled_and_received_added_even_if_same_ip():
    v = via("SIP/2.0/UDP 192.0.2.7:5060;rport;branch=z9hG4bK1")
    assert stamp_received(v, UDP_SRC) is True
    assert v.rport == 40000
    assert v.received == "192.0.2.7"
    assert str(v) == "SIP/2.0/UDP 192.0.2.7:5060;rport=40000;branch=z9hG4bK1;received=192.0.2.7"


def test_rport_with_value_is_kept():
    v = via("SIP/2.0/UDP 192.0.2.7:5060;rport=5099;branch=z9hG4bK1")
    stamp_received(v, UDP_SRC)
    assert v.rport == 5099
    assert v.received == "192.0.2.7"


def test_ipv6_sent_by_compares_as_address():
    v = via("SIP/2.0/UDP [2001:db8::0:1]:5060;branch=z9hG4bK1")
    assert stamp_received(v, Address("udp", "2001:db8::1", 5060)) is False
    assert v.received is None
    v = via("SIP/2.0/UDP [2001:db8::2]:5060;branch=z9hG4bK1")
    stamp_received(v, Address("udp", "2001:db8::1", 5060))
    assert v.received == "2001:db8::1"


def test_stamp_is_reflected_in_message_bytes():
    msg = parse(
        b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP 10.1.1.1;rport;branch=z9hG4bKx\r\n"
        b"From: <sip:a@b>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\n"
        b"Content-Length: 0\r\n\r\n"
    )
    stamp_received(msg.via, UDP_SRC)
    expected = b"Via: SIP/2.0/UDP 10.1.1.1;rport=40000;branch=z9hG4bKx;received=192.0.2.7\r\n"
    assert expected in bytes(msg)


# --- §18.2.2 / RFC 3581: where a response goes ---------------------------------------------

def test_udp_received_with_sent_by_port():
    v = via("SIP/2.0/UDP 10.0.0.1:5070;branch=z;received=192.0.2.7")
    assert response_address(v, UDP_SRC) == Address("udp", "192.0.2.7", 5070)


def test_udp_received_default_port():
    v = via("SIP/2.0/UDP 10.0.0.1;branch=z;received=192.0.2.7")
    assert response_address(v) == Address("udp", "192.0.2.7", 5060)


def test_udp_rport_goes_to_received_rport():
    v = via("SIP/2.0/UDP 10.0.0.1:5070;rport=40000;branch=z;received=192.0.2.7")
    assert response_address(v, UDP_SRC) == Address("udp", "192.0.2.7", 40000)


def test_udp_rport_without_received_uses_packet_source():
    v = via("SIP/2.0/UDP 192.0.2.7:5070;rport=40001;branch=z")
    assert response_address(v, UDP_SRC) == Address("udp", "192.0.2.7", 40001)
    assert response_address(v) == Address("udp", "192.0.2.7", 5070)


def test_udp_sent_by_only():
    v = via("SIP/2.0/UDP 192.0.2.7:5072;branch=z")
    assert response_address(v, UDP_SRC) == Address("udp", "192.0.2.7", 5072)


def test_udp_sent_by_host_name_left_for_resolution():
    v = via("SIP/2.0/UDP PC33.Example.com;branch=z")
    dest = response_address(v)
    assert dest == Address("udp", "pc33.example.com", 5060)
    assert not is_ip(dest.host)


def test_maddr_wins_over_received_and_rport():
    v = via("SIP/2.0/UDP 10.0.0.1:5080;maddr=239.255.255.1;ttl=1;rport=4;received=192.0.2.7")
    assert response_address(v, UDP_SRC) == Address("udp", "239.255.255.1", 5080)
    v = via("SIP/2.0/UDP 10.0.0.1;maddr=239.255.255.1")
    assert response_address(v) == Address("udp", "239.255.255.1", 5060)


def test_tcp_uses_the_connection_with_fallback_to_received_and_sent_by_port():
    src = Address("tcp", "192.0.2.7", 41000, connection=12)
    v = via("SIP/2.0/TCP 10.0.0.1:5070;rport=41000;branch=z;received=192.0.2.7")
    dest = response_address(v, src)
    assert dest.connection == 12
    # if the connection is gone, open one to received:sent-by-port (rport is UDP only)
    assert (dest.transport, dest.host, dest.port) == ("tcp", "192.0.2.7", 5070)


def test_tls_default_port_is_5061():
    v = via("SIP/2.0/TLS client.example.com;branch=z")
    assert response_address(v) == Address("tls", "client.example.com", 5061)
    assert default_port("tls") == 5061
    assert default_port("udp") == default_port("tcp") == 5060


def test_packet_transport_wins_over_via_protocol():
    src = Address("tcp", "192.0.2.7", 41000, connection=3)
    v = via("SIP/2.0/UDP 192.0.2.7:5060;branch=z")
    assert response_address(v, src).transport == "tcp"
    assert response_address(v, src).connection == 3


def test_unsupported_via_transport():
    with pytest.raises(UnsupportedTransport):
        response_address(via("SIP/2.0/SCTP 10.0.0.1;branch=z"))


# --- URI next hop ----------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("uri", "force", "expected"),
    [
        ("sip:bob@10.0.0.2", None, Address("udp", "10.0.0.2", 5060)),
        ("sip:bob@10.0.0.2:5080", None, Address("udp", "10.0.0.2", 5080)),
        ("sip:bob@10.0.0.2;transport=TCP", None, Address("tcp", "10.0.0.2", 5060)),
        ("sip:bob@10.0.0.2;transport=tls", None, Address("tls", "10.0.0.2", 5061)),
        ("sips:bob@10.0.0.2", None, Address("tls", "10.0.0.2", 5061)),
        ("sips:bob@10.0.0.2;transport=tcp", None, Address("tls", "10.0.0.2", 5061)),
        ("sips:bob@10.0.0.2:5999", None, Address("tls", "10.0.0.2", 5999)),
        ("sip:bob@Example.COM", None, Address("udp", "example.com", 5060)),
        ("sip:bob@[2001:db8::1]:5070", None, Address("udp", "2001:db8::1", 5070)),
        ("sip:bob@example.com;maddr=10.9.9.9", None, Address("udp", "10.9.9.9", 5060)),
        ("sip:bob@10.0.0.2", "tcp", Address("tcp", "10.0.0.2", 5060)),
        ("sip:bob@10.0.0.2;transport=tcp", "udp", Address("udp", "10.0.0.2", 5060)),
        ("sip:bob@10.0.0.2", "tls", Address("tls", "10.0.0.2", 5061)),
    ],
)
def test_uri_address(uri, force, expected):
    assert uri_address(parse_uri(uri), force) == expected


def test_uri_address_rejects_unsupported():
    with pytest.raises(UnsupportedTransport):
        uri_address(parse_uri("sip:bob@10.0.0.2;transport=sctp"))
    with pytest.raises(UnsupportedTransport):
        uri_address(parse_uri("sips:bob@10.0.0.2;transport=udp"))
    with pytest.raises(UnsupportedTransport):
        uri_address(parse_uri("sip:bob@10.0.0.2"), "ws")


# --- [proto:]host[:port] -------------------------------------------------------------------

@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("udp:127.0.0.1:5060", Address("udp", "127.0.0.1", 5060)),
        ("TCP:127.0.0.1:5070", Address("tcp", "127.0.0.1", 5070)),
        ("tls:127.0.0.1", Address("tls", "127.0.0.1", 5061)),
        ("10.0.0.1:5080", Address("udp", "10.0.0.1", 5080)),
        ("mydomain.com", Address("udp", "mydomain.com", 5060)),
        ("udp:[::1]:5062", Address("udp", "::1", 5062)),
        ("[::1]", Address("udp", "::1", 5060)),
        ("tcp:example.com", Address("tcp", "example.com", 5060)),
        ("127.0.0.1:0", Address("udp", "127.0.0.1", 0)),
    ],
)
def test_parse_hostport_target(text, expected):
    assert parse_hostport_target(text) == expected


def test_parse_hostport_target_default_transport():
    assert parse_hostport_target("10.0.0.1", "tcp") == Address("tcp", "10.0.0.1", 5060)


@pytest.mark.parametrize(
    "text", ["", "udp:", "udp:1.2.3.4:", "1.2.3.4:99999", "1.2.3.4:x", "::1", "[::1", "[::1]x",
             "sctp:1.2.3.4:5060"],
)
def test_parse_hostport_target_rejects(text):
    with pytest.raises(ValueError):
        parse_hostport_target(text)


def test_is_ip():
    assert is_ip("127.0.0.1") and is_ip("::1") and is_ip("[::1]")
    assert not is_ip("example.com") and not is_ip("")
