"""What every transaction shares: states, inputs, the transition-table machinery,
its two timer slots and the per-transaction timer overrides.

Rules of this module:
- A transaction is a state machine driven by ``(state, input) -> (next state, action)``
  tables (one per RFC figure, defined next to each class). A pair missing from the
  table is ignored (the figures' "-"). The state is set before the action runs; an
  action may move on further (e.g. into Terminated when a timer's value is 0).
- A transaction runs at most two timers: the retransmission slot (A, E, G) and the
  main slot (everything else). Timers live in the layer's one ``TimerQueue``.
- Transactions never send or deliver anything themselves: they append effects to
  their layer's queue.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import TYPE_CHECKING, Any, ClassVar, Final

from ..sip import Request, Response
from .timers import RETRANSMISSION_TIMERS, TimerName, Timing

if TYPE_CHECKING:
    from .layer import TransactionLayer

__all__ = ["Event", "State", "Transaction", "Transition"]


class State(IntEnum):
    """The states of RFC 3261 §17 (figures 5-8) and RFC 6026 (Accepted)."""

    CALLING = 1
    TRYING = 2
    PROCEEDING = 3
    COMPLETED = 4
    CONFIRMED = 5
    ACCEPTED = 6
    TERMINATED = 7


class Event(IntEnum):
    """Inputs other than timers (timers are their :class:`TimerName`)."""

    PROVISIONAL = 101  # client: 1xx received
    SUCCESS = 102  # client: 2xx received
    FAILURE = 103  # client: 300-699 received
    CANCEL = 104  # client INVITE: the TU cancels the branch (cancel_b_method)
    REQUEST = 201  # server: the request again (a retransmission)
    ACK = 202  # server INVITE: an ACK that matches
    TU_PROVISIONAL = 203  # server: the TU sends a 1xx
    TU_SUCCESS = 204  # server: the TU sends a 2xx
    TU_FAILURE = 205  # server: the TU sends a 300-699
    TRANSPORT_ERROR = 301  # a send of this transaction failed


@dataclass(frozen=True, slots=True)
class Transition:
    """One row of a figure: the next state and the name of the action method."""

    next_state: State
    action: str


Table = dict[tuple[State, "Event | TimerName"], Transition]

_MAIN_KIND: Final = 3  # index of the timer kind in a TimerQueue entry


class Transaction:
    """Base of the four transaction kinds.

    Public attributes: ``state``, ``method``, ``request`` (as received or as handed
    to the layer), ``owner`` (the transaction user: opaque, set by whoever created or
    adopted the transaction), ``local`` (the listener its messages leave from, when its
    user chose one; None lets the runtime pick), ``created``, ``eol`` (creation + max
    lifetime, moved by ``set_max_lifetime``), ``timing``, ``last_status`` /
    ``last_response`` and the table identifier ``id`` (``"hash_index:label"``).
    """

    __slots__ = (
        "_interval",
        "_main",
        "_refs",
        "_retr",
        "_retr_reset",
        "created",
        "eol",
        "hash_index",
        "label",
        "last_response",
        "last_status",
        "layer",
        "local",
        "method",
        "owner",
        "request",
        "state",
        "timing",
    )

    state: State  # set by each kind's __init__ (its initial state)

    FIGURE: ClassVar[str] = ""
    TRANSITIONS: ClassVar[Table] = {}
    _DISPATCH: ClassVar[dict[tuple[int, int], tuple[State, Any]]] = {}
    is_server: ClassVar[bool] = False
    is_invite: ClassVar[bool] = False

    def __init__(
        self, layer: TransactionLayer, request: Request, now: float, timing: Timing
    ) -> None:
        self.layer = layer
        self.request = request
        self.method = request.method
        self.created = now
        self.timing = timing
        self.eol = now + timing.lifetime
        self.owner: Any = None
        self.local: Any = None  # an Address (net.py)
        self.hash_index = 0
        self.label = 0
        self.last_status = 0
        self.last_response: Response | None = None
        self._main: list | None = None
        self._retr: list | None = None
        self._interval = 0.0
        self._retr_reset: float | None = None
        self._refs = 0

    # --- identity -------------------------------------------------------------------
    @property
    def id(self) -> str:
        """The stable identifier ``hash_index:label`` (seed ``t_suspend``, MI ``t_reply``)."""
        return f"{self.hash_index}:{self.label}"

    @property
    def terminated(self) -> bool:
        return self.state is State.TERMINATED

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.id} {self.method} {self.state.name}>"

    # --- the state machine ------------------------------------------------------------
    def _fire(self, event: int, now: float, arg: Any = None) -> bool:
        row = self._DISPATCH.get((self.state, event))
        if row is None:
            return False
        self.state = row[0]
        row[1](self, now, arg)
        return True

    def _on_timer(self, kind: TimerName, now: float) -> None:
        if kind in RETRANSMISSION_TIMERS:
            self._retr = None
        else:
            self._main = None
        self._fire(kind, now, kind)

    # --- timer slots ------------------------------------------------------------------
    def _start_main(self, kind: TimerName, now: float, delay: float) -> None:
        queue = self.layer.timers
        if self._main is not None:
            queue.cancel(self._main)
        self._main = queue.schedule_in(now, delay, self, kind)

    def _start_main_at(self, kind: TimerName, when: float) -> None:
        queue = self.layer.timers
        if self._main is not None:
            queue.cancel(self._main)
        self._main = queue.schedule(when, self, kind)

    def _start_final_timer(self, kind: TimerName, now: float, delay: float) -> None:
        """A final-response timer (B, C, F): ``delay`` from now, but no later than
        the end of life (seed max_inv_lifetime / max_noninv_lifetime)."""
        if now + delay <= self.eol:
            self._start_main(kind, now, delay)
        else:
            self._start_main_at(kind, self.eol if self.eol > now else now)

    def _stop_main(self) -> None:
        if self._main is not None:
            self.layer.timers.cancel(self._main)
            self._main = None

    def _start_retr(self, kind: TimerName, now: float, delay: float) -> None:
        queue = self.layer.timers
        if self._retr is not None:
            queue.cancel(self._retr)
        self._retr = queue.schedule_in(now, delay, self, kind)

    def _stop_retr(self) -> None:
        if self._retr is not None:
            self.layer.timers.cancel(self._retr)
            self._retr = None

    @property
    def main_timer(self) -> TimerName | None:
        """The timer running in the main slot, if any."""
        entry = self._main
        return None if entry is None or entry[2] is None else entry[_MAIN_KIND]

    @property
    def main_deadline(self) -> float | None:
        entry = self._main
        return None if entry is None or entry[2] is None else entry[0]

    @property
    def retransmission_deadline(self) -> float | None:
        entry = self._retr
        return None if entry is None or entry[2] is None else entry[0]

    def _next_interval(self, cap: float | None) -> float:
        """The next retransmission interval: a pending ``set_retr`` value, else the
        current interval doubled (capped at ``cap`` unless ``None``)."""
        reset = self._retr_reset
        if reset is not None:
            self._retr_reset = None
            interval = reset
        else:
            interval = self._interval * 2
            if cap is not None and interval > cap:
                interval = cap
        self._interval = interval
        return interval

    def _finish(self, kind: TimerName, delay: float, now: float) -> None:
        """Wait ``delay`` in the current state, then Terminated (0: at once)."""
        if delay <= 0:
            self._terminate(now)
        else:
            self._start_main(kind, now, delay)

    def _terminate(self, now: float) -> None:
        self._stop_retr()
        self._stop_main()
        self.state = State.TERMINATED
        self.layer._terminated(self)

    def _end(self, now: float, arg: Any = None) -> None:
        self._terminate(now)

    def _absorb(self, now: float, arg: Any = None) -> None:
        """Absorbed: nothing to do."""

    # --- per-transaction timer values (t_set_fr, t_set_retr, t_set_max_lifetime) ----
    def set_fr(self, fr_inv_timer: int = 0, fr_timer: int = 0, now: float | None = None) -> None:
        """``t_set_fr``: new fr_inv_timer / fr_timer (ms; 0 keeps a value). A running
        final-response timer restarts from ``now`` with the new value (seed 002)."""
        changes = {}
        if fr_inv_timer:
            changes["fr_inv"] = fr_inv_timer / 1000
        if fr_timer:
            changes["fr"] = fr_timer / 1000
        if changes:
            self.timing = self.timing.replace(**changes)
            if now is not None:
                self._fr_changed(now, bool(fr_inv_timer), bool(fr_timer))

    def reset_fr(self, now: float | None = None) -> None:
        """``t_reset_fr``: back to the configured fr_inv_timer and fr_timer."""
        default = self.layer.default_timing(self.is_invite)
        self.timing = self.timing.replace(fr=default.fr, fr_inv=default.fr_inv)
        if now is not None:
            self._fr_changed(now, True, True)

    def _fr_changed(self, now: float, fr_inv: bool, fr: bool) -> None:
        """Restart a running final-response timer (client transactions)."""

    def set_retr(self, retr_t1: int = 0, retr_t2: int = 0) -> None:
        """``t_set_retr``: new T1 / T2 (ms; 0 keeps a value). A running retransmission
        timer keeps its current interval; the one after restarts at the new T1 (or
        the new T2 if the interval had reached T2), seed 002."""
        old = self.timing
        changes = {}
        if retr_t1:
            changes["t1"] = retr_t1 / 1000
        if retr_t2:
            changes["t2"] = retr_t2 / 1000
        if not changes:
            return
        new = self.timing = old.replace(**changes)
        if self._retr is not None:
            self._retr_reset = new.t2 if self._interval >= old.t2 else new.t1

    def reset_retr(self) -> None:
        """``t_reset_retr``: back to the configured retr_timer1 / retr_timer2."""
        default = self.layer.default_timing(self.is_invite)
        self.set_retr(int(default.t1 * 1000), int(default.t2 * 1000))

    def set_max_lifetime(
        self, inv_lifetime: int = 0, noninv_lifetime: int = 0, now: float | None = None
    ) -> None:
        """``t_set_max_lifetime`` (ms; 0 keeps a value): the end of life moves to
        ``now`` + the new lifetime and running deadlines beyond it are pulled in."""
        value = inv_lifetime if self.is_invite else noninv_lifetime
        if not value:
            return
        self.timing = self.timing.replace(lifetime=value / 1000)
        if now is not None:
            self._set_eol(now + value / 1000, now)

    def reset_max_lifetime(self, now: float | None = None) -> None:
        """``t_reset_max_lifetime``: back to max_inv_lifetime / max_noninv_lifetime."""
        default = self.layer.default_timing(self.is_invite)
        self.timing = self.timing.replace(lifetime=default.lifetime)
        if now is not None:
            self._set_eol(now + default.lifetime, now)

    def _set_eol(self, eol: float, now: float) -> None:
        self.eol = eol

    def expired(self, now: float) -> bool:
        """Seed ``t_is_expired``: the max lifetime has elapsed."""
        return now >= self.eol


def dispatch_table(cls: type[Transaction]) -> dict[tuple[int, int], tuple[State, Any]]:
    """``cls._DISPATCH`` from ``cls.TRANSITIONS``: (state, input) -> (next state, the
    action as a plain function). Each kind sets it right after its class (an explicit
    step rather than ``__init_subclass__``, which compiled classes do not run)."""
    return {
        key: (row.next_state, getattr(cls, row.action))
        for key, row in cls.TRANSITIONS.items()
    }
