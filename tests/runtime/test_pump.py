"""siptm.runtime.pump without sockets or a loop: the engine's calls, the dispatch of its
effects (UDP sends straight to the listener's socket, everything else to the server's
callbacks), the timer arithmetic, and failures reported instead of raised."""

from __future__ import annotations

import errno

import pytest

from siptm.net import Address
from siptm.runtime.effects import RunCoroutine, Send
from siptm.runtime.pump import TIMER_RESOLUTION, Pump, UdpReceiver, UdpSender

V4 = Address("udp", "127.0.0.1", 5060)
V6 = Address("udp", "::1", 5060)
PEER = Address("udp", "192.0.2.7", 5070)


class Socket:
    """sendto that records, or raises what it is told to."""

    def __init__(self) -> None:
        self.sent: list[tuple[bytes, tuple[str, int]]] = []
        self.fail: OSError | None = None

    def sendto(self, data: bytes, addr: tuple[str, int]) -> int:
        if self.fail is not None:
            raise self.fail
        self.sent.append((data, addr))
        return len(data)


class Wired:
    """A pump wired to recording callbacks, with one IPv4 and one IPv6 listener."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []
        self.deadline: float | None = None
        self.effects: list[object] = []
        self.clock = 100.0
        self.v4, self.v6 = Socket(), Socket()
        pump = self.pump = Pump()
        pump.receive = self.receive
        pump.handle_timers = lambda now: self.record("timers", now)
        pump.next_deadline = lambda: self.deadline
        pump.time = lambda: self.clock
        pump.arm = lambda when: self.calls.append(("arm", when))
        pump.send = lambda *args: self.calls.append(("transports", *args))
        pump.dispatch_effects = lambda effects, now: self.calls.append(
            ("dispatch", list(effects), now))
        pump.engine_failed = lambda what, source, size: self.calls.append(
            ("engine failed", what, source, size))
        pump.send_failed = lambda: self.calls.append(("send failed",))
        self.buffered: list[tuple] = []
        self.errors: list[tuple] = []
        pump.udp = [
            UdpSender(V4, False, self.v4.sendto, self.buffer, self.error),
            UdpSender(V6, True, self.v6.sendto, self.buffer, self.error),
        ]

    def receive(self, data, source, local, now):
        self.calls.append(("receive", data, source, local, now))
        if data == b"boom":
            raise RuntimeError("engine bug")
        return self.effects

    def record(self, *call):
        self.calls.append(call)
        return self.effects

    def buffer(self, data, dest, token):
        self.buffered.append((data, dest, token))
        return True

    def error(self, dest, reason, token):
        self.errors.append((dest, reason, token))


def test_a_message_reaches_the_engine_and_its_udp_sends_leave_on_the_named_listener():
    w = Wired()
    w.effects = [Send(b"a", PEER, V4), Send(b"b", Address("udp", "2001:db8::5", 5070), V6)]
    w.pump.on_message(b"INVITE", PEER, V4)
    assert w.calls == [("receive", b"INVITE", PEER, V4, 100.0)]
    assert w.v4.sent == [(b"a", ("192.0.2.7", 5070))]
    assert w.v6.sent == [(b"b", ("2001:db8::5", 5070))]
    assert w.pump.received == 1 and w.pump.udp[0].sent == 1


def test_without_a_named_listener_the_first_of_the_address_family_sends():
    w = Wired()
    w.effects = [Send(b"a", PEER), Send(b"b", Address("udp", "2001:db8::5", 5070))]
    w.pump.on_message(b"x", PEER, V4)
    assert w.v4.sent == [(b"a", ("192.0.2.7", 5070))]
    assert w.v6.sent == [(b"b", ("2001:db8::5", 5070))]


@pytest.mark.parametrize("dest, local", [
    (Address("tcp", "192.0.2.7", 5070), V4),  # a stream transport
    (Address("udp", "proxy.example.com", 5060), V4),  # a name: resolved first
    (Address("udp", "[2001:db8::5]", 5070), None),  # brackets: the transports strip them
    (PEER, Address("udp", "127.0.0.1", 5060)),  # an equal copy of a listener
])
def test_every_other_send_goes_to_the_transports(dest, local):
    w = Wired()
    token = object()
    w.effects = [Send(b"a", dest, local, token)]
    w.pump.on_message(b"x", PEER, V4)
    assert ("transports", b"a", dest, local, token) in w.calls
    assert not w.v4.sent and not w.v6.sent


def test_other_effects_go_to_the_registry_in_order_and_all_of_them_when_asked():
    w = Wired()
    coroutine = RunCoroutine(None, lambda *a: None)  # type: ignore[arg-type]
    w.effects = [Send(b"a", PEER, V4), coroutine]
    w.pump.on_message(b"x", PEER, V4)
    assert ("dispatch", [coroutine], 100.0) in w.calls
    w.pump.direct_send = False
    w.calls.clear()
    w.pump.on_message(b"x", PEER, V4)
    assert ("dispatch", w.effects, 100.0) in w.calls
    assert len(w.v4.sent) == 1  # only the first message's send went out directly


def test_a_socket_that_would_block_hands_the_datagram_to_the_transport():
    w = Wired()
    w.v4.fail = BlockingIOError(errno.EAGAIN, "would block")
    w.effects = [Send(b"a", PEER, V4, "token")]
    w.pump.on_message(b"x", PEER, V4)
    assert w.buffered == [(b"a", PEER, "token")] and w.pump.udp[0].sent == 1


def test_a_failed_sendto_is_reported_with_its_destination_and_token():
    w = Wired()
    w.v4.fail = OSError(errno.EPERM, "Operation not permitted")
    w.effects = [Send(b"a", PEER, V4, "token")]
    w.pump.on_message(b"x", PEER, V4)
    assert w.errors == [(PEER, "udp send failed: Operation not permitted", "token")]
    assert w.pump.udp[0].sent == 0


def test_an_engine_failure_is_reported_and_the_next_message_still_works():
    w = Wired()
    w.pump.on_message(b"boom", PEER, V4)
    assert ("engine failed", "a message", PEER, 4) in w.calls
    assert w.pump.engine_failures == 1
    w.effects = [Send(b"a", PEER, V4)]
    w.pump.on_message(b"ok", PEER, V4)
    assert w.v4.sent == [(b"a", ("192.0.2.7", 5070))]


def test_a_send_that_raises_is_reported_and_the_rest_of_the_batch_goes_out():
    w = Wired()
    w.effects = [Send(b"a", "not an address", V4), Send(b"b", PEER, V4)]  # type: ignore[arg-type]
    w.pump.on_message(b"x", PEER, V4)
    assert ("send failed",) in w.calls and w.v4.sent == [(b"b", ("192.0.2.7", 5070))]


def test_the_timer_is_armed_on_the_grid_and_only_moved_earlier():
    w = Wired()
    w.deadline = 100.123
    w.pump.on_message(b"x", PEER, V4)
    arms = [c for c in w.calls if c[0] == "arm"]
    assert len(arms) == 1 and arms[0][1] == pytest.approx(100.13)
    w.deadline = 105.0
    w.pump.on_message(b"x", PEER, V4)  # later than the armed one: nothing to do
    w.deadline = 100.05
    w.pump.on_message(b"x", PEER, V4)  # earlier: re-armed
    arms = [c[1] for c in w.calls if c[0] == "arm"]
    assert arms == [pytest.approx(100.13), pytest.approx(100.05)]
    w.deadline = None
    w.pump.on_message(b"x", PEER, V4)
    assert len([c for c in w.calls if c[0] == "arm"]) == 2
    assert 0 < TIMER_RESOLUTION <= 0.0625  # never coarser than Kamailio's tick


def test_the_timer_hands_the_engine_no_time_before_the_deadline():
    w = Wired()
    w.deadline = 100.2
    w.pump.on_message(b"x", PEER, V4)
    w.clock = 100.1999  # call_at fired a hair early
    w.deadline = None
    w.pump.on_timer()
    assert ("timers", pytest.approx(100.2)) in w.calls
    assert not w.pump.armed


def test_after_close_the_timer_is_not_re_armed_and_sends_go_to_the_transports():
    w = Wired()
    w.pump.closed = True
    w.deadline = 101.0
    w.effects = [Send(b"a", PEER, V4)]
    w.pump.call(lambda now: w.effects, 100.0, "shutdown")
    assert not [c for c in w.calls if c[0] == "arm"]
    assert ("transports", b"a", PEER, V4, None) in w.calls


def test_the_receiver_reads_what_is_queued_up_to_its_budget():
    got: list[tuple] = []
    queue = [(b"2", ("192.0.2.7", 5070)), (b"3", ("192.0.2.8", 5070))]

    def recvfrom(size):
        if not queue:
            raise BlockingIOError
        return queue.pop(0)

    receiver = UdpReceiver(V4, lambda *m: got.append(m), recvfrom, 64, lambda exc: None)
    receiver.datagram_received(b"1", ("192.0.2.7", 5070))
    assert [m[0] for m in got] == [b"1", b"2", b"3"] and receiver.received == 3
    assert got[0][1] is got[1][1]  # one Address per peer, reused
    assert got[2][1] == Address("udp", "192.0.2.8", 5070) and got[2][2] is V4
    one = UdpReceiver(V4, lambda *m: got.append(m), recvfrom, 1, lambda exc: None)
    queue.append((b"4", ("192.0.2.7", 5070)))
    one.datagram_received(b"5", ("192.0.2.7", 5070))
    assert got[-1][0] == b"5" and queue  # a budget of one reads nothing more


def test_a_pump_not_wired_yet_drops_what_arrives_without_raising():
    """A datagram can arrive between the listeners' bind and the engine's start: an
    exception would reach the loop (uvloop then closes the datagram transport)."""
    pump = Pump()
    receiver = UdpReceiver(V4, pump.on_message, lambda size: (b"", None), 1, lambda exc: None)
    receiver.datagram_received(b"INVITE", ("192.0.2.7", 5070))
    pump.on_timer()
    assert pump.received == 1 and pump.engine_failures == 0 and not pump.armed


def test_nothing_a_message_raises_escapes_the_receiver():
    failures: list[bool] = []

    def on_message(data, source, local):
        if data == b"bad":
            raise RuntimeError("a bug below the pump")
        failures.append(False)

    receiver = UdpReceiver(V4, on_message, lambda size: (b"ok", ("192.0.2.7", 5070)), 2,
                           lambda exc: None, lambda: failures.append(True))
    receiver.datagram_received(b"bad", ("192.0.2.7", 5070))  # then reads b"ok"
    assert failures == [True, False] and receiver.failures == 1 and receiver.received == 2
