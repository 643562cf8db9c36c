"""Timer parameters (the seeds' tm names and defaults) and the one timer scheduler.

Rules of this module:
- Pure: no clock is read here. Every time is a ``float`` of seconds handed in by the
  caller; configuration values are integers of milliseconds under their Kamailio names.
- ``TimerConfig`` is the global configuration (frozen); ``Timing`` is what one
  transaction runs with (seconds), shared until a per-transaction override
  (``t_set_fr``, ``t_set_retr``, ``t_set_max_lifetime``) replaces it with a copy.
- ``TimerQueue`` keeps one FIFO list per timer duration (sorted for free, as the
  seeds' tm does) plus a heap for arbitrary deadlines, with lazy cancellation:
  scheduling, cancelling and firing cost O(1) whatever the number of live timers.

Which RFC 3261 / RFC 6026 timer each seed parameter governs (see docs/transactions.md):

======================  ==================================================================
seed parameter          timers it sets
======================  ==================================================================
retr_timer1 (T1)        A, E, G initial interval; with rfc_wait_timers L = M = 64*T1
                        and D = max(32 s, 64*T1)
retr_timer2 (T2)        cap of E and G (A doubles without a cap, RFC 3261 §17.1.1.2)
t4 (T4)                 with rfc_wait_timers, I and K on unreliable transports
fr_timer                B (INVITE, no reply yet), F (non-INVITE), H (wait for the ACK of
                        a non-2xx), and the wait for a final reply after a CANCEL (the
                        RFC 3261 §9.1 64*T1)
fr_inv_timer            the proxy's Timer C (INVITE after a provisional, §16.6 step 11)
max_inv_lifetime /      clamp of every B/C/F deadline (from creation); a server
max_noninv_lifetime     transaction still unanswered then is reported as timed out
wt_timer                J on unreliable transports (seed 003 "relates to timer J"); by
                        default also D, I, K (unreliable) and L, M: the seeds keep a
                        transaction wt_timer after its final reply; the wait after a
                        client transaction timed out or was abandoned, and the grace
                        after a server transaction's lifetime ran out
rfc_wait_timers         1: D, I, K, L, M take their RFC 3261 / RFC 6026 values
delete_timer            kept for configuration compatibility; a transaction is deleted
                        the moment it is terminated and unreferenced (seed 002 note)
======================  ==================================================================
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields, replace
from enum import IntEnum
from heapq import heapify, heappop, heappush
from typing import Any, Final

__all__ = [
    "TIMER_ALIASES",
    "TimerConfig",
    "TimerName",
    "TimerQueue",
    "Timing",
]


class TimerName(IntEnum):
    """Every timer a transaction can run (RFC 3261 Table 4, RFC 6026, seed timers)."""

    A = 1  # INVITE request retransmission (client, unreliable)
    B = 2  # INVITE final-response timeout before any provisional (fr_timer)
    C = 3  # INVITE final-response timeout after a provisional (fr_inv_timer)
    D = 4  # client INVITE Completed: absorb response retransmissions
    E = 5  # non-INVITE request retransmission (client, unreliable)
    F = 6  # non-INVITE final-response timeout (fr_timer)
    G = 7  # INVITE final response retransmission (server, unreliable)
    H = 8  # server INVITE Completed: wait for the ACK (fr_timer)
    I = 9  # server INVITE Confirmed: absorb ACK retransmissions  # noqa: E741
    J = 10  # server non-INVITE Completed: absorb request retransmissions (wt_timer)
    K = 11  # client non-INVITE Completed: absorb response retransmissions
    L = 12  # RFC 6026 server INVITE Accepted
    M = 13  # RFC 6026 client INVITE Accepted
    LIFETIME = 14  # server: max_inv_lifetime / max_noninv_lifetime ran out unanswered
    WAIT = 15  # wt_timer: linger after a timeout / abandon, grace after LIFETIME
    CANCEL = 16  # client INVITE: no final reply after CANCEL (RFC 3261 §9.1; fr_timer)


_MINUS_INFINITY: Final = float("-inf")
RETRANSMISSION_TIMERS: Final = frozenset((TimerName.A, TimerName.E, TimerName.G))

# OpenSIPS names (seed 003) and the factor that converts their unit to milliseconds.
TIMER_ALIASES: Final[dict[str, tuple[str, int]]] = {
    "fr_timeout": ("fr_timer", 1000),
    "fr_inv_timeout": ("fr_inv_timer", 1000),
    "T1_timer": ("retr_timer1", 1),
    "T2_timer": ("retr_timer2", 1),
}


@dataclass(frozen=True, slots=True)
class TimerConfig:
    """Every time-related tm parameter of the seeds, Kamailio names, milliseconds.

    ``restart_fr_on_each_reply``: 1 restarts fr_inv_timer on every provisional reply;
    0 only on the first one and on increasing codes >= 180. ``noisy_ctimer`` is carried
    for the proxy (whether a silent INVITE timeout is answered 408 upstream).
    """

    retr_timer1: int = 500
    retr_timer2: int = 4000
    t4: int = 5000
    fr_timer: int = 30000
    fr_inv_timer: int = 120000
    max_inv_lifetime: int = 180000
    max_noninv_lifetime: int = 32000
    wt_timer: int = 5000
    delete_timer: int = 200
    restart_fr_on_each_reply: int = 1
    noisy_ctimer: int = 1
    fr_inv_timer_next: int = 30000
    rfc_wait_timers: int = 0

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"tm parameter {f.name!r} must be an integer, got {value!r}")
            if value < 0:
                raise ValueError(f"tm parameter {f.name!r} must not be negative, got {value}")
        for name in ("retr_timer1", "retr_timer2", "fr_timer", "fr_inv_timer",
                     "max_inv_lifetime", "max_noninv_lifetime"):
            if getattr(self, name) == 0:
                raise ValueError(f"tm parameter {name!r} must be positive")
        if self.retr_timer2 < self.retr_timer1:
            raise ValueError("tm parameter 'retr_timer2' must not be below 'retr_timer1'")

    @classmethod
    def names(cls) -> tuple[str, ...]:
        """Every accepted key: the Kamailio names, then the OpenSIPS aliases."""
        return tuple(f.name for f in fields(cls)) + tuple(TIMER_ALIASES)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> TimerConfig:
        """Build from ``{name: value}`` (e.g. a ``[tm]`` TOML table).

        Kamailio names take milliseconds; the OpenSIPS aliases take their own units
        (``fr_timeout``/``fr_inv_timeout`` seconds, ``T1_timer``/``T2_timer`` ms).
        Unknown keys, a key given twice (name and alias) and non-integers raise
        ``ValueError``/``TypeError`` naming the key.
        """
        known = {f.name for f in fields(cls)}
        out: dict[str, int] = {}
        given_as: dict[str, str] = {}
        for key, value in values.items():
            if key in known:
                name, factor = key, 1
            elif key in TIMER_ALIASES:
                name, factor = TIMER_ALIASES[key]
            else:
                raise ValueError(f"unknown tm timer parameter {key!r}")
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"tm parameter {key!r} must be an integer, got {value!r}")
            if name in out:
                raise ValueError(f"tm parameter {key!r} repeats {given_as[name]!r}")
            out[name] = value * factor
            given_as[name] = key
        return cls(**out)

    def timing(self, invite: bool) -> Timing:
        """The default per-transaction timing (seconds) for INVITE or non-INVITE."""
        return Timing(
            t1=self.retr_timer1 / 1000,
            t2=self.retr_timer2 / 1000,
            t4=self.t4 / 1000,
            fr=self.fr_timer / 1000,
            fr_inv=self.fr_inv_timer / 1000,
            lifetime=(self.max_inv_lifetime if invite else self.max_noninv_lifetime) / 1000,
            wait=self.wt_timer / 1000,
            rfc_wait=bool(self.rfc_wait_timers),
        )


@dataclass(frozen=True, slots=True)
class Timing:
    """The timer values (seconds) one transaction runs with.

    The derived timers follow RFC 3261 Table 4 / RFC 6026 wherever the seeds do not
    name a parameter for them.
    """

    t1: float
    t2: float
    t4: float
    fr: float
    fr_inv: float
    lifetime: float
    wait: float
    rfc_wait: bool = False

    def replace(self, **changes: Any) -> Timing:
        return replace(self, **changes)

    # After a final response the seeds keep a transaction for wt_timer, whatever its
    # kind (seed 002/003 wt_timer); with ``rfc_wait_timers`` the RFC's own waits apply.
    @property
    def d(self) -> float:
        """Timer D on unreliable transports: wt_timer (seeds), or RFC 3261's "> 32 s",
        no less than 64*T1."""
        return max(32.0, 64 * self.t1) if self.rfc_wait else self.wait

    @property
    def lm(self) -> float:
        """Timers L and M: wt_timer (seeds), or RFC 6026's 64*T1."""
        return 64 * self.t1 if self.rfc_wait else self.wait

    @property
    def ik(self) -> float:
        """Timers I and K on unreliable transports: wt_timer (seeds), or RFC 3261's T4."""
        return self.t4 if self.rfc_wait else self.wait


class TimerQueue:
    """All timers of a transaction layer: O(1) per operation, whatever their number.

    Most timers run for one of a few durations (T1, 2*T1, T2, fr_timer, wt_timer...).
    ``schedule_in(now, delay, ...)`` appends to a FIFO list kept per duration: with a
    clock that never goes back, each list is sorted by deadline for free (the seeds'
    tm keeps its timer lists the same way). ``schedule(when, ...)`` takes any
    absolute time (clamped deadlines, overrides) and uses a heap. Both return a
    handle (a list ``[when, seq, target, kind]``); ``cancel`` blanks its target and
    the entry is dropped when it reaches the head of its list. ``pop_due(now)`` yields
    ``(target, kind)`` of every live timer whose time has come, ordered by deadline,
    then by scheduling order; ``fire_due(now)`` calls ``target._on_timer(kind, now)``
    for them. The earliest deadline is remembered between calls, so
    ``next_deadline()`` after ``fire_due()`` costs nothing.
    """

    __slots__ = ("_dead", "_fifos", "_heap", "_hint", "_hint_ok", "_live", "_seq")

    COMPACT_MIN = 1024

    def __init__(self) -> None:
        self._fifos: dict[float, deque[list[Any]]] = {}
        self._heap: list[list[Any]] = []
        self._seq = itertools.count()
        self._live = 0  # scheduled, not cancelled, not fired
        self._dead = 0  # cancelled entries not yet dropped
        self._hint: float | None = None  # the earliest live deadline, when _hint_ok
        self._hint_ok = True

    def __len__(self) -> int:
        """The number of live (scheduled, not cancelled, not fired) timers."""
        return self._live

    def schedule_in(self, now: float, delay: float, target: Any, kind: Any) -> list[Any]:
        """A timer ``delay`` seconds after ``now`` (O(1))."""
        when = now + delay
        entry = [when, next(self._seq), target, kind]
        self._live += 1
        fifo = self._fifos.get(delay)
        if fifo is None:
            self._fifos[delay] = deque((entry,))
        elif not fifo or fifo[-1][0] <= when:
            fifo.append(entry)
        else:  # the clock went back: keep the list sorted, use the heap
            heappush(self._heap, entry)
        if self._hint_ok and (self._hint is None or when < self._hint):
            self._hint = when
        return entry

    def schedule(self, when: float, target: Any, kind: Any) -> list[Any]:
        """A timer at the absolute time ``when`` (O(log n) heap)."""
        entry = [when, next(self._seq), target, kind]
        self._live += 1
        heappush(self._heap, entry)
        if self._hint_ok and (self._hint is None or when < self._hint):
            self._hint = when
        return entry

    def cancel(self, entry: list[Any] | None) -> None:
        if entry is None or entry[2] is None:
            return
        entry[2] = None
        self._live -= 1
        self._dead += 1
        if entry[0] == self._hint:
            self._hint_ok = False
        if self._dead > self.COMPACT_MIN and self._dead > 2 * self._live:
            self._compact()

    def _compact(self) -> None:
        heap = self._heap
        heap[:] = [e for e in heap if e[2] is not None]
        heapify(heap)
        for delay, fifo in list(self._fifos.items()):
            live = [e for e in fifo if e[2] is not None]
            if live:
                fifo.clear()
                fifo.extend(live)
            else:
                del self._fifos[delay]
        self._dead = 0

    def _collect(self, now: float) -> list[list[Any]]:
        """Take the live entries due at ``now`` (sorted); drop dead heads on the way
        and remember the earliest deadline left."""
        due: list[list[Any]] = []
        dead = 0
        best: float | None = None
        for fifo in self._fifos.values():
            while fifo:
                head = fifo[0]
                if head[2] is None:
                    fifo.popleft()
                    dead += 1
                elif head[0] <= now:
                    due.append(fifo.popleft())
                else:
                    if best is None or head[0] < best:
                        best = head[0]
                    break
        heap = self._heap
        while heap:
            head = heap[0]
            if head[2] is None:
                heappop(heap)
                dead += 1
            elif head[0] <= now:
                due.append(heappop(heap))
            else:
                if best is None or head[0] < best:
                    best = head[0]
                break
        self._dead -= dead
        self._hint = best
        self._hint_ok = True
        if len(due) > 1:
            # entries compare as lists: deadline, then the sequence number (unique, so
            # the targets are never compared), as the heap orders them
            due.sort()
        return due

    def next_deadline(self) -> float | None:
        """When the earliest live timer is due (``None`` when there is none)."""
        if not self._hint_ok:
            self._collect(_MINUS_INFINITY)
        return self._hint

    def pop_due(self, now: float) -> Iterator[tuple[Any, Any]]:
        """Yield and retire every live timer due at ``now``, earliest first; timers
        scheduled or cancelled while iterating are taken into account."""
        while True:
            due = self._collect(now)
            if not due:
                return
            for entry in due:
                target = entry[2]
                if target is None:  # cancelled by an earlier timer of this round
                    self._dead -= 1
                    continue
                entry[2] = None  # fired: a later cancel() of this handle is a no-op
                self._live -= 1
                yield target, entry[3]
            hint = self._hint
            if self._hint_ok and (hint is None or hint > now):
                return

    def fire_due(self, now: float) -> None:
        """Call ``target._on_timer(kind, now)`` for every live timer due at ``now``,
        in the order of :meth:`pop_due` (the transaction layer's path)."""
        while True:
            due = self._collect(now)
            if not due:
                return
            for entry in due:
                target = entry[2]
                if target is None:
                    self._dead -= 1
                    continue
                entry[2] = None
                self._live -= 1
                target._on_timer(entry[3], now)
            hint = self._hint
            if self._hint_ok and (hint is None or hint > now):
                return
