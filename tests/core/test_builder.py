"""Messages built by the layer: CANCEL (§9.1), hop-by-hop ACK (§17.1.1.3), replies."""

from __future__ import annotations

from siptm.core import cancel_for, hop_by_hop_ack, local_reply
from siptm.sip import Request, Response, parse

INVITE_AS_SENT = (
    b"INVITE sip:bob@192.0.2.9 SIP/2.0\r\n"
    b"v: SIP/2.0/UDP 198.51.100.1:5060;branch=z9hG4bKpx1, "
    b"SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKup1\r\n"
    b"Route: <sip:edge.example.net;lr>\r\n"
    b"Route: <sip:core.example.net;lr>\r\n"
    b"Max-Forwards: 69\r\n"
    b"f: <sip:alice@example.com>;tag=88sja8x\r\n"
    b"t: Bob <sip:bob@example.com>\r\n"
    b"i: 987asjd97y7atg\r\n"
    b"CSeq: 986759 INVITE\r\n"
    b"Record-Route: <sip:198.51.100.1;lr>\r\n"
    b"Contact: <sip:alice@192.0.2.1>\r\n"
    b"Authorization: Digest username=\"alice\"\r\n"
    b"P-Acme-Id: 42\r\n"
    b"Content-Type: application/sdp\r\n"
    b"l: 4\r\n\r\nv=0\n"
)


def invite() -> Request:
    msg = parse(INVITE_AS_SENT)
    assert isinstance(msg, Request)
    return msg


def test_cancel_exact() -> None:
    cancel = cancel_for(invite())
    assert bytes(cancel) == (
        b"CANCEL sip:bob@192.0.2.9 SIP/2.0\r\n"
        b"v: SIP/2.0/UDP 198.51.100.1:5060;branch=z9hG4bKpx1\r\n"
        b"Route: <sip:edge.example.net;lr>\r\n"
        b"Route: <sip:core.example.net;lr>\r\n"
        b"Max-Forwards: 69\r\n"
        b"f: <sip:alice@example.com>;tag=88sja8x\r\n"
        b"t: Bob <sip:bob@example.com>\r\n"
        b"i: 987asjd97y7atg\r\n"
        b"CSeq: 986759 CANCEL\r\n"
        b"Content-Length: 0\r\n\r\n"
    )
    assert cancel.via.branch == "z9hG4bKpx1" and len(cancel.vias) == 1


def test_cancel_with_prefix_and_reason() -> None:
    cancel = cancel_for(invite(), "p-acme-", [("Reason", "SIP;cause=487")])
    text = bytes(cancel)
    assert b"\r\nP-Acme-Id: 42\r\n" in text
    assert text.endswith(b"Reason: SIP;cause=487\r\nContent-Length: 0\r\n\r\n")
    assert b"Authorization" not in text and b"Contact" not in text


def test_ack_exact() -> None:
    busy = Response.for_request(invite(), 486, to_tag="a6c85cf")
    ack = hop_by_hop_ack(invite(), busy)
    assert bytes(ack) == (
        b"ACK sip:bob@192.0.2.9 SIP/2.0\r\n"
        b"v: SIP/2.0/UDP 198.51.100.1:5060;branch=z9hG4bKpx1\r\n"
        b"Route: <sip:edge.example.net;lr>\r\n"
        b"Route: <sip:core.example.net;lr>\r\n"
        b"Max-Forwards: 69\r\n"
        b"f: <sip:alice@example.com>;tag=88sja8x\r\n"
        b"t: Bob <sip:bob@example.com>;tag=a6c85cf\r\n"
        b"i: 987asjd97y7atg\r\n"
        b"CSeq: 986759 ACK\r\n"
        b"Content-Length: 0\r\n\r\n"
    )
    parsed = parse(bytes(ack))
    assert parsed.to_tag == "a6c85cf" and parsed.cseq.method == "ACK"


def test_local_reply() -> None:
    req = invite()
    ok = local_reply(req, 200, to_tag="mytag", headers=[("Server", "siptm")])
    assert ok.status == 200 and ok.reason == "OK"
    assert ok.to_tag == "mytag" and ok.headers.get("server") == "siptm"
    assert [v.branch for v in ok.vias] == ["z9hG4bKpx1", "z9hG4bKup1"]
    trying = local_reply(req, 100, to_tag="mytag")
    assert trying.to_tag is None  # §17.2.1: no tag on 100
    odd = local_reply(req, 499, "Odd")
    assert odd.reason == "Odd" and odd.to_tag is None
