"""The proxy's own cost per call, without sockets: a full INVITE/100/180/200/ACK/BYE/200
call pushed through Engine + ScriptRunner (the shared bench's stateful script) with a
fake clock. Only the CPU time spent inside the engine is counted (building the peers'
messages is not). ``--profile`` prints the top functions (cProfile) of that same
engine work only.

Run: ``.venv/bin/python bench/proxy_call.py [--calls 3000] [--profile]``.
"""

from __future__ import annotations

import argparse
import collections
import cProfile
import gc
import pstats
import sys
import time
from pathlib import Path

from siptm.config import Config
from siptm.core.engine import Engine
from siptm.net import Address
from siptm.runtime.effects import Send
from siptm.runtime.server import GC_THRESHOLDS
from siptm.script.runner import ScriptRunner, load_router
from siptm.sip import Request, Response, parse

_cpu = time.thread_time  # CPU time of this thread: other load on the box is not billed

PROXY = Address("udp", "127.0.0.1", 5060)
UAC = Address("udp", "127.0.0.1", 5070)
UAS = Address("udp", "127.0.0.1", 5080)
SCRIPT = Path(__file__).parent / "scripts" / "stateful.py"


def invite(n: int) -> bytes:
    sdp = b"v=0\r\no=user1 53655765 2353687637 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n" \
          b"t=0 0\r\nm=audio 6000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
    return (
        f"INVITE sip:service@127.0.0.1:5080 SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-{n}-1-0\r\n"
        f"From: sipp <sip:sipp@127.0.0.1:5070>;tag={n}SIPpTag001\r\n"
        f"To: service <sip:service@127.0.0.1:5080>\r\n"
        f"Call-ID: {n}-1@127.0.0.1\r\nCSeq: 1 INVITE\r\n"
        f"Contact: sip:sipp@127.0.0.1:5070\r\nMax-Forwards: 70\r\n"
        f"Subject: Performance Test\r\nContent-Type: application/sdp\r\n"
        f"Content-Length: {len(sdp)}\r\n\r\n"
    ).encode() + sdp


def in_dialog(n: int, method: str, cseq: int, step: int) -> bytes:
    return (
        f"{method} sip:service@127.0.0.1:5080 SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-{n}-1-{step}\r\n"
        f"From: sipp <sip:sipp@127.0.0.1:5070>;tag={n}SIPpTag001\r\n"
        f"To: service <sip:service@127.0.0.1:5080>;tag={n}UAS\r\n"
        f"Call-ID: {n}-1@127.0.0.1\r\nCSeq: {cseq} {method}\r\n"
        f"Contact: sip:sipp@127.0.0.1:5070\r\nMax-Forwards: 70\r\n"
        f"Subject: Performance Test\r\nContent-Length: 0\r\n\r\n"
    ).encode()


def reply(request_bytes: bytes, status: int, n: int) -> bytes:
    request = parse(request_bytes)
    assert isinstance(request, Request)
    tag = f"{n}UAS" if status > 100 else None
    return bytes(Response.for_request(request, status, to_tag=tag))


class Bench:
    def __init__(self) -> None:
        config = Config.from_mapping({"listen": ["udp:127.0.0.1:5060"]})
        self.engine = Engine(config, (PROXY,), seed=b"bench")
        self.runner = ScriptRunner(self.engine, load_router(str(SCRIPT)))
        self.now = 0.0
        self.busy = 0.0
        self.per_message: collections.Counter[str] = collections.Counter()
        self.profiler: cProfile.Profile | None = None

    def feed(self, data: bytes, source: Address, label: str) -> list[Send]:
        profiler = self.profiler
        if profiler is not None:
            profiler.enable()
        start = _cpu()
        effects = self.runner.receive(data, source, PROXY, self.now)
        spent = _cpu() - start
        self.busy += spent
        self.per_message[label] += spent
        if profiler is not None:
            profiler.disable()
        return [e for e in effects if isinstance(e, Send)]

    def tick(self, dt: float) -> None:
        self.now += dt
        deadline = self.engine.next_deadline()
        if deadline is not None and deadline <= self.now:
            profiler = self.profiler
            if profiler is not None:
                profiler.enable()
            start = _cpu()
            self.runner.handle_timers(self.now)
            spent = _cpu() - start
            self.busy += spent
            self.per_message["timers"] += spent
            if profiler is not None:
                profiler.disable()

    def call(self, n: int) -> None:
        out = self.feed(invite(n), UAC, "INVITE")
        fwd = next(e.data for e in out if e.dest == UAS)
        self.feed(reply(fwd, 100, n), UAS, "100")
        self.feed(reply(fwd, 180, n), UAS, "180")
        self.feed(reply(fwd, 200, n), UAS, "200 INVITE")
        out = self.feed(in_dialog(n, "ACK", 1, 5), UAC, "ACK")
        assert any(e.dest == UAS for e in out), "ACK not forwarded"
        out = self.feed(in_dialog(n, "BYE", 2, 7), UAC, "BYE")
        fwd = next(e.data for e in out if e.dest == UAS)
        out = self.feed(reply(fwd, 200, n), UAS, "200 BYE")
        assert any(e.dest == UAC for e in out), "200 for BYE not relayed"
        self.tick(0.002)  # 500 calls/s of simulated time


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=10, help="slices of the calls")
    parser.add_argument("--default-gc", action="store_true",
                        help="Python's GC thresholds instead of the runtime's")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--top", type=int, default=30, help="functions shown by --profile")
    parser.add_argument("--callers", default="", help="--profile: callers of (regex)")
    parser.add_argument("--per-message", action="store_true",
                        help="also print the mean CPU per message kind (and timers)")
    args = parser.parse_args()
    bench = Bench()
    for n in range(200):  # warm up
        bench.call(n)
    # the running proxy's GC settings (script.runner.create freezes what start-up made,
    # runtime.server.run sets the thresholds)
    gc.collect()
    gc.freeze()
    if not args.default_gc:
        gc.set_threshold(*GC_THRESHOLDS)
    profiler = bench.profiler = cProfile.Profile() if args.profile else None
    # the calls run in slices; the least disturbed slice is the figure (a busy box
    # only ever adds time), the mean is printed beside it
    rounds = max(1, min(args.rounds, args.calls // 100))
    size = args.calls // rounds
    per_slice = []
    bench.per_message.clear()
    for first in range(200, 200 + rounds * size, size):
        bench.busy = 0.0
        for n in range(first, first + size):
            bench.call(n)
        per_slice.append(bench.busy / size * 1e6)
    bench.profiler = None
    measured = dict(bench.per_message)
    for _ in range(100):  # let every transaction end
        bench.tick(1.0)
    mean = sum(per_slice) / len(per_slice)
    print(f"engine CPU per call: {min(per_slice):.0f} us (best of {rounds} slices of {size} "
          f"calls; mean {mean:.0f}; 7 messages in, 8 out each); in-use transactions after "
          f"wt_timer: {bench.engine.in_use}")
    if args.per_message:
        calls = rounds * size
        for label, spent in measured.items():
            print(f"  {label:<11} {spent / calls * 1e6:6.1f} us")
    if profiler:
        stats = pstats.Stats(profiler)
        stats.sort_stats("tottime").print_stats(args.top)
        if args.callers:
            stats.print_callers(args.callers)
    return 0


if __name__ == "__main__":
    sys.exit(main())
