"""Client transactions: RFC 3261 §17.1 (figures 5 and 6) with RFC 6026 (Accepted).

Rules of this module:
- A client transaction is usable on its own: its transaction user is whoever created
  it (``owner``); a proxy's response context owns several, told apart by
  ``branch_index``. It never answers anything upstream: a timeout is reported as a
  :class:`Timeout` effect (RFC 4320: the state machine never makes up a 408).
- Timer values come from the transaction's ``timing`` (seed parameters, see
  ``timers.py``): B and F are fr_timer, the proxy's Timer C is fr_inv_timer, all
  three clamped to the end of life (``max_*_lifetime`` from creation).
- Seed extension (wt_timer, "absorb delayed messages after it completed"): a client
  transaction that timed out or was abandoned lingers in Completed for wt_timer, so a
  late 2xx still reaches the TU and a late non-2xx is still ACKed, instead of
  becoming a stray response. wt_timer = 0 gives the RFC's direct Terminated.
- The hop-by-hop ACK and the CANCEL are built from the request as sent (``data``).
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import IntEnum
from typing import TYPE_CHECKING, Any, ClassVar, Final

from ..net import Address
from ..sip import Request, Response, parse
from . import builder
from .effects import SendKind, Timeout, TransportError, new_deliver_response, new_send
from .timers import TimerName, Timing
from .transaction import Event, State, Table, Transaction, Transition, dispatch_table

if TYPE_CHECKING:
    from .layer import TransactionLayer

__all__ = [
    "CancelState",
    "ClientInviteTransaction",
    "ClientNonInviteTransaction",
    "ClientTransaction",
]

_A: Final = TimerName.A
_B: Final = TimerName.B
_C: Final = TimerName.C
_D: Final = TimerName.D
_E: Final = TimerName.E
_F: Final = TimerName.F
_K: Final = TimerName.K
_M: Final = TimerName.M
_WAIT: Final = TimerName.WAIT
_CANCEL: Final = TimerName.CANCEL
_REQUEST: Final = SendKind.REQUEST
_RETRANSMISSION: Final = SendKind.REQUEST_RETRANSMISSION


class CancelState(IntEnum):
    """Where cancelling an INVITE branch stands (seed 002 ``cancel_b_method``)."""

    NONE = 0
    PENDING = 1  # method 1: unreplied branch, CANCEL goes out on the first provisional
    SENT = 2  # a CANCEL was sent (client transaction in ``cancel_tx``)
    FAKED = 3  # method 0: retransmissions stopped, the TU acts as if 487 came back


class ClientTransaction(Transaction):
    """What both client transactions share.

    ``branch`` is the top Via branch we generated, ``destination`` the address the
    request goes to, ``data`` the bytes sent, ``branch_index`` the proxy's branch
    number, ``timed_out`` true once a Timeout was reported.
    """

    __slots__ = ("_sent", "branch", "branch_index", "data", "destination", "timed_out")

    is_server = False

    def __init__(
        self,
        layer: TransactionLayer,
        request: Request,
        destination: Address,
        branch: str,
        now: float,
        timing: Timing,
        data: bytes | None = None,
    ) -> None:
        Transaction.__init__(self, layer, request, now, timing)
        self.destination = destination
        self.branch = branch
        self.branch_index = 0
        self.data = bytes(request) if data is None else data
        self.timed_out = False
        self._sent: Request | None = None

    @property
    def sent_request(self) -> Request:
        """The request exactly as sent, re-parsed (seed ``reparse_invite``)."""
        sent = self._sent
        if sent is None:
            sent = self._sent = parse(self.data)  # type: ignore[assignment]
        return sent  # type: ignore[return-value]

    @property
    def replied(self) -> bool:
        """Whether any response was received (seed ``t_branch_replied``)."""
        return self.last_status > 0

    # --- inputs -----------------------------------------------------------------------
    def _receive(self, response: Response, source: Address, now: float) -> None:
        status = response.status
        if status < 200:
            event = Event.PROVISIONAL
        elif status < 300:
            event = Event.SUCCESS
        else:
            event = Event.FAILURE
        self._fire(event, now, (response, source))

    # --- shared actions ---------------------------------------------------------------
    def _send(self, data: bytes, kind: SendKind) -> None:
        self.layer.queued.append(new_send(data, self.destination, self, kind))

    def _deliver(self, arg: tuple[Response, Address]) -> None:
        response = arg[0]
        self.last_status = response.status
        self.last_response = response
        self.layer.queued.append(new_deliver_response(self, response, arg[1]))

    def _time_out(self, now: float, kind: TimerName) -> None:
        """A final-response timer ran out: report it, then linger (wt_timer)."""
        self._stop_retr()
        self.timed_out = True
        self.layer.queued.append(Timeout(self, kind))
        self._finish(_WAIT, self.timing.wait, now)

    def _transport_failed(self, now: float, arg: tuple[Address, str]) -> None:
        self.layer.queued.append(TransportError(self, arg[0], arg[1]))
        self._terminate(now)

    def _fr_changed(self, now: float, fr_inv: bool, fr: bool) -> None:
        kind = self.main_timer
        if kind is _C and fr_inv:
            self._start_final_timer(_C, now, self.timing.fr_inv)
        elif kind in (_B, _F) and fr:
            self._start_final_timer(kind, now, self.timing.fr)

    def _set_eol(self, eol: float, now: float) -> None:
        self.eol = eol
        entry = self._main
        if (entry is not None and entry[2] is not None and entry[3] in (_B, _C, _F)
                and entry[0] > eol):
            self._start_main_at(entry[3], eol if eol > now else now)


# --- INVITE -------------------------------------------------------------------------

_P: Final = State.PROCEEDING
_CALLING: Final = State.CALLING
_COMPLETED: Final = State.COMPLETED
_ACCEPTED: Final = State.ACCEPTED
_TERMINATED: Final = State.TERMINATED

# RFC 3261 Figure 5 (INVITE client transaction) as amended by RFC 6026 Figure 4.
INVITE_CLIENT_FIGURE_5: Final[Table] = {
    (_CALLING, _A): Transition(_CALLING, "_retransmit"),
    (_CALLING, _B): Transition(_COMPLETED, "_time_out"),  # RFC: -> Terminated (wt_timer 0)
    (_CALLING, Event.PROVISIONAL): Transition(_P, "_first_provisional"),
    (_CALLING, Event.SUCCESS): Transition(_ACCEPTED, "_accept"),  # RFC 6026
    (_CALLING, Event.FAILURE): Transition(_COMPLETED, "_ack_and_complete"),
    (_CALLING, Event.TRANSPORT_ERROR): Transition(_TERMINATED, "_transport_failed"),
    # the TU cancels an unreplied branch: cancel_b_method 1 and 2 stay in Calling,
    # 0 stops it and moves on to Completed (as if a 487 had come back)
    (_CALLING, Event.CANCEL): Transition(_CALLING, "_cancel_unreplied"),
    (_P, Event.PROVISIONAL): Transition(_P, "_provisional"),
    (_P, Event.SUCCESS): Transition(_ACCEPTED, "_accept"),  # RFC 6026
    (_P, Event.FAILURE): Transition(_COMPLETED, "_ack_and_complete"),
    (_P, Event.TRANSPORT_ERROR): Transition(_TERMINATED, "_transport_failed"),
    (_P, Event.CANCEL): Transition(_P, "_cancel_replied"),
    (_P, _C): Transition(_P, "_fr_inv_expired"),  # proxy Timer C (§16.8): TU CANCELs
    (_P, _CANCEL): Transition(_COMPLETED, "_time_out"),  # §9.1: no final after CANCEL
    (_COMPLETED, Event.FAILURE): Transition(_COMPLETED, "_resend_ack"),
    (_COMPLETED, Event.SUCCESS): Transition(_COMPLETED, "_pass_2xx"),  # 2xx always up
    (_COMPLETED, Event.TRANSPORT_ERROR): Transition(_TERMINATED, "_transport_failed"),
    (_COMPLETED, _D): Transition(_TERMINATED, "_end"),
    (_COMPLETED, _WAIT): Transition(_TERMINATED, "_end"),
    (_ACCEPTED, Event.SUCCESS): Transition(_ACCEPTED, "_pass_2xx"),  # RFC 6026
    (_ACCEPTED, _M): Transition(_TERMINATED, "_end"),  # RFC 6026
}


class ClientInviteTransaction(ClientTransaction):
    """RFC 3261 §17.1.1 / RFC 6026 §8.4: Calling, Proceeding, Completed, Accepted.

    ``cancel_state`` / ``cancel_tx`` follow a CANCEL of this branch; ``cancel_headers``
    are added to that CANCEL (e.g. a propagated Reason header).
    """

    __slots__ = ("_ack", "_top_provisional", "ack_headers", "cancel_headers", "cancel_state",
                 "cancel_tx")

    FIGURE: ClassVar[str] = "RFC 3261 Figure 5 + RFC 6026 Figure 4"
    TRANSITIONS: ClassVar[Table] = INVITE_CLIENT_FIGURE_5
    is_invite = True

    def __init__(
        self,
        layer: TransactionLayer,
        request: Request,
        destination: Address,
        branch: str,
        now: float,
        timing: Timing,
        data: bytes | None = None,
    ) -> None:
        ClientTransaction.__init__(self, layer, request, destination, branch, now, timing, data)
        self.state = _CALLING
        self.cancel_state = CancelState.NONE
        self.cancel_tx: ClientNonInviteTransaction | None = None
        self.cancel_headers: list[tuple[str, str]] | None = None
        # seed t_add_hdrs: on our ACKs too (the proxy sets its list; none: no list kept)
        self.ack_headers: Sequence[tuple[str, str]] = ()
        self._ack: bytes | None = None
        self._top_provisional = 0

    def _start(self, now: float) -> None:
        self._send(self.data, _REQUEST)
        timing = self.timing
        if not self.destination.reliable:
            self._interval = timing.t1
            self._start_retr(_A, now, timing.t1)
        self._start_final_timer(_B, now, timing.fr)

    # --- actions ----------------------------------------------------------------------
    def _retransmit(self, now: float, kind: Any) -> None:
        self._send(self.data, _RETRANSMISSION)
        self._start_retr(_A, now, self._next_interval(None))  # A doubles without a cap

    def _first_provisional(self, now: float, arg: tuple[Response, Address]) -> None:
        self._stop_retr()
        self._top_provisional = arg[0].status
        self._deliver(arg)
        state = self.cancel_state
        if state is CancelState.PENDING:  # cancel_b_method 1: the CANCEL goes now
            self._start_main(_CANCEL, now, self.timing.fr)
            self.layer._send_cancel(self, now)
        elif state is CancelState.SENT:  # cancel_b_method 2: it went already
            self._start_main(_CANCEL, now, self.timing.fr)
        else:
            self._start_final_timer(_C, now, self.timing.fr_inv)

    def _provisional(self, now: float, arg: tuple[Response, Address]) -> None:
        status = arg[0].status
        self._deliver(arg)
        # restart_fr_on_each_reply 0: only on codes >= 180 above every earlier one
        # (the first provisional restarted it in _first_provisional)
        increasing = status > self._top_provisional
        if increasing:
            self._top_provisional = status
        if self.main_timer is _C and (
            self.layer.restart_fr_on_each_reply or (increasing and status >= 180)
        ):
            self._start_final_timer(_C, now, self.timing.fr_inv)

    def _accept(self, now: float, arg: tuple[Response, Address]) -> None:
        self._stop_retr()
        self._start_main(_M, now, self.timing.lm)
        self._deliver(arg)

    def _pass_2xx(self, now: float, arg: tuple[Response, Address]) -> None:
        self._deliver(arg)

    def _ack_and_complete(self, now: float, arg: tuple[Response, Address]) -> None:
        self._stop_retr()
        self._stop_main()
        layer = self.layer
        ack = builder.hop_by_hop_ack(self.sent_request, arg[0], layer.ac_extra_hdrs,
                                     self.ack_headers)
        self._ack = bytes(ack)
        self._send(self._ack, SendKind.ACK)
        self._deliver(arg)
        self._finish(_D, 0.0 if self.destination.reliable else self.timing.d, now)

    def _resend_ack(self, now: float, arg: Any) -> None:
        if self._ack is not None:
            self._send(self._ack, SendKind.ACK)
        else:  # lingering after a timeout: the first non-2xx we see is ACKed too
            ack = builder.hop_by_hop_ack(self.sent_request, arg[0], self.layer.ac_extra_hdrs,
                                         self.ack_headers)
            self._ack = bytes(ack)
            self._send(self._ack, SendKind.ACK)

    def _fr_inv_expired(self, now: float, kind: TimerName) -> None:
        self.timed_out = True
        self.layer.queued.append(Timeout(self, kind))
        if self.state is _P and self.main_timer is None:
            self._start_main(_CANCEL, now, self.timing.fr)

    def _cancel_unreplied(self, now: float, method: int) -> None:
        if self.cancel_state is not CancelState.NONE:
            return
        if method == 0:  # stop retransmitting, behave as if 487 came back
            self.cancel_state = CancelState.FAKED
            self._stop_retr()
            self._stop_main()
            self.state = _COMPLETED
            self._finish(_WAIT, self.timing.wait, now)
        elif method == 1:  # keep retransmitting, CANCEL on the first provisional
            self.cancel_state = CancelState.PENDING
        else:  # 2: CANCEL right away, stop retransmitting
            self._stop_retr()
            self.layer._send_cancel(self, now)

    def _cancel_replied(self, now: float, method: int) -> None:
        if self.cancel_state is CancelState.SENT:
            return
        if self.main_timer is not _CANCEL:
            self._start_main(_CANCEL, now, self.timing.fr)
        self.layer._send_cancel(self, now)


ClientInviteTransaction._DISPATCH = dispatch_table(ClientInviteTransaction)


# --- non-INVITE ---------------------------------------------------------------------

_TRYING: Final = State.TRYING

# RFC 3261 Figure 6 (non-INVITE client transaction).
NON_INVITE_CLIENT_FIGURE_6: Final[Table] = {
    (_TRYING, _E): Transition(_TRYING, "_retransmit"),
    (_TRYING, _F): Transition(_COMPLETED, "_time_out"),  # RFC: -> Terminated (wt_timer 0)
    (_TRYING, Event.PROVISIONAL): Transition(_P, "_provisional"),
    (_TRYING, Event.SUCCESS): Transition(_COMPLETED, "_complete"),
    (_TRYING, Event.FAILURE): Transition(_COMPLETED, "_complete"),
    (_TRYING, Event.TRANSPORT_ERROR): Transition(_TERMINATED, "_transport_failed"),
    (_P, _E): Transition(_P, "_retransmit"),  # E reset to T2
    (_P, _F): Transition(_COMPLETED, "_time_out"),
    (_P, Event.PROVISIONAL): Transition(_P, "_provisional"),
    (_P, Event.SUCCESS): Transition(_COMPLETED, "_complete"),
    (_P, Event.FAILURE): Transition(_COMPLETED, "_complete"),
    (_P, Event.TRANSPORT_ERROR): Transition(_TERMINATED, "_transport_failed"),
    (_COMPLETED, Event.SUCCESS): Transition(_COMPLETED, "_absorb"),
    (_COMPLETED, Event.FAILURE): Transition(_COMPLETED, "_absorb"),
    (_COMPLETED, _K): Transition(_TERMINATED, "_end"),
    (_COMPLETED, _WAIT): Transition(_TERMINATED, "_end"),
}


class ClientNonInviteTransaction(ClientTransaction):
    """RFC 3261 §17.1.2: Trying, Proceeding, Completed. ``cancels`` is the INVITE
    client transaction when this one carries its CANCEL."""

    __slots__ = ("cancels",)

    FIGURE: ClassVar[str] = "RFC 3261 Figure 6"
    TRANSITIONS: ClassVar[Table] = NON_INVITE_CLIENT_FIGURE_6
    is_invite = False

    def __init__(
        self,
        layer: TransactionLayer,
        request: Request,
        destination: Address,
        branch: str,
        now: float,
        timing: Timing,
        data: bytes | None = None,
    ) -> None:
        ClientTransaction.__init__(self, layer, request, destination, branch, now, timing, data)
        self.state = _TRYING
        self.cancels: ClientInviteTransaction | None = None

    def _start(self, now: float) -> None:
        self._send(self.data, _REQUEST)
        timing = self.timing
        if not self.destination.reliable:
            self._interval = timing.t1
            self._start_retr(_E, now, timing.t1)
        self._start_final_timer(_F, now, timing.fr)

    def _retransmit(self, now: float, kind: Any) -> None:
        self._send(self.data, _RETRANSMISSION)
        if self.state is _P and self._retr_reset is None:
            interval = self._interval = self.timing.t2
        else:
            interval = self._next_interval(self.timing.t2)
        self._start_retr(_E, now, interval)

    def _provisional(self, now: float, arg: tuple[Response, Address]) -> None:
        self._deliver(arg)

    def _complete(self, now: float, arg: tuple[Response, Address]) -> None:
        self._stop_retr()
        self._stop_main()
        self._deliver(arg)
        self._finish(_K, 0.0 if self.destination.reliable else self.timing.ik, now)


ClientNonInviteTransaction._DISPATCH = dispatch_table(ClientNonInviteTransaction)
