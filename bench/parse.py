"""Message-layer throughput: siptm against other Python SIP parsers, in one run.

Rows (messages per second, one core):
  (a) lazy parse of a typical 15-header INVITE up to the transaction keys
  (b) full parse of every header
  (c) serialize after a proxy-style edit (push Via, decrement Max-Forwards, pop Route)

Run: ``make bench`` or ``.venv/bin/python bench/parse.py`` (the comparison parsers come
from the ``bench`` extra: ``pip install -e '.[bench]'``). Figures are noisy on shared
machines; read the ratios.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable

from siptm.sip import parse

SDP = (
    b"v=0\r\no=alice 2890844526 2890844526 IN IP4 192.0.2.101\r\ns=-\r\n"
    b"c=IN IP4 192.0.2.101\r\nt=0 0\r\nm=audio 49172 RTP/AVP 0 8 101\r\n"
    b"a=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
)
INVITE = (
    b"INVITE sip:bob@biloxi.example.com SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 192.0.2.101:5060;branch=z9hG4bK74bf9;rport\r\n"
    b"Max-Forwards: 70\r\n"
    b"Route: <sip:proxy.atlanta.example.com;lr>\r\n"
    b"From: Alice <sip:alice@atlanta.example.com>;tag=9fxced76sl\r\n"
    b"To: Bob <sip:bob@biloxi.example.com>\r\n"
    b"Call-ID: 3848276298220188511@atlanta.example.com\r\n"
    b"CSeq: 1 INVITE\r\n"
    b"Contact: <sip:alice@192.0.2.101:5060;transport=udp>\r\n"
    b"Allow: INVITE, ACK, CANCEL, OPTIONS, BYE, REFER, NOTIFY, MESSAGE\r\n"
    b"Supported: replaces, timer\r\n"
    b"User-Agent: ExamplePhone/1.0\r\n"
    b"Accept: application/sdp\r\n"
    b"Session-Expires: 1800\r\n"
    b"Content-Type: application/sdp\r\n"
    b"Content-Length: " + str(len(SDP)).encode() + b"\r\n\r\n" + SDP
)
NEW_VIA = "SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKsiptm.0a1b2c3d4e"


# --- siptm ----------------------------------------------------------------------------------
def siptm_lazy(data: bytes) -> object:
    msg = parse(data)
    via = msg.via
    return (via.branch, via.sent_by, msg.cseq.number, msg.cseq.method, msg.call_id,
            msg.from_tag, msg.to_tag, msg.max_forwards, msg.content_length)


def siptm_full(data: bytes) -> object:
    msg = parse(data)
    return (msg.uri.host, msg.vias, msg.cseq, msg.call_id, msg.from_, msg.to, msg.contacts,
            msg.routes, msg.record_routes, msg.max_forwards, msg.content_length,
            msg.headers.items())


def siptm_edit(data: bytes) -> bytes:
    msg = parse(data)
    msg.push_via(NEW_VIA)
    msg.decrement_max_forwards()
    msg.pop_route()
    return bytes(msg)


# --- sipmessage (PyPI) ------------------------------------------------------------------------
def sipmessage_rows() -> dict[str, Callable[[bytes], object]]:
    from sipmessage import Message, Via

    def lazy(data: bytes) -> object:
        msg = Message.parse(data)
        via = msg.via[0]
        cseq = msg.cseq
        return (via.parameters.get("branch"), via.host, cseq.sequence, cseq.method, msg.call_id,
                msg.from_address.parameters.get("tag"), msg.to_address.parameters.get("tag"),
                msg.max_forwards, msg.content_length)

    def full(data: bytes) -> object:
        msg = Message.parse(data)
        return (msg.uri.host, msg.via, msg.cseq, msg.call_id, msg.from_address, msg.to_address,
                msg.contact, msg.route, msg.record_route, msg.max_forwards, msg.content_length,
                [(k, msg.headers.getlist(k)) for k in msg.headers.keys()])  # noqa: SIM118

    new_via = Via.parse(NEW_VIA)

    def edit(data: bytes) -> bytes:
        msg = Message.parse(data)
        msg.via = [new_via, *msg.via]
        msg.max_forwards = msg.max_forwards - 1
        msg.route = msg.route[1:]
        return bytes(msg)

    return {"a": lazy, "b": full, "c": edit}


# --- pyVoIP (PyPI): parses every header eagerly, has no serializer --------------------------
def pyvoip_rows() -> dict[str, Callable[[bytes], object]]:
    import pyVoIP.VoIP  # noqa: F401  (breaks an import cycle inside pyVoIP)
    from pyVoIP.SIP import SIPMessage

    def lazy(data: bytes) -> object:
        msg = SIPMessage(data)
        via = msg.headers["Via"][0]
        return (via["branch"], via["address"], msg.headers["CSeq"], msg.headers["Call-ID"],
                msg.headers["From"]["tag"], msg.headers["To"]["tag"],
                msg.headers["Max-Forwards"], msg.headers["Content-Length"])

    def full(data: bytes) -> object:
        return SIPMessage(data).headers

    return {"a": lazy, "b": full}


def measure(func: Callable[[bytes], object], data: bytes, seconds: float, rounds: int = 5) -> float:
    """Best rate over ``rounds`` slices of ``seconds`` (the least disturbed one on a busy box)."""
    func(data)  # warm up, and fail early if the parser rejects the message
    best = 0.0
    batch = 200
    for _ in range(rounds):
        count = 0
        start = time.perf_counter()
        deadline = start + seconds / rounds
        while True:
            for _ in range(batch):
                func(data)
            count += batch
            now = time.perf_counter()
            if now >= deadline:
                break
        best = max(best, count / (now - start))
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.5, help="time per measurement")
    args = parser.parse_args()

    candidates: dict[str, dict[str, Callable[[bytes], object]]] = {
        "siptm": {"a": siptm_lazy, "b": siptm_full, "c": siptm_edit},
    }
    for name, loader in (("sipmessage", sipmessage_rows), ("pyVoIP", pyvoip_rows)):
        try:
            candidates[name] = loader()
        except ImportError as exc:
            print(f"# {name} not installed ({exc}); pip install -e '.[bench]'", file=sys.stderr)

    rows = {"a": "lazy parse to transaction keys", "b": "full parse of every header",
            "c": "proxy edit + serialize"}
    names = list(candidates)
    header_lines = INVITE.split(b"\r\n\r\n")[0].count(b"\r\n")
    print(f"# INVITE of {len(INVITE)} bytes, {header_lines} header lines; messages/s")
    print(f"{'row':34}" + "".join(f"{n:>16}" for n in names) + "   siptm/other")
    for row, title in rows.items():
        results = {}
        for name in names:
            func = candidates[name].get(row)
            if func is None:
                continue
            try:
                results[name] = measure(func, INVITE, args.seconds)
            except Exception as exc:  # a comparison parser that cannot do this row
                print(f"# {name} row {row}: {type(exc).__name__}: {exc}", file=sys.stderr)
        cells = "".join(
            f"{results[n]:>16,.0f}" if n in results else f"{'n/a':>16}" for n in names
        )
        ratios = ", ".join(
            f"{n} x{results['siptm'] / results[n]:.1f}" for n in names[1:] if n in results
        )
        print(f"({row}) {title:30}{cells}   {ratios}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
