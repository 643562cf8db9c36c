"""The transaction layer facade: the one object the engine talks to.

Rules of this module:
- Sans-IO: the caller hands in parsed messages, the time (``now``, seconds) and the
  results of sends; the layer answers with effects (``effects.py``). Every call
  queues effects; ``receive``, ``handle_timers``, ``send_failed`` and ``drain`` return
  (and clear) the queue, so a transaction user's calls made while handling effects
  come out with the next drain.
- Remote input never raises out of ``receive``: a message whose transaction keys
  cannot be read is counted in ``stats.dropped``.
- Matching follows ``keys.py``; storage, identifiers and statistics ``table.py``;
  the state machines ``client.py`` and ``server.py``.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import IntEnum
from typing import Any, ClassVar, Final

from ..errors import ParseError
from ..net import Address
from ..sip import Request, Response
from . import builder
from .client import (
    CancelState,
    ClientInviteTransaction,
    ClientNonInviteTransaction,
    ClientTransaction,
)
from .effects import (
    Effect,
    Send,
    SendKind,
    new_deliver_request,
    new_deliver_response,
    new_terminated,
)
from .ids import MAGIC_COOKIE, IdFactory
from .keys import MatchingConfig, dialog_key, response_key, server_key
from .server import ServerInviteTransaction, ServerNonInviteTransaction, ServerTransaction
from .table import TransactionTable
from .timers import TimerConfig, TimerName, TimerQueue, Timing
from .transaction import Event, State, Transaction

__all__ = ["CancelOutcome", "LayerStats", "TransactionLayer", "response_address"]

_ACK: Final = Event.ACK
_REQUEST: Final = Event.REQUEST


class CancelOutcome(IntEnum):
    """What ``TransactionLayer.cancel`` did to an INVITE branch."""

    SENT = 1  # a CANCEL went out (its client transaction: ``tx.cancel_tx``)
    PENDING = 2  # cancel_b_method 1, unreplied: CANCEL on the first provisional
    FAKE_487 = 3  # cancel_b_method 0, unreplied: stopped; act as if 487 came back
    NOT_NEEDED = 4  # the branch already has a final response (or is not an INVITE)


_OUTCOME: Final = {
    CancelState.SENT: CancelOutcome.SENT,
    CancelState.PENDING: CancelOutcome.PENDING,
    CancelState.FAKED: CancelOutcome.FAKE_487,
    CancelState.NONE: CancelOutcome.NOT_NEEDED,
}


class LayerStats:
    """Counters (seed 003 statistics the layer can know; the rest are the proxy's)."""

    # (one tuple for both: compiled classes have no __slots__ attribute to read back)
    _NAMES: ClassVar[tuple[str, ...]] = (
        "absorbed_requests", "dropped", "stray_responses", "uac_transactions",
        "uas_transactions")
    __slots__ = _NAMES

    def __init__(self) -> None:
        self.uas_transactions = 0
        self.uac_transactions = 0
        self.absorbed_requests = 0
        self.stray_responses = 0
        self.dropped = 0

    def as_dict(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in self._NAMES}


def response_address(request: Request, source: Address) -> Address:
    """Where responses to ``request`` go (RFC 3261 §18.2.2 with RFC 3581), simply:
    reliable transports answer on the connection the request came from; otherwise
    the ``received`` host (else the packet's source host) and the ``rport`` value,
    the source port for a bare ``rport``, or the sent-by port (default 5060).
    The runtime may pass its own ``reply_to`` (``sip_transport.response_address``
    also honours ``maddr``)."""
    if source.reliable:
        return source
    via = request.via
    if via is None:
        return source
    params = via.params.lowered()  # one pass, no lookups of absent names
    host = params.get("received") or source.host
    if "rport" in params:
        rport = params["rport"]
        port = int(rport) if rport and rport.isdigit() else source.port
    else:
        port = via.port or 5060
    if host == source.host and port == source.port:
        return source
    return Address(source.transport, host, port)


class TransactionLayer:
    """RFC 3261 §17 transactions for one process (or one worker).

    ``timers`` holds the seed timer parameters, ``ids`` makes branches and tags,
    ``matching`` holds ``ruri_matching`` / ``via1_matching``, ``cancel_b_method`` and
    ``ac_extra_hdrs`` are the seed 002 parameters.
    """

    def __init__(
        self,
        timers: TimerConfig | None = None,
        *,
        ids: IdFactory | None = None,
        matching: MatchingConfig | None = None,
        cancel_b_method: int = 1,
        ac_extra_hdrs: str = "",
        table_size: int = 65536,
    ) -> None:
        if cancel_b_method not in (0, 1, 2):
            raise ValueError("cancel_b_method must be 0, 1 or 2")
        self.config = timers if timers is not None else TimerConfig()
        self.ids = ids if ids is not None else IdFactory()
        self.matching = matching if matching is not None else MatchingConfig()
        self.cancel_b_method = cancel_b_method
        self.ac_extra_hdrs = ac_extra_hdrs
        self.restart_fr_on_each_reply = bool(self.config.restart_fr_on_each_reply)
        self.timers = TimerQueue()
        self.table = TransactionTable(table_size)
        self.stats = LayerStats()
        self._timing_inv = self.config.timing(True)
        self._timing_noninv = self.config.timing(False)
        # Effects queued since the last drain, oldest first: callers only read it (a
        # cheap "anything queued?" test that spares an empty drain); drain() takes it.
        self.queued: list[Effect] = []
        # the last request received and its §17.2.3 key: the lookups a route makes on
        # the request it is handling (t_check_trans on an ACK, t_lookup_cancel) reuse it
        self._received: Request | None = None
        self._received_key: Any = None

    # --- effects and time ---------------------------------------------------------------
    def drain(self) -> list[Effect]:
        """Every effect queued since the last drain, oldest first."""
        out = self.queued
        self.queued = []
        return out

    def next_deadline(self) -> float | None:
        """When ``handle_timers`` should be called next (``None``: no timer)."""
        return self.timers.next_deadline()

    def handle_timers(self, now: float) -> list[Effect]:
        """Fire every timer due at ``now``; returns the queued effects."""
        self.timers.fire_due(now)
        out = self.queued
        self.queued = []
        return out

    def default_timing(self, invite: bool) -> Timing:
        """The configured timing for new INVITE / non-INVITE transactions."""
        return self._timing_inv if invite else self._timing_noninv

    @property
    def in_use(self) -> int:
        """Transactions in the table (seed 003 ``inuse_transactions``)."""
        return self.table.in_use

    def new_branch(self) -> str:
        """A fresh branch for the Via a transaction user pushes on a request."""
        return self.ids.branch()

    # --- input from the network ----------------------------------------------------------
    def receive(
        self,
        message: Request | Response,
        source: Address,
        now: float,
        reply_to: Address | None = None,
    ) -> list[Effect]:
        """A parsed message arrived from ``source``. ``reply_to`` is where responses
        to a new request go (default :func:`response_address`)."""
        try:
            if isinstance(message, Request):
                self._receive_request(message, source, now, reply_to)
            else:
                self._receive_response(message, source, now)
        except ParseError:
            self.stats.dropped += 1
        return self.drain()

    def _receive_request(
        self, request: Request, source: Address, now: float, reply_to: Address | None
    ) -> None:
        method = request.method
        key = server_key(request)
        self._received = request
        self._received_key = key
        if key is not None:
            tx = self.table.server_by_key.get(key)
        else:
            tx = self._match_rfc2543(request)
        if method == "ACK":
            if tx is not None and tx.is_invite:
                if not tx._fire(_ACK, now, (request, source)):
                    self.stats.absorbed_requests += 1
            else:
                self.queued.append(new_deliver_request(None, request, source))
            return
        if tx is not None:
            self.stats.absorbed_requests += 1
            tx._fire(_REQUEST, now, request)
            return
        tx = self._create_server(request, source, now, reply_to, key)
        self.queued.append(new_deliver_request(tx, request, source))

    def _match_rfc2543(self, request: Request) -> ServerTransaction | None:
        bucket = self.table.server_by_dialog.get(dialog_key(request))
        if bucket:
            matching = self.matching
            for tx in bucket:
                fields = tx.rfc2543
                if fields is not None and fields.matches_request(request, matching):
                    return tx
        return None

    def _create_server(
        self,
        request: Request,
        source: Address,
        now: float,
        reply_to: Address | None,
        key: Any,
    ) -> ServerTransaction:
        invite = request.method == "INVITE"
        call_id = request.call_id or ""
        cseq = request.cseq
        number = cseq.number if cseq is not None else 0
        dialog = (call_id, number, request.from_tag or "") if invite or key is None else None
        if reply_to is None:
            reply_to = response_address(request, source)
        if invite:
            tx: ServerTransaction = ServerInviteTransaction(
                self, request, source, reply_to, now, self._timing_inv, key, dialog)
        else:
            tx = ServerNonInviteTransaction(
                self, request, source, reply_to, now, self._timing_noninv, key, dialog)
        table = self.table
        table.insert(tx, call_id, number)
        table.add_server(tx)
        self.stats.uas_transactions += 1
        return tx

    def _receive_response(self, response: Response, source: Address, now: float) -> None:
        key = response_key(response)
        tx = self.table.client_by_key.get(key) if key is not None else None
        if tx is None:
            self.stats.stray_responses += 1
            self.queued.append(new_deliver_response(None, response, source))
            return
        tx._receive(response, source, now)

    def send_failed(self, effect: Send, now: float, reason: str = "") -> list[Effect]:
        """The runtime could not perform ``effect``: the transaction it belongs to
        reports a ``TransportError`` (and terminates where its figure says so)."""
        tx = effect.tx
        if tx is not None and tx.state is not State.TERMINATED:
            tx._fire(Event.TRANSPORT_ERROR, now, (effect.destination, reason))
        return self.drain()

    # --- the transaction user: server side ------------------------------------------------
    def respond(self, tx: ServerTransaction, response: Response, now: float) -> bool:
        """Send ``response`` on ``tx`` (e.g. relayed from a branch). False if refused."""
        return tx.respond(response, now)

    def reply(
        self,
        tx: ServerTransaction,
        status: int,
        now: float,
        reason: str | None = None,
        headers: Iterable[tuple[str, str]] = (),
        body: bytes = b"",
    ) -> Response | None:
        """Answer ``tx`` with a locally built response (seed ``t_reply``); every local
        reply of a transaction carries the same To tag. None if refused."""
        tag = None
        if status > 100 and tx.request.to_tag is None:
            tag = tx.local_tag
            if tag is None:
                tag = tx.local_tag = self.ids.tag()
        response = builder.local_reply(tx.request, status, reason, tag, headers, body)
        return response if tx.respond(response, now) else None

    def release(self, tx: ServerTransaction, now: float) -> None:
        """Seed ``t_release`` for an unanswered transaction: stop waiting for the TU,
        absorb retransmissions for wt_timer, then drop it."""
        if tx.state in (State.TRYING, State.PROCEEDING) and tx.last_status < 200:
            tx._finish(TimerName.WAIT, tx.timing.wait, now)

    def discard(self, tx: Transaction, now: float) -> None:
        """Forget ``tx`` now, whatever its state (e.g. the TU chose stateless
        processing after all)."""
        if tx.state is not State.TERMINATED:
            tx._terminate(now)

    # --- the transaction user: client side ------------------------------------------------
    def send_request(
        self,
        request: Request,
        destination: Address,
        now: float,
        *,
        owner: Any = None,
        branch_index: int = 0,
        timing: Timing | None = None,
        data: bytes | None = None,
        branch: str | None = None,
    ) -> ClientTransaction:
        """Start a client transaction for ``request`` (its top Via carries a branch
        from ``new_branch``) towards ``destination``.

        Or send ready ``data`` with that ``branch`` in its top Via: ``request`` is then
        the message it was made from (method and CSeq as sent), e.g. a proxy's
        ``forwarded_bytes`` without a copy of the request."""
        method = request.method
        if method == "ACK":
            raise ValueError("an ACK is not a transaction: use send_stateless()")
        if branch is None:
            via = request.via
            branch = via.branch if via is not None else None
        if not branch or not branch.startswith(MAGIC_COOKIE):
            raise ValueError("the request's top Via needs a branch with the magic cookie")
        table = self.table
        if (branch, method) in table.client_by_key:
            raise ValueError(f"branch {branch!r} is already in use for {method}")
        invite = method == "INVITE"
        if timing is None:
            timing = self._timing_inv if invite else self._timing_noninv
        if invite:
            tx: ClientTransaction = ClientInviteTransaction(
                self, request, destination, branch, now, timing, data)
        else:
            tx = ClientNonInviteTransaction(self, request, destination, branch, now, timing,
                                            data)
        tx.owner = owner
        tx.branch_index = branch_index
        cseq = request.cseq
        table.insert(tx, request.call_id or "", cseq.number if cseq is not None else 0)
        table.add_client(tx)
        self.stats.uac_transactions += 1
        tx._start(now)  # type: ignore[attr-defined]
        return tx

    def send_stateless(self, message: Request | Response, destination: Address) -> None:
        """Queue a send that belongs to no transaction (e.g. an end-to-end ACK)."""
        self.queued.append(Send(bytes(message), destination, None, SendKind.STATELESS))

    def cancel(
        self,
        tx: ClientTransaction,
        now: float,
        method: int | None = None,
        headers: Iterable[tuple[str, str]] = (),
    ) -> CancelOutcome:
        """Cancel an INVITE branch per ``cancel_b_method`` (``method`` overrides it):
        a branch with a provisional gets a CANCEL now; an unreplied one is stopped
        (0), cancelled on its first provisional (1) or cancelled now (2). ``headers``
        go into the CANCEL (e.g. ``("Reason", ...)``)."""
        if not isinstance(tx, ClientInviteTransaction):
            return CancelOutcome.NOT_NEEDED
        if headers:
            tx.cancel_headers = list(headers)
        if method is None:
            method = self.cancel_b_method
        if not tx._fire(Event.CANCEL, now, method):
            return CancelOutcome.NOT_NEEDED
        return _OUTCOME[tx.cancel_state]

    def _send_cancel(self, invite: ClientInviteTransaction, now: float) -> None:
        cancel = builder.cancel_for(invite.sent_request, self.ac_extra_hdrs,
                                    invite.cancel_headers or ())
        timing = self._timing_noninv
        own = invite.timing
        if own is not self._timing_inv:  # carry the branch's t_set_retr / t_set_fr
            timing = timing.replace(t1=own.t1, t2=own.t2, fr=own.fr)
        tx = ClientNonInviteTransaction(self, cancel, invite.destination, invite.branch, now,
                                        timing)
        tx.owner = invite.owner
        tx.branch_index = invite.branch_index
        tx.cancels = invite
        invite.cancel_tx = tx
        invite.cancel_state = CancelState.SENT
        cseq = cancel.cseq
        self.table.insert(tx, cancel.call_id or "", cseq.number if cseq is not None else 0)
        self.table.add_client(tx)
        self.stats.uac_transactions += 1
        tx._start(now)

    # --- lookups (seed t_lookup_request, t_lookup_cancel, t_check_trans) ----------------
    def _server_key(self, request: Request, method: str | None = None) -> Any:
        """``server_key(request, method)``; for the request received last, from the key
        computed when it arrived (keys are read from a request as it arrived)."""
        if request is not self._received:
            return server_key(request, method)
        key = self._received_key
        if key is None or method is None or key[3] == method:
            return key
        return (key[0], key[1], key[2], method)

    def lookup_request(self, request: Request) -> ServerTransaction | None:
        """The server transaction ``request`` belongs to (an ACK: its INVITE's)."""
        key = self._server_key(request)
        if key is not None:
            return self.table.server_by_key.get(key)
        return self._match_rfc2543(request)

    def lookup_ack(self, ack: Request) -> ServerInviteTransaction | None:
        """The INVITE server transaction an ACK belongs to (same branch, or RFC 2543)."""
        tx = self.lookup_request(ack)
        return tx if tx is not None and tx.is_invite else None  # type: ignore[return-value]

    def lookup_cancel(self, cancel: Request) -> ServerInviteTransaction | None:
        """Seed ``t_lookup_cancel``: the INVITE server transaction a CANCEL refers to."""
        key = self._server_key(cancel, "INVITE")
        if key is not None:
            return self.table.server_by_key.get(key)
        bucket = self.table.server_by_dialog.get(dialog_key(cancel))
        if bucket:
            matching = self.matching
            for tx in bucket:
                fields = tx.rfc2543
                if fields is not None and fields.matches_cancel(cancel, matching):
                    return tx
        return None

    def lookup_e2e_ack(self, ack: Request) -> ServerInviteTransaction | None:
        """Best effort (seed ``t_check_trans``): the INVITE server transaction still in
        the table whose 2xx carried the ACK's To tag."""
        tag = ack.to_tag
        if not tag:
            return None
        for tx in self.table.server_by_dialog.get(dialog_key(ack), ()):
            if tx.is_invite and tx.sent_2xx_tagged(tag):
                return tx
        return None

    def lookup_response(self, response: Response) -> ClientTransaction | None:
        """The client transaction a response belongs to (§17.1.3)."""
        key = response_key(response)
        return self.table.client_by_key.get(key) if key is not None else None

    def get(self, ident: str | tuple[int, int]) -> Transaction | None:
        """The transaction with identifier ``"hash_index:label"``."""
        return self.table.get(ident)

    # --- references and removal -------------------------------------------------------
    def ref(self, tx: Transaction) -> None:
        """Keep ``tx`` in the table past Terminated (e.g. while a route awaits)."""
        tx._refs += 1

    def unref(self, tx: Transaction) -> None:
        """Drop a reference; a terminated transaction leaves with the last one."""
        if tx._refs > 0:
            tx._refs -= 1
            if tx._refs == 0 and tx.state is State.TERMINATED:
                self._remove(tx)

    def _terminated(self, tx: Transaction) -> None:
        table = self.table
        if tx.is_server:
            table.drop_server(tx)
        else:
            table.drop_client(tx)
        if tx._refs == 0 and table.remove(tx):
            self.queued.append(new_terminated(tx))

    def _remove(self, tx: Transaction) -> None:
        if self.table.remove(tx):
            self.queued.append(new_terminated(tx))
