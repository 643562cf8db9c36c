"""1,000 malformed datagrams (random bytes, truncated, mutated and structurally broken
SIP) sent to the real process, then a valid call, which must succeed; the process is
still alive, no exception escaped the engine, and the garbage left no transaction."""

from __future__ import annotations

import random
import socket
import time

from sipp_harness import LOOPBACK, TransactionsLinger

COUNT = 1000


def _requests(target: str, via_port: int) -> list[bytes]:
    """Well-formed messages the mutations start from (to a blackhole ``target``)."""
    via = f"Via: SIP/2.0/UDP {LOOPBACK}:{via_port};branch=z9hG4bKfuzz{{n}};rport\r\n"
    head = (f"From: <sip:fuzz@{LOOPBACK}>;tag=f{{n}}\r\nTo: <sip:x@{target}>{{totag}}\r\n"
            f"Call-ID: fuzz-{{n}}@{LOOPBACK}\r\nMax-Forwards: 70\r\n")
    sdp = ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
           "m=audio 6000 RTP/AVP 0\r\n")
    out = []
    for method, body, ctype, totag in [
        ("INVITE", sdp, "application/sdp", ""),
        ("OPTIONS", "", None, ""),
        ("MESSAGE", "hello", "text/plain", ""),
        ("REGISTER", "", None, ""),
        ("BYE", "", None, ";tag=t1"),
        ("ACK", "", None, ";tag=t1"),
        ("CANCEL", "", None, ""),
    ]:
        text = (f"{method} sip:x@{target} SIP/2.0\r\n{via}{head}CSeq: 1 {method}\r\n"
                + (f"Content-Type: {ctype}\r\n" if ctype else "")
                + f"Content-Length: {len(body)}\r\n\r\n{body}")
        out.append(text.replace("{totag}", totag))
    out.append(f"SIP/2.0 200 OK\r\n{via}{head}CSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
               .replace("{totag}", ";tag=t1"))
    return [m.encode() for m in out]


_STRUCTURAL = [
    lambda m: _drop(m, b"Via:"),
    lambda m: _drop(m, b"From:"),
    lambda m: _drop(m, b"To:"),
    lambda m: _drop(m, b"Call-ID:"),
    lambda m: _drop(m, b"CSeq:"),
    lambda m: _set(m, b"Content-Length:", b"abc"),
    lambda m: _set(m, b"Content-Length:", b"-1"),
    lambda m: _set(m, b"Content-Length:", b"99999999999999999999999"),
    lambda m: _set(m, b"Content-Length:", b"4000"),
    lambda m: _set(m, b"CSeq:", b"x INVITE"),
    lambda m: _set(m, b"CSeq:", b"1 OPTIONS"),
    lambda m: _set(m, b"CSeq:", b"99999999999999999999 INVITE"),
    lambda m: _set(m, b"CSeq:", b""),
    lambda m: _set(m, b"Via:", b"SIP/2.0/UDP"),
    lambda m: _set(m, b"Via:", b"SIP/2.0/XYZ 127.0.0.1"),
    lambda m: _set(m, b"Via:", b"garbage ;;; ,,,"),
    lambda m: _set(m, b"Via:", b"SIP/2.0/UDP 127.0.0.1:99999;branch=z9hG4bKx"),
    lambda m: _set(m, b"Via:", b"SIP/2.0/UDP [::1;branch=z9hG4bKx"),
    lambda m: _set(m, b"Max-Forwards:", b"-1"),
    lambda m: _set(m, b"Max-Forwards:", b"abc"),
    lambda m: _set(m, b"Max-Forwards:", b"0"),
    lambda m: _set(m, b"Max-Forwards:", b"9" * 40),
    lambda m: _set(m, b"From:", b"\"\xff\xfe\" <sip:\xc3\x28@x>;tag=1"),
    lambda m: _set(m, b"To:", b"<sip:x@[::1>"),
    lambda m: _first_line(m, b"INVITE SIP/2.0"),
    lambda m: _first_line(m, b"INVITE sip:x@127.0.0.1 SIP/3.0"),
    lambda m: _first_line(m, b"INV ITE sip:x@127.0.0.1 SIP/2.0"),
    lambda m: _first_line(m, b"INVITE sip: SIP/2.0"),
    lambda m: _first_line(m, b"INVITE sip:@ SIP/2.0"),
    lambda m: _first_line(m, b"INVITE sip:x@127.0.0.1:notaport SIP/2.0"),
    lambda m: _first_line(m, b"INVITE http://example.com/ SIP/2.0"),
    lambda m: _first_line(m, b"SIP/2.0 999999 Huge"),
    lambda m: _first_line(m, b"SIP/2.0 abc Bad"),
    lambda m: _first_line(m, b"SIP/2.0 200"),
    lambda m: _first_line(m, b"\x00\x01\x02"),
    lambda m: m.replace(b"\r\n", b"\n"),
    lambda m: m.replace(b"\r\n", b"\r"),
    lambda m: m.replace(b": ", b" : ", 3),
    lambda m: m.replace(b"\r\n", b"\r\nNoColonHere\r\n", 1),
    lambda m: m.replace(b"\r\n", b"\r\n continuation-first\r\n", 1),
    lambda m: m.replace(b"\r\n", b"\r\nX-Long: " + b"a" * 60000 + b"\r\n", 1),
    lambda m: m.replace(b"\r\n", b"\r\n" + b"X-Many: 1\r\n" * 2000, 1),
    lambda m: m.replace(b"\r\n", b"\r\nVia: \x00\x00\r\n", 1),
    lambda m: m.replace(b"\r\n\r\n", b"\r\n"),
    lambda m: m[: m.index(b"\r\n\r\n")],
    lambda m: m + b"\x00" * 50,
]


def _drop(msg: bytes, name: bytes) -> bytes:
    return b"\r\n".join(line for line in msg.split(b"\r\n") if not line.startswith(name))


def _set(msg: bytes, name: bytes, value: bytes) -> bytes:
    lines = msg.split(b"\r\n")
    return b"\r\n".join(name + b" " + value if line.startswith(name) else line
                        for line in lines)


def _first_line(msg: bytes, line: bytes) -> bytes:
    return line + msg[msg.index(b"\r\n"):]


def malformed_datagrams(target: str, via_port: int, seed: int = 5) -> list[bytes]:
    rng = random.Random(seed)
    bases = _requests(target, via_port)

    def base(n: int) -> bytes:
        return rng.choice(bases).replace(b"{n}", str(n).encode())

    out: list[bytes] = []
    for n in range(COUNT):
        kind = n % 4
        if kind == 0:  # random bytes
            data = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 1400)))
        elif kind == 1:  # truncated
            msg = base(n)
            data = msg[: rng.randrange(1, len(msg))]
        elif kind == 2:  # byte mutations: flips, insertions, deletions
            data = bytearray(base(n))
            for _ in range(rng.randrange(1, 9)):
                i = rng.randrange(len(data))
                op = rng.randrange(3)
                if op == 0:
                    data[i] = rng.randrange(256)
                elif op == 1:
                    data.insert(i, rng.choice(b":;,<>@\"\r\n\x00 \t"))
                elif len(data) > 1:
                    del data[i]
            data = bytes(data)
        else:  # structurally broken
            data = rng.choice(_STRUCTURAL)(base(n))
        if not data.strip():
            data = b"\x00" + data
        out.append(data)
    return out


def _received(proxy) -> int:
    return proxy.call("get_statistics", ["core:received_messages"])["core:received_messages"]


def test_malformed_datagrams_then_a_valid_call(e2e):
    uas = e2e.run_sipp_uas(scenario="uas_builtin.xml", calls=1)
    proxy = e2e.start_siptm(None, tm={"fr_timer": 1000})
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as blackhole, \
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        blackhole.bind((LOOPBACK, 0))  # requests that parse go here and die: never read
        sender.bind((LOOPBACK, 0))  # what the proxy answers comes here: never read
        datagrams = malformed_datagrams(f"{LOOPBACK}:{blackhole.getsockname()[1]}",
                                        sender.getsockname()[1])
        assert len(datagrams) == COUNT
        start = _received(proxy)
        for i in range(0, COUNT, 50):  # paced, so that the kernel drops none
            for data in datagrams[i:i + 50]:
                sender.sendto(data, (LOOPBACK, proxy.port))
            end = time.monotonic() + 10
            while _received(proxy) < start + min(i + 50, COUNT):
                assert time.monotonic() < end, "the proxy stopped reading"
                assert proxy.proc.poll() is None, proxy.log[-3000:]
                time.sleep(0.01)

        assert _received(proxy) == start + COUNT
        stats = proxy.call("get_statistics", ["all"])
        assert stats["core:engine_failures"] == 0, proxy.log[-5000:]
        assert stats["siptm:route_errors"] == 0, proxy.log[-5000:]
        assert stats["siptm:bad_messages"] >= COUNT // 4  # at least the random bytes
        # what did parse timed out toward the blackhole (fr_timer 1 s): nothing is left
        try:
            proxy.wait_idle(6)
        except TransactionsLinger as exc:
            raise AssertionError(f"the garbage left transactions behind: {exc}") from None

    result = e2e.run_sipp_uac(proxy.address, f"{LOOPBACK}:{uas.port}", "uac_builtin.xml")
    assert result.ok, result.describe() + "\n" + proxy.log[-5000:]
    assert result.stat("SuccessfulCall") == 1
    assert proxy.proc.poll() is None
    assert proxy.call("get_statistics", ["core:engine_failures"]) == {
        "core:engine_failures": 0}
    proxy.wait_idle()
