"""Sample messages shared by the tests of the SIP message layer."""

from __future__ import annotations

INVITE = (
    b"INVITE sip:bob@biloxi.example.com SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK776asdhds\r\n"
    b"Max-Forwards: 70\r\n"
    b"To: Bob <sip:bob@biloxi.example.com>\r\n"
    b"From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n"
    b"Call-ID: a84b4c76e66710@pc33.example.com\r\n"
    b"CSeq: 314159 INVITE\r\n"
    b"Content-Length: 0\r\n\r\n"
)

SDP = (
    b"v=0\r\no=alice 2890844526 2890844526 IN IP4 192.0.2.1\r\ns=-\r\n"
    b"c=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 49172 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
)

# A typical proxied INVITE: 15 headers, two Vias, Route set, SDP body.
INVITE_15 = (
    b"INVITE sip:bob@biloxi.example.com SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP pc33.atlanta.example.com:5060;branch=z9hG4bKnashds8;rport\r\n"
    b"Via: SIP/2.0/TCP client.atlanta.example.com:5060;branch=z9hG4bK74bf9"
    b";received=192.0.2.101\r\n"
    b"Max-Forwards: 70\r\n"
    b"Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>\r\n"
    b"Record-Route: <sip:rr.atlanta.example.com;lr>\r\n"
    b"To: Bob <sip:bob@biloxi.example.com>\r\n"
    b'From: "Alice A." <sip:alice@atlanta.example.com>;tag=1928301774\r\n'
    b"Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n"
    b"CSeq: 314159 INVITE\r\n"
    b"Contact: <sip:alice@pc33.atlanta.example.com>\r\n"
    b"Allow: INVITE, ACK, CANCEL, OPTIONS, BYE\r\n"
    b"Supported: replaces, timer\r\n"
    b"User-Agent: siptm-tests/1.0\r\n"
    b"Content-Type: application/sdp\r\n"
    b"Content-Length: %d\r\n\r\n" % len(SDP)
) + SDP

_ORDER = ("via", "max-forwards", "to", "from", "call-id", "cseq")
_DEFAULTS = {
    "via": "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKbuilt",
    "max-forwards": "70",
    "to": "<sip:bob@biloxi.example.com>",
    "from": "<sip:alice@atlanta.example.com>;tag=built",
    "call-id": "built@192.0.2.1",
    "cseq": "1 INVITE",
}
_SPELLING = {
    "via": "Via", "max-forwards": "Max-Forwards", "to": "To", "from": "From",
    "call-id": "Call-ID", "cseq": "CSeq", "content-length": "Content-Length",
}


def build(
    values: dict[str, str] | None = None,
    spelled: dict[str, str] | None = None,
    body: bytes = b"",
    start: bytes = b"INVITE sip:bob@biloxi.example.com SIP/2.0",
) -> bytes:
    """An INVITE with the required headers (overridable) plus ``values`` (lowercase names),
    each written as ``spelled[name]`` when given; Content-Length from ``body`` unless set."""
    values = dict(values or {})
    spelled = spelled or {}
    merged = {key: values.pop(key, _DEFAULTS[key]) for key in _ORDER}
    merged.update(values)
    merged.setdefault("content-length", str(len(body)))
    lines = [start]
    for key, value in merged.items():
        name = spelled.get(key) or _SPELLING.get(key) or key.title()
        lines.append(f"{name}: {value}".encode())
    return b"\r\n".join(lines) + b"\r\n\r\n" + body
