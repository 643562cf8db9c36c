from siptm.sip import parse

INVITE = (
    b"INVITE sip:bob@example.com SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK776asdhds\r\n"
    b"Max-Forwards: 70\r\n"
    b"To: Bob <sip:bob@example.com>\r\n"
    b"From: Alice <sip:alice@example.com>;tag=1928301774\r\n"
    b"Call-ID: a84b4c76e66710@pc33.example.com\r\n"
    b"CSeq: 314159 INVITE\r\n"
    b"Content-Length: 0\r\n\r\n"
)


def test_parse_and_round_trip():
    msg = parse(INVITE)
    assert msg.method == "INVITE"
    assert msg.via.branch == "z9hG4bK776asdhds"
    assert msg.from_tag == "1928301774"
    assert msg.to_tag is None
    assert bytes(msg) == INVITE


def test_a_lowercase_sip_version_is_read_and_relayed_in_upper_case():
    """RFC 3261 §7.1: the SIP-Version is case-insensitive; we send it upper-case once we
    edit the message (an untouched message still serialises to its input)."""
    tail = (b"Via: SIP/2.0/UDP proxy.example.com;branch=z9hG4bK-2\r\n"
            b"Via: SIP/2.0/UDP host.example.com;branch=z9hG4bK-1\r\n"
            b"From: <sip:a@example.com>;tag=1\r\nTo: <sip:b@example.com>;tag=2\r\n"
            b"Call-ID: c1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n")
    response = parse(b"sip/2.0 180 Ringing\r\n" + tail)
    assert response.status == 180 and response.reason == "Ringing"
    response.pop_via()
    assert bytes(response).startswith(b"SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP host.")
    request = parse(b"INVITE sip:b@example.com sip/2.0\r\n" + tail)
    assert request.method == "INVITE"
    request.decrement_max_forwards()
    assert bytes(request).startswith(b"INVITE sip:b@example.com SIP/2.0\r\n")
