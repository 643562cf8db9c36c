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
