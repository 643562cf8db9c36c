"""Server transactions: RFC 3261 §17.2 (figures 7 and 8) with RFC 6026 (Accepted).

Rules of this module:
- A server transaction is created by the layer when a request matches none; it is
  handed to the transaction user with the request (``DeliverRequest``). Retransmitted
  requests never reach the TU: they are absorbed and the last response is re-sent.
- The TU answers with ``respond`` (any response object, e.g. one relayed from a
  branch) or the layer's ``reply`` (a local one); a response the state does not allow
  (a 1xx after a final, a non-2xx after a 2xx) is refused (``respond`` returns False).
- Timer values: G doubles from T1 to T2, H is fr_timer (seed 002: "no ACK for a
  negative INVITE reply"), J is wt_timer (seed 003), I and L are wt_timer too (the
  seeds' wait after a final) or T4 and 64*T1 with ``rfc_wait_timers``; I and J are 0
  on reliable transports. Seed extension: still unanswered at
  max_*_lifetime, the TU gets a ``Timeout(LIFETIME)``; if it still does not answer
  within wt_timer the transaction is dropped (``dropped``).
- The request the transaction keeps must not have its Vias changed by the TU: local
  replies copy them. Proxies forward a copy (one per branch).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Final

from ..net import Address
from ..sip import Request, Response
from .effects import DeliverRequest, SendKind, Timeout, TransportError, new_send
from .keys import DialogKey, Rfc2543Fields, ServerKey
from .timers import TimerName, Timing
from .transaction import Event, State, Table, Transaction, Transition, dispatch_table

if TYPE_CHECKING:
    from .layer import TransactionLayer

__all__ = ["ServerInviteTransaction", "ServerNonInviteTransaction", "ServerTransaction"]

_G: Final = TimerName.G
_H: Final = TimerName.H
_I: Final = TimerName.I
_J: Final = TimerName.J
_L: Final = TimerName.L
_LIFETIME: Final = TimerName.LIFETIME
_WAIT: Final = TimerName.WAIT
_RESPONSE: Final = SendKind.RESPONSE
_RESPONSE_AGAIN: Final = SendKind.RESPONSE_RETRANSMISSION
_TU_EVENT: Final = (Event.TU_PROVISIONAL, Event.TU_SUCCESS, Event.TU_FAILURE)


class ServerTransaction(Transaction):
    """What both server transactions share.

    ``source`` is where the request came from, ``reply_to`` where responses go
    (§18.2.2, computed by the caller or by :func:`response_address`), ``key`` the
    §17.2.3 key (``None`` for an RFC 2543 request, matched by ``rfc2543``),
    ``dialog`` the Call-ID/CSeq/From-tag key, ``local_tag`` the To tag of local
    replies, ``dropped`` true if it was dropped unanswered (lifetime + grace).
    """

    __slots__ = (
        "_more_2xx",
        "dialog",
        "dropped",
        "key",
        "last_data",
        "local_tag",
        "reply_to",
        "rfc2543",
        "source",
    )

    is_server = True
    INITIAL_STATE: ClassVar[State]  # set by each figure's class

    def __init__(
        self,
        layer: TransactionLayer,
        request: Request,
        source: Address,
        reply_to: Address,
        now: float,
        timing: Timing,
        key: ServerKey | None,
        dialog: DialogKey | None,
    ) -> None:
        Transaction.__init__(self, layer, request, now, timing)
        self.source = source
        self.reply_to = reply_to
        self.key = key
        self.dialog = dialog
        self.rfc2543 = Rfc2543Fields(request) if key is None else None
        self.last_data: bytes | None = None
        self.local_tag: str | None = None
        self._more_2xx: list[Response] | None = None
        self.dropped = False
        self._main = layer.timers.schedule_in(now, timing.lifetime, self, _LIFETIME)
        self.state = self.INITIAL_STATE  # Proceeding (figure 7) or Trying (figure 8)

    # --- inputs -----------------------------------------------------------------------
    def respond(self, response: Response, now: float) -> bool:
        """Send ``response`` if the state allows it (see the figure); False if not."""
        status = response.status
        event = _TU_EVENT[0 if status < 200 else 1 if status < 300 else 2]
        return self._fire(event, now, response)

    def retransmit_reply(self, now: float) -> bool:
        """Seed ``t_retransmit_reply``: send the last response again."""
        if self.last_data is None or self.state is State.TERMINATED:
            return False
        self._resend_last(now)
        return True

    def sent_2xx_tagged(self, tag: str) -> bool:
        """Whether a 2xx sent on this transaction carried the To tag ``tag`` (end-to-end
        ACK matching)."""
        last = self.last_response
        if 200 <= self.last_status < 300 and last is not None and last.to_tag == tag:
            return True
        return any(r.to_tag == tag for r in self._more_2xx or ())

    # --- shared actions ---------------------------------------------------------------
    def _send_response(self, now: float, response: Response) -> None:
        data = self.last_data = bytes(response)
        self.last_response = response
        self.last_status = response.status
        self.layer.queued.append(new_send(data, self.reply_to, self, _RESPONSE))

    def _resend_last(self, now: float, arg: Any = None) -> None:
        if self.last_data is not None:
            self.layer.queued.append(
                new_send(self.last_data, self.reply_to, self, _RESPONSE_AGAIN))

    def _lifetime_expired(self, now: float, kind: TimerName) -> None:
        self.layer.queued.append(Timeout(self, kind))
        if self.timing.wait > 0:
            self._start_main(_WAIT, now, self.timing.wait)
        else:
            self._drop_unanswered(now, kind)

    def _drop_unanswered(self, now: float, kind: TimerName) -> None:
        self.dropped = True
        self._terminate(now)

    def _transport_failed(self, now: float, arg: tuple[Address, str]) -> None:
        self.layer.queued.append(TransportError(self, arg[0], arg[1]))
        self._terminate(now)

    def _report_transport_error(self, now: float, arg: tuple[Address, str]) -> None:
        self.layer.queued.append(TransportError(self, arg[0], arg[1]))

    def _set_eol(self, eol: float, now: float) -> None:
        self.eol = eol
        if self.main_timer is _LIFETIME:
            self._start_main_at(_LIFETIME, eol if eol > now else now)


# --- INVITE -------------------------------------------------------------------------

_P: Final = State.PROCEEDING
_COMPLETED: Final = State.COMPLETED
_CONFIRMED: Final = State.CONFIRMED
_ACCEPTED: Final = State.ACCEPTED
_TERMINATED: Final = State.TERMINATED

# RFC 3261 Figure 7 (INVITE server transaction) as amended by RFC 6026 Figure 5.
INVITE_SERVER_FIGURE_7: Final[Table] = {
    (_P, Event.REQUEST): Transition(_P, "_resend_last"),
    (_P, Event.TU_PROVISIONAL): Transition(_P, "_send_response"),
    (_P, Event.TU_SUCCESS): Transition(_ACCEPTED, "_send_2xx"),  # RFC 6026
    (_P, Event.TU_FAILURE): Transition(_COMPLETED, "_send_failure"),
    (_P, Event.TRANSPORT_ERROR): Transition(_TERMINATED, "_transport_failed"),
    (_P, _LIFETIME): Transition(_P, "_lifetime_expired"),  # seed max_inv_lifetime
    (_P, _WAIT): Transition(_TERMINATED, "_drop_unanswered"),  # seed: grace ran out
    (_COMPLETED, Event.REQUEST): Transition(_COMPLETED, "_resend_last"),
    (_COMPLETED, _G): Transition(_COMPLETED, "_retransmit_final"),
    (_COMPLETED, _H): Transition(_TERMINATED, "_ack_timeout"),
    (_COMPLETED, Event.ACK): Transition(_CONFIRMED, "_confirm"),
    (_COMPLETED, Event.TRANSPORT_ERROR): Transition(_TERMINATED, "_transport_failed"),
    (_CONFIRMED, Event.ACK): Transition(_CONFIRMED, "_absorb"),
    (_CONFIRMED, Event.REQUEST): Transition(_CONFIRMED, "_absorb"),
    (_CONFIRMED, _I): Transition(_TERMINATED, "_end"),
    (_ACCEPTED, Event.REQUEST): Transition(_ACCEPTED, "_absorb"),  # RFC 6026
    (_ACCEPTED, Event.ACK): Transition(_ACCEPTED, "_pass_ack"),  # RFC 6026: to the TU
    (_ACCEPTED, Event.TU_SUCCESS): Transition(_ACCEPTED, "_send_2xx_again"),  # RFC 6026
    (_ACCEPTED, Event.TRANSPORT_ERROR): Transition(_ACCEPTED, "_report_transport_error"),
    (_ACCEPTED, _L): Transition(_TERMINATED, "_end"),  # RFC 6026
}


class ServerInviteTransaction(ServerTransaction):
    """RFC 3261 §17.2.1 / RFC 6026 §8.5-8.7: Proceeding, Completed, Confirmed,
    Accepted."""

    __slots__ = ()

    FIGURE: ClassVar[str] = "RFC 3261 Figure 7 + RFC 6026 Figure 5"
    TRANSITIONS: ClassVar[Table] = INVITE_SERVER_FIGURE_7
    INITIAL_STATE: ClassVar[State] = _P
    is_invite = True


    def _send_2xx(self, now: float, response: Response) -> None:
        self._send_response(now, response)
        self._start_main(_L, now, self.timing.lm)

    def _send_2xx_again(self, now: float, response: Response) -> None:
        previous = self.last_response
        if self._more_2xx is None:
            self._more_2xx = []
        self._more_2xx.append(previous)  # type: ignore[arg-type]
        self._send_response(now, response)

    def _send_failure(self, now: float, response: Response) -> None:
        self._send_response(now, response)
        timing = self.timing
        if not self.reply_to.reliable:
            self._interval = timing.t1
            self._start_retr(_G, now, timing.t1)
        self._start_main(_H, now, timing.fr)

    def _retransmit_final(self, now: float, kind: Any) -> None:
        self._resend_last(now)
        self._start_retr(_G, now, self._next_interval(self.timing.t2))

    def _ack_timeout(self, now: float, kind: TimerName) -> None:
        self.layer.queued.append(Timeout(self, kind))
        self._terminate(now)

    def _confirm(self, now: float, ack: Any) -> None:
        self._stop_retr()
        self._finish(_I, 0.0 if self.reply_to.reliable else self.timing.ik, now)

    def _pass_ack(self, now: float, arg: tuple[Request, Address]) -> None:
        self.layer.queued.append(DeliverRequest(self, arg[0], arg[1]))


ServerInviteTransaction._DISPATCH = dispatch_table(ServerInviteTransaction)


# --- non-INVITE ---------------------------------------------------------------------

_TRYING: Final = State.TRYING

# RFC 3261 Figure 8 (non-INVITE server transaction).
NON_INVITE_SERVER_FIGURE_8: Final[Table] = {
    (_TRYING, Event.REQUEST): Transition(_TRYING, "_absorb"),
    (_TRYING, Event.TU_PROVISIONAL): Transition(_P, "_send_response"),
    (_TRYING, Event.TU_SUCCESS): Transition(_COMPLETED, "_send_final"),
    (_TRYING, Event.TU_FAILURE): Transition(_COMPLETED, "_send_final"),
    (_TRYING, _LIFETIME): Transition(_TRYING, "_lifetime_expired"),  # seed
    (_TRYING, _WAIT): Transition(_TERMINATED, "_drop_unanswered"),  # seed
    (_P, Event.REQUEST): Transition(_P, "_resend_last"),
    (_P, Event.TU_PROVISIONAL): Transition(_P, "_send_response"),
    (_P, Event.TU_SUCCESS): Transition(_COMPLETED, "_send_final"),
    (_P, Event.TU_FAILURE): Transition(_COMPLETED, "_send_final"),
    (_P, Event.TRANSPORT_ERROR): Transition(_TERMINATED, "_transport_failed"),
    (_P, _LIFETIME): Transition(_P, "_lifetime_expired"),  # seed
    (_P, _WAIT): Transition(_TERMINATED, "_drop_unanswered"),  # seed
    (_COMPLETED, Event.REQUEST): Transition(_COMPLETED, "_resend_last"),
    (_COMPLETED, Event.TRANSPORT_ERROR): Transition(_TERMINATED, "_transport_failed"),
    (_COMPLETED, _J): Transition(_TERMINATED, "_end"),
}


class ServerNonInviteTransaction(ServerTransaction):
    """RFC 3261 §17.2.2: Trying, Proceeding, Completed."""

    __slots__ = ()

    FIGURE: ClassVar[str] = "RFC 3261 Figure 8"
    TRANSITIONS: ClassVar[Table] = NON_INVITE_SERVER_FIGURE_8
    INITIAL_STATE: ClassVar[State] = _TRYING
    is_invite = False


    def _send_final(self, now: float, response: Response) -> None:
        self._send_response(now, response)
        self._finish(_J, 0.0 if self.reply_to.reliable else self.timing.wait, now)


ServerNonInviteTransaction._DISPATCH = dispatch_table(ServerNonInviteTransaction)
