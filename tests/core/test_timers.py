"""TimerConfig (seed parameters, units, aliases) and TimerQueue (ordering, O(1))."""

from __future__ import annotations

import pytest

from siptm.core import TIMER_ALIASES, TimerConfig, TimerQueue


def test_defaults_are_the_seeds() -> None:
    c = TimerConfig()
    assert (c.retr_timer1, c.retr_timer2, c.t4) == (500, 4000, 5000)
    assert (c.fr_timer, c.fr_inv_timer) == (30000, 120000)
    assert (c.max_inv_lifetime, c.max_noninv_lifetime) == (180000, 32000)
    assert (c.wt_timer, c.delete_timer) == (5000, 200)
    assert (c.restart_fr_on_each_reply, c.noisy_ctimer, c.fr_inv_timer_next) == (1, 1, 30000)


def test_opensips_aliases_in_their_own_units() -> None:
    c = TimerConfig.from_mapping(
        {"fr_timeout": 10, "fr_inv_timeout": 200, "T1_timer": 700, "T2_timer": 8000})
    assert (c.fr_timer, c.fr_inv_timer, c.retr_timer1, c.retr_timer2) == (
        10000, 200000, 700, 8000)
    assert set(TIMER_ALIASES) == {"fr_timeout", "fr_inv_timeout", "T1_timer", "T2_timer"}
    assert "wt_timer" in TimerConfig.names() and "fr_timeout" in TimerConfig.names()


def test_kamailio_names_in_milliseconds() -> None:
    c = TimerConfig.from_mapping({"fr_timer": 10000, "wt_timer": 1000, "retr_timer1": 1000})
    assert c.timing(True).fr == 10.0 and c.timing(True).wait == 1.0
    assert c.timing(True).t1 == 1.0
    assert c.timing(True).lifetime == 180.0 and c.timing(False).lifetime == 32.0


@pytest.mark.parametrize("mapping,error,key", [
    ({"fr_timr": 1}, ValueError, "fr_timr"),
    ({"fr_timer": "30"}, TypeError, "fr_timer"),
    ({"fr_timeout": 1.5}, TypeError, "fr_timeout"),
    ({"wt_timer": True}, TypeError, "wt_timer"),
    ({"fr_timer": 1000, "fr_timeout": 1}, ValueError, "fr_timeout"),
    ({"wt_timer": -1}, ValueError, "wt_timer"),
    ({"retr_timer1": 0}, ValueError, "retr_timer1"),
    ({"retr_timer1": 5000, "retr_timer2": 4000}, ValueError, "retr_timer2"),
])
def test_bad_parameters_are_rejected_naming_the_key(mapping: dict, error: type,
                                                   key: str) -> None:
    with pytest.raises(error, match=key):
        TimerConfig.from_mapping(mapping)


def test_rfc_derived_timers() -> None:
    t = TimerConfig(rfc_wait_timers=1).timing(True)
    assert t.d == 32.0 and t.lm == 32.0 and t.ik == 5.0
    slow = TimerConfig(retr_timer1=1000, retr_timer2=4000, rfc_wait_timers=1).timing(True)
    assert slow.d == 64.0 and slow.lm == 64.0


def test_seed_wait_timer_ends_every_completed_transaction() -> None:
    # seeds 002/003 wt_timer: after its final reply a transaction waits wt_timer, whatever
    # RFC timer (D, I, K, L, M) would otherwise hold it
    t = TimerConfig(wt_timer=1200, t4=5000).timing(True)
    assert t.d == t.lm == t.ik == 1.2


# --- the queue --------------------------------------------------------------------


def drain(queue: TimerQueue, now: float) -> list:
    return [(kind, target) for target, kind in queue.pop_due(now)]


def test_fires_in_deadline_then_scheduling_order() -> None:
    q = TimerQueue()
    q.schedule_in(0.0, 4.0, "a", 1)
    q.schedule_in(0.0, 0.5, "b", 2)
    q.schedule(2.0, "c", 3)
    q.schedule_in(1.5, 0.5, "d", 4)  # due 2.0 too, scheduled after c
    q.schedule_in(0.0, 4.0, "e", 5)
    assert q.next_deadline() == 0.5 and len(q) == 5
    assert drain(q, 1.0) == [(2, "b")]
    assert drain(q, 10.0) == [(3, "c"), (4, "d"), (1, "a"), (5, "e")]
    assert q.next_deadline() is None and len(q) == 0


def test_cancel_is_lazy_and_exact() -> None:
    q = TimerQueue()
    h1 = q.schedule_in(0.0, 1.0, "x", 1)
    h2 = q.schedule(0.5, "y", 2)
    q.schedule_in(0.0, 2.0, "z", 3)
    q.cancel(h1)
    q.cancel(h2)
    q.cancel(h2)  # twice: no-op
    q.cancel(None)
    assert len(q) == 1 and q.next_deadline() == 2.0
    assert drain(q, 5.0) == [(3, "z")]


def test_cancel_during_firing_and_scheduling_due_timers() -> None:
    q = TimerQueue()
    handles: dict[str, list] = {}

    class Target:
        def __init__(self, name: str) -> None:
            self.name = name

    a, b, c = Target("a"), Target("b"), Target("c")
    handles["a"] = q.schedule_in(0.0, 1.0, a, 1)
    handles["b"] = q.schedule_in(0.0, 1.0, b, 1)
    fired = []
    for target, _ in q.pop_due(1.0):
        fired.append(target.name)
        if target is a:
            q.cancel(handles["b"])  # b was due in the same round: not fired
            q.schedule(1.0, c, 2)  # due now: fired in this round
    assert fired == ["a", "c"]
    assert len(q) == 0


def test_clock_going_back_keeps_order() -> None:
    q = TimerQueue()
    q.schedule_in(10.0, 1.0, "late", 1)
    q.schedule_in(5.0, 1.0, "early", 1)  # same duration, earlier deadline
    assert q.next_deadline() == 6.0
    assert drain(q, 20.0) == [(1, "early"), (1, "late")]


def test_compaction_keeps_live_timers() -> None:
    q = TimerQueue()
    keep = [q.schedule_in(0.0, 100.0 + i, f"k{i}", 1) for i in range(10)]
    junk = [q.schedule_in(0.0, 50.0, f"j{i}", 1) for i in range(5000)]
    junk += [q.schedule(float(i), f"h{i}", 1) for i in range(5000)]
    for h in junk:
        q.cancel(h)
    assert len(q) == 10
    assert q.next_deadline() == 100.0
    assert [t for _, t in drain(q, 1000.0)] == [f"k{i}" for i in range(10)]
    assert keep[0][2] is None  # fired handles are spent


def test_firing_does_not_depend_on_the_number_of_live_timers() -> None:
    """O(1): the FIFO of a duration is touched only at its head."""
    q = TimerQueue()
    for i in range(100_000):
        q.schedule_in(float(i) * 1e-3, 30.0, i, 1)
    fired = drain(q, 30.0 + 0.0015)
    assert [t for _, t in fired] == [0, 1]
    assert len(q) == 100_000 - 2


def test_next_deadline_follows_schedules_cancels_and_firing() -> None:
    q = TimerQueue()
    assert q.next_deadline() is None
    a = q.schedule_in(0.0, 5.0, "a", 1)
    assert q.next_deadline() == 5.0
    b = q.schedule(2.0, "b", 1)
    assert q.next_deadline() == 2.0
    q.cancel(b)
    assert q.next_deadline() == 5.0
    q.schedule_in(0.0, 0.5, "c", 1)
    assert q.next_deadline() == 0.5
    assert drain(q, 0.5) == [(1, "c")]
    assert q.next_deadline() == 5.0
    q.cancel(a)
    assert q.next_deadline() is None and len(q) == 0

    class Target:
        def __init__(self) -> None:
            self.fired: list[tuple[int, float]] = []

        def _on_timer(self, kind: int, now: float) -> None:
            self.fired.append((kind, now))
            if kind == 1:
                q.schedule_in(now, 0.0, self, 2)  # due at once: same round

    t = Target()
    q.schedule_in(1.0, 1.0, t, 1)
    q.fire_due(2.0)
    assert t.fired == [(1, 2.0), (2, 2.0)] and q.next_deadline() is None
