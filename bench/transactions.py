"""Benchmark of the transaction layer (siptm.core): figures and ratios, no pass/fail.

1. Server+client transaction pairs per second, the way a stateful proxy uses them:
   an INVITE arrives (server transaction created), is relayed (client transaction
   created), the 200 OK comes back (matched to the client transaction), is sent
   upstream (server transaction answered); the fake clock runs on until both
   transactions have terminated and left the table. A no-op transport: effects are
   drained and dropped. Messages are parsed before the clock starts (the parser has
   its own benchmark); a second figure includes parsing the two incoming messages.
2. The same for non-INVITE (MESSAGE / 200) pairs.
3. The cost of one timer operation (schedule + cancel, schedule + fire) with 1,000
   and with 1,000,000 live timers in the queue.

Times are CPU time of this process (time.process_time), so that other work on the
machine inflates them less. Run: .venv/bin/python bench/transactions.py [--pairs N]
[--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import pstats
import random
import time

from siptm.core import IdFactory, TimerQueue, TransactionLayer
from siptm.net import Address
from siptm.sip import Response, parse

UAC = Address("udp", "192.0.2.1", 5060)
UAS = Address("udp", "192.0.2.9", 5060)
RATE = 2000.0  # simulated arrivals per second of fake-clock time
SORT = "tottime"


def _request_bytes(method: str, i: int, branch: str, host: str, extra_via: str = "") -> bytes:
    return (
        f"{method} sip:bob@example.com SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP {host}:5060;branch={branch}\r\n"
        f"{extra_via}"
        "Max-Forwards: 70\r\n"
        "From: Alice <sip:alice@example.com>;tag=a73kszlfl\r\n"
        "To: Bob <sip:bob@example.com>\r\n"
        f"Call-ID: {i}-f81d4fae7dec11d0a76500a0c91e6bf6@192.0.2.1\r\n"
        f"CSeq: 1 {method}\r\n"
        "Contact: <sip:alice@192.0.2.1:5060>\r\n"
        "User-Agent: bench\r\n"
        "Content-Length: 0\r\n\r\n"
    ).encode()


def build(method: str, n: int) -> list[tuple]:
    """Per pair: the upstream request, the relayed request, the downstream 200 (each
    as bytes and parsed) and the 200 to send upstream."""
    out = []
    for i in range(n):
        up_b = _request_bytes(method, i, f"z9hG4bKuac{i}", "192.0.2.1")
        up = parse(up_b)
        down_b = _request_bytes(
            method, i, f"z9hG4bKpx{i}", "198.51.100.1",
            f"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKuac{i}\r\n")
        down = parse(down_b)
        ok_b = bytes(Response.for_request(down, 200, to_tag=f"b{i}"))
        ok = parse(ok_b)
        relay = Response.for_request(up, 200, to_tag=f"b{i}")  # what goes upstream
        out.append((up_b, up, down_b, down, ok_b, ok, relay))
    return out


def run_pairs(method: str, n: int, with_parse: bool, profile: bool = False) -> float:
    data = build(method, n)
    layer = TransactionLayer(ids=IdFactory("bench"))
    prof = cProfile.Profile() if profile else None
    gc.collect()
    gc.disable()
    step = 1.0 / RATE
    now = 0.0
    start = time.process_time()
    if prof:
        prof.enable()
    receive, send_request, respond = layer.receive, layer.send_request, layer.respond
    drain = layer.drain  # the no-op transport: effects are taken and dropped
    handle_timers, next_deadline = layer.handle_timers, layer.next_deadline
    for up_b, up, down_b, down, ok_b, ok, relay in data:
        now += step
        if with_parse:  # the proxy parses what arrives and copies what it relays
            up, down, ok = parse(up_b), parse(down_b), parse(ok_b)
        server = receive(up, UAC, now)[-1].tx  # the DeliverRequest
        send_request(down, UAS, now, owner=server)
        drain()
        receive(ok, UAS, now)
        respond(server, relay, now)
        drain()
        deadline = next_deadline()
        if deadline is not None and deadline <= now:
            handle_timers(now)
    now += 600.0
    while (deadline := next_deadline()) is not None:
        handle_timers(deadline)
    elapsed = time.process_time() - start
    if prof:
        prof.disable()
        pstats.Stats(prof).sort_stats(SORT).print_stats(40)
    gc.enable()
    assert layer.in_use == 0, layer.in_use
    return n / elapsed


DURATIONS = (0.5, 1.0, 2.0, 4.0, 5.0, 30.0, 32.0, 120.0, 180.0)


def _queue_with(live: int) -> tuple[TimerQueue, float]:
    queue = TimerQueue()
    target = object()
    step = 0.4 / live
    for i in range(live):  # as a running proxy: deadlines spread over the durations
        queue.schedule_in(i * step, DURATIONS[i % len(DURATIONS)], target, 1)
    return queue, 0.4  # none of them is due yet at 0.4


def timer_costs(live: int, ops: int = 200_000) -> dict[str, float]:
    """CPU ns per operation with ``live`` timers in the queue (a fresh queue for each
    kind of operation): schedule_in + cancel and schedule_in + fire (the transactions'
    path: FIFO lists per duration), and schedule + cancel with absolute deadlines
    (the heap path). A cancelled entry is dropped later, when it reaches the head of
    its list (O(1)) or of the heap (O(log n)), or by a compaction."""
    rng = random.Random(7)
    target = object()
    delays = [rng.choice(DURATIONS) for _ in range(ops)]
    offsets = [rng.uniform(1.0, 200.0) for _ in range(ops)]
    out: dict[str, float] = {}

    queue, now = _queue_with(live)
    schedule_in, cancel = queue.schedule_in, queue.cancel
    gc.collect()
    gc.disable()
    start = time.process_time()
    for delay in delays:
        cancel(schedule_in(now, delay, target, 2))
    out["fifo schedule+cancel"] = (time.process_time() - start) / ops * 1e9
    gc.enable()

    queue, now = _queue_with(live)
    schedule, cancel = queue.schedule, queue.cancel
    gc.collect()
    gc.disable()
    start = time.process_time()
    for offset in offsets:
        cancel(schedule(now + offset, target, 2))
    out["heap schedule+cancel"] = (time.process_time() - start) / ops * 1e9
    gc.enable()

    queue, now = _queue_with(live)
    schedule_in = queue.schedule_in
    gc.collect()
    gc.disable()
    start = time.process_time()
    for _ in range(ops):  # one new timer due each step; the queue keeps its size
        schedule_in(now, 0.0, target, 3)
        for _item in queue.pop_due(now):
            pass
    out["fifo schedule+fire"] = (time.process_time() - start) / ops * 1e9
    gc.enable()
    assert len(queue) == live
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=100_000)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    n = args.pairs
    if args.profile:
        run_pairs("INVITE", n, with_parse=False, profile=True)
        return
    inv = max(run_pairs("INVITE", n, with_parse=False) for _ in range(3))
    inv_p = max(run_pairs("INVITE", n, with_parse=True) for _ in range(2))
    msg = max(run_pairs("MESSAGE", n, with_parse=False) for _ in range(3))
    print(f"transaction pairs (server+client, created/matched/completed), {n} pairs:")
    print(f"  INVITE/200, pre-parsed messages : {inv:10,.0f} pairs/s"
          f"  ({1e6 / inv:5.1f} us/pair; target 50,000/s: x{inv / 50_000:.2f})")
    print(f"  INVITE/200, parsing included    : {inv_p:10,.0f} pairs/s"
          f"  ({1e6 / inv_p:5.1f} us/pair)")
    print(f"  MESSAGE/200, pre-parsed messages: {msg:10,.0f} pairs/s"
          f"  ({1e6 / msg:5.1f} us/pair)")
    small = timer_costs(1_000)
    large = timer_costs(1_000_000)
    print("timer queue (FIFO list per duration + heap for absolute deadlines, lazy cancel):")
    for name in small:
        print(f"  {name:21s}: {small[name]:6.0f} ns at 1,000 live, {large[name]:6.0f} ns at "
              f"1,000,000 live  (ratio {large[name] / small[name]:.2f})")


if __name__ == "__main__":
    main()
