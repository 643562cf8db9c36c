"""The stateful proxy: a server transaction, its branches and the response context
(RFC 3261 §16.6–§16.10; Kamailio's ``t_fwd``, ``t_reply`` and ``t_cancel``).

Rules of this module: pure. A :class:`ProxyTransaction` ("cell") owns one server
transaction and the client transactions of its branches; it turns their events into
relayed, selected or local replies, CANCELs and route invocations. It never calls user
code itself: routes are asked of the injected :class:`RouteRunner` (the script layer),
which calls back into the contexts (``RequestContext`` in :mod:`.request_context` is
what ``tm`` talks to in request and failure routes; ``BranchContext`` and
``ReplyContext`` in :mod:`.contexts`).

The response context (§16.7): provisional replies go up as they come (not 100); every
2xx goes up at once and the other branches are cancelled; a 6xx cancels the pending
branches and blocks new ones (unless ``disable_6xx_block``); once no branch is pending
(minor branches are not waited for) the best final reply is picked
(:mod:`.reply_select`), the failure route runs if one is armed, and otherwise the best
reply goes up. A branch that timed out counts as 408, one that could not be sent as
503; a late non-2xx on a branch that already ended does not change its outcome.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any, Final, Protocol

from ..errors import ParseError
from ..net import Address
from ..sip import Request, Response, parse_uri
from . import forward
from .client import ClientInviteTransaction, ClientNonInviteTransaction, ClientTransaction
from .contexts import (  # noqa: F401  (re-exported: the codes are part of this API)
    E_BAD_DEST,
    E_BAD_MSG,
    E_FILTERED,
    E_INTERNAL,
    E_NO_DEST,
    E_SEND,
    F_NO_AUTO_REPLY,
    F_NO_DNS_FAILOVER,
    F_PROPAGATE_REASON,
    OK,
    BranchContext,
    ReplyContext,
)
from .forking import DEFAULT_MAX_BREADTH, Destination, breadth_shares
from .layer import CancelOutcome
from .reply_select import aggregate_challenges, pick_best, upstream_code
from .server import ServerTransaction
from .sip_transport import UnsupportedTransport
from .timers import TimerName, Timing

if TYPE_CHECKING:
    from .engine import Engine
    from .request_context import RequestContext

E_BREADTH: Final = -40  # internal: not enough Max-Breadth left (answered 440, RFC 5393)

_LOCAL_REASONS: Final = {408: "Request Timeout", 487: "Request Terminated"}


class RouteRunner(Protocol):
    """What the engine asks of the script layer."""

    def request_route(self, ctx: RequestContext) -> None:
        """Run the request route; call ``ctx.finish(now)`` when it has ended (possibly
        later, for an ``async def`` route)."""

    def failure_route(self, ctx: RequestContext, name: str) -> None:
        """Run failure route ``name``; call ``ctx.finish(now)`` when it has ended."""

    def reply_route(self, ctx: ReplyContext, name: str) -> bool:
        """Run onreply route ``name`` to its end; True when it dropped the reply."""

    def branch_route(self, ctx: BranchContext, name: str) -> bool:
        """Run branch route ``name`` to its end; True when it dropped the branch."""


class Branch:
    """One outgoing branch of a proxied request (Kamailio's ``struct ua_client``)."""

    __slots__ = ("avps", "batch", "breadth", "dest", "du", "final", "final_code", "flags",
                 "index", "local", "minor", "onreply", "provisional", "replies",
                 "reply_dropped", "request", "timed_out", "timing_changes", "tx", "uri")

    def __init__(self, index: int, uri: str, request: Request,
                 dest: Address | None = None) -> None:
        self.index = index  # its place in ProxyTransaction.branches ($T_branch_idx)
        self.uri = uri  # the branch's Request-URI ($T_ruri)
        self.request = request
        self.dest = dest
        self.du: str | None = None  # its destination URI ($du), if any
        self.tx: ClientTransaction | None = None
        self.final: Response | None = None  # the final reply (None for a local one)
        self.final_code = 0  # final status, received or local (408 timeout, 503 error)
        self.local = False  # the final status was made up here
        self.replies = 0  # replies received on it (>= 100)
        self.provisional = False  # a provisional reply came before the final one
        self.timed_out = False
        self.reply_dropped = False  # t_drop_replies
        self.minor = False  # minor_branch_flag: not waited for (seed 003)
        self.flags = 0  # branch flags
        self.breadth = 0  # its share of Max-Breadth (RFC 5393)
        self.batch = 0  # which t_relay() created it (t_drop_replies("l"))
        self.onreply: str | None = None  # t_on_reply from its branch route
        self.timing_changes: dict[str, float] | None = None  # t_set_fr/retr, branch route
        self.avps: dict[str, Any] = {}  # $bavp

    @property
    def pending(self) -> bool:
        return self.final_code == 0

    @property
    def replied(self) -> bool:
        return self.replies > 0

    def __repr__(self) -> str:
        return f"<Branch {self.index} {self.uri} final={self.final_code}>"


class ProxyTransaction:
    """A server transaction with its branches and response context."""

    __slots__ = ("auto_inv_100", "avps", "batches", "blocked", "branch_route", "branches",
                 "cancel_reason", "canceled", "engine", "extra_headers", "failure_ran",
                 "failure_route", "failure_running", "final_status", "flags", "has_2xx",
                 "last_local", "local_tag", "max_breadth", "onreply_route", "recheck",
                 "request", "route_running", "saved", "silent", "suspend_expired",
                 "suspend_timer", "timing_changes", "uas")

    def __init__(self, engine: Engine, uas: ServerTransaction, request: Request) -> None:
        self.engine = engine
        self.uas = uas
        self.request = request  # the request as received (plus the script's edits)
        self.saved: Request | None = None  # t_save_lumps / first t_relay: base of branches
        self.branches: list[Branch] = []
        self.failure_route: str | None = None
        self.onreply_route: str | None = None
        self.branch_route: str | None = None
        self.flags = 0  # transaction (message) flags
        self.avps: dict[str, Any] = {}
        self.extra_headers: list[tuple[str, str]] = []  # t_add_hdrs
        self.canceled = False
        self.cancel_reason: str | None = None
        self.blocked = False  # a 6xx arrived: no new branches (unless disable_6xx_block)
        self.final_status = 0  # the final status sent upstream
        self.last_local = False  # the last reply sent upstream was made up here
        self.has_2xx = False
        self.failure_running = False
        self.failure_ran = False  # a failure route was run (noisy_ctimer: never silent)
        self.route_running = False  # a request/failure route has not finished yet
        self.auto_inv_100: bool | None = None
        self.timing_changes: dict[str, float] = {}
        self.suspend_timer: list[Any] | None = None  # fr_timer of a suspended route
        self.suspend_expired = False  # it ran out: the route's later t_relay is refused
        self.local_tag: str | None = None
        self.silent = False  # noisy_ctimer off and a lone unanswered INVITE timed out
        self.max_breadth: int | None = None  # the request's Max-Breadth, once needed
        self.batches = 0  # t_relay() calls that created branches
        self.recheck = False  # a route cancelled branches: look at completion again
        uas.owner = self

    # --- helpers ------------------------------------------------------------------------
    @property
    def is_invite(self) -> bool:
        return self.uas.is_invite

    def timing(self, invite: bool) -> Timing:
        base = self.engine.layer.default_timing(invite)
        return base.replace(**self.timing_changes) if self.timing_changes else base

    def _stats(self) -> Any:
        return self.engine.stats

    def pending_branches(self) -> list[Branch]:
        return [b for b in self.branches if b.pending]

    # --- replies upstream ---------------------------------------------------------------
    def reply_local(self, status: int, reason: str | None, now: float,
                    headers: list[tuple[str, str]] | None = None, body: bytes = b"") -> bool:
        """Answer upstream from here (t_reply, timeouts, errors). A final reply cancels
        the branches still pending (as Kamailio's t_reply does)."""
        if status >= 200 and self.final_status and not (200 <= status < 300 and self.has_2xx):
            return False
        out_headers = list(headers or ())
        response = self.engine.layer.reply(self.uas, status, now, reason, out_headers, body)
        if response is None:
            return False
        self._stats().local_replies += 1
        self.last_local = True
        self._note_sent(status)
        if status >= 200 and self.branches:
            for branch in self.branches:
                if branch.pending and branch.tx is not None:
                    self._cancel(branch.tx, now)
        return True

    def _note_sent(self, status: int) -> None:
        if status >= 200 and not self.final_status:
            self.final_status = status
            self._stats().count_final(status)
        if 200 <= status < 300:
            self.has_2xx = True

    def relay_reply(self, response: Response, now: float) -> bool:
        """Relay a received reply upstream (§16.7 steps 3, 9). False when it cannot
        be relayed (its Via stack is malformed, or it named only us)."""
        status = response.status
        try:
            response.pop_via()
        except ParseError:
            return False
        if not response.has_valid_vias():
            return False
        engine = self.engine
        if engine.layer.respond(self.uas, response, now):
            self._stats().relayed_replies += 1
            self.last_local = False
            self._note_sent(status)
            return True
        if 200 <= status < 300:
            # §16.7 step 10: the server transaction cannot take it (a final response
            # went up already, or it is gone): a 2xx is forwarded statelessly
            engine.send_raw(bytes(response), self.uas.reply_to, engine.local_for(self.uas))
            self._stats().relayed_replies += 1
            return True
        return False

    # --- branch events --------------------------------------------------------------------
    def on_response(self, tx: ClientTransaction, response: Response, now: float) -> None:
        self.engine.stats.received_replies += 1
        # (an INVITE's has no such slot; isinstance, not is_invite, for the compiled build)
        if isinstance(tx, ClientNonInviteTransaction) and tx.cancels is not None:
            return  # the reply to our CANCEL: nothing to relay
        branch = self._branch_of(tx)
        if branch is None:
            return
        status = response.status
        route = branch.onreply or self.onreply_route
        if route:
            runner = self.engine.runner
            if runner is not None:
                dropped = runner.reply_route(ReplyContext(self, branch, response, now), route)
                if dropped and status < 200:  # seed 003: drop stops a provisional
                    branch.replies += 1
                    branch.provisional = True
                    self._recheck(now)
                    return
        branch.replies += 1
        if status < 200:
            branch.provisional = True
            if status > 100 and not self.final_status and branch.pending:
                self.relay_reply(response, now)
            self._recheck(now)
            return
        if status < 300:
            if branch.pending:
                branch.final = response
                branch.final_code = status
            if not self.relay_reply(response, now):  # every 2xx goes up (§16.7 step 5)
                self.reply_local(502, "Bad Gateway", now)  # an unusable 2xx
            if self.has_2xx and len(self.branches) == 1:
                self.recheck = False  # no other branch to cancel, nothing left to complete
            else:
                self.cancel_branches(now, keep=branch)
            return
        if not branch.pending:
            # the branch ended already (timed out, cancelled as a minor branch, killed):
            # its outcome stays; the client transaction ACKs the reply
            self._recheck(now)
            return
        branch.final = response
        branch.final_code = status
        if status >= 600 and not self.engine.tm.disable_6xx_block:
            self.blocked = True
            self.cancel_branches(now, keep=branch)
            return
        self.recheck = False
        self.check_completion(now)

    def _recheck(self, now: float) -> None:
        if self.recheck:
            self.recheck = False
            self.check_completion(now)

    def on_timeout(self, tx: Any, timer: TimerName, now: float) -> None:
        if tx is self.uas:
            if timer is TimerName.LIFETIME and not self.final_status:
                self.expire_branches(now)
                if not self.final_status and not self.failure_running:
                    self.reply_local(408, "Request Timeout", now)
            return
        if getattr(tx, "cancels", None) is not None:
            invite = tx.cancels
            branch = self._branch_of(invite)
            if branch is not None and branch.pending:
                self._local_final(branch, 487 if self.canceled else 408, now)
            return
        branch = self._branch_of(tx)
        if branch is None or not branch.pending:
            return
        if timer is TimerName.C:  # fr_inv_timer: give up on the branch, CANCEL it
            self._cancel(tx, now)
        if timer is TimerName.CANCEL:
            self._local_final(branch, 487 if self.canceled else 408, now)
            return
        branch.timed_out = True
        self._local_final(branch, 408, now)

    def on_transport_error(self, tx: Any, now: float) -> None:
        if tx is self.uas:
            return
        branch = self._branch_of(tx)
        if branch is not None and branch.pending:
            self._local_final(branch, 503, now)  # §16.9: as if a 503 came back

    def _branch_of(self, tx: Any) -> Branch | None:
        index = getattr(tx, "branch_index", -1)
        if 0 <= index < len(self.branches) and self.branches[index].tx is tx:
            return self.branches[index]
        return None

    def _local_final(self, branch: Branch, status: int, now: float) -> None:
        branch.final_code = status
        branch.local = True
        self.check_completion(now)

    def expire_branches(self, now: float) -> None:
        """max_inv_lifetime / max_noninv_lifetime: every pending branch ends as 408."""
        for branch in self.branches:
            if branch.pending:
                if branch.tx is not None:
                    self._cancel(branch.tx, now)
                branch.timed_out = True
                branch.final_code = 408
                branch.local = True
        self.check_completion(now)

    # --- CANCEL -----------------------------------------------------------------------------
    def _cancel(self, tx: ClientTransaction, now: float,
                reason: str | None = None) -> CancelOutcome:
        """Cancel one branch; our CANCEL carries the t_add_hdrs headers (seed 003) and
        the propagated Reason, if any."""
        headers = self.extra_headers
        if reason:
            headers = [*headers, ("Reason", reason)]
        return self.engine.layer.cancel(tx, now, headers=headers)

    def cancel_branch(self, branch: Branch, now: float) -> None:
        """t_cancel_branch: cancel one pending branch from a route; completion is looked
        at once the route is over."""
        if branch.tx is None or not branch.pending:
            return
        if self._cancel(branch.tx, now) is CancelOutcome.FAKE_487:
            branch.final_code = 487
            branch.local = True
            self.recheck = True

    def cancel_branches(self, now: float, keep: Branch | None = None,
                        reason: str | None = None) -> None:
        """CANCEL every pending branch but ``keep`` (cancel_b_method decides how an
        unreplied one is treated)."""
        for branch in self.branches:
            if branch is keep or not branch.pending or branch.tx is None:
                continue
            outcome = self._cancel(branch.tx, now, reason)
            if outcome is CancelOutcome.FAKE_487:
                branch.final_code = 487
                branch.local = True
        self.recheck = False
        self.check_completion(now)

    def cancel_from_upstream(self, now: float, reason: str | None) -> None:
        """The UAC cancelled the INVITE (a CANCEL matched it)."""
        self.canceled = True
        self.cancel_reason = reason
        if not any(b.pending for b in self.branches):
            if not self.final_status and not self.failure_running:
                self.reply_local(487, "Request Terminated", now)
            return
        self.cancel_branches(now, reason=reason)

    # --- timers of the transaction, on the fly (seed 002 t_set_fr, t_set_retr) -------------
    def set_fr(self, fr_inv: int, fr: int, now: float) -> None:
        """New fr_inv_timer / fr_timer (ms, 0 keeps): for branches to come and, on the
        fly, for the pending ones (and a suspended route's fr_timer)."""
        changes = self.timing_changes
        if fr_inv:
            changes["fr_inv"] = fr_inv / 1000
        if fr:
            changes["fr"] = fr / 1000
        if self.suspend_timer is not None:
            self.suspend(now)  # the suspended route's fr_timer, restarted
        for branch in self.branches:
            if branch.tx is not None and branch.pending:
                branch.tx.set_fr(fr_inv, fr, now=now)

    def reset_fr(self, now: float, key: str | None = None) -> None:
        """Back to the configured value of both timers (or of ``key``: "fr"/"fr_inv")."""
        keys = ("fr_inv", "fr") if key is None else (key,)
        for name in keys:
            self.timing_changes.pop(name, None)
        if self.suspend_timer is not None:
            self.suspend(now)
        default = self.engine.layer.default_timing(self.is_invite)
        for branch in self.branches:
            if branch.tx is None or not branch.pending:
                continue
            if key is None:
                branch.tx.reset_fr(now=now)
            else:
                ms = round(getattr(default, key) * 1000)
                branch.tx.set_fr(ms if key == "fr_inv" else 0, ms if key == "fr" else 0,
                                 now=now)

    def set_retr(self, t1: int, t2: int) -> None:
        changes = self.timing_changes
        if t1:
            changes["t1"] = t1 / 1000
        if t2:
            changes["t2"] = t2 / 1000
        for branch in self.branches:
            if branch.tx is not None and branch.pending:
                branch.tx.set_retr(t1, t2)

    def reset_retr(self) -> None:
        self.timing_changes.pop("t1", None)
        self.timing_changes.pop("t2", None)
        for branch in self.branches:
            if branch.tx is not None and branch.pending:
                branch.tx.reset_retr()

    # --- a suspended (async) request route ---------------------------------------------
    def suspend(self, now: float) -> None:
        """The request route awaits: fr_timer keeps running for it (seed ``t_suspend``:
        "FR timer is ticking while the transaction is suspended, and the transaction's
        failure route is executed if t_continue() is not called in time")."""
        self.resume()
        engine = self.engine
        self.suspend_timer = engine.timers.schedule_in(
            now, self.timing(self.is_invite).fr, self, TimerName.F)
        engine.timers_running += 1

    def resume(self) -> None:
        if self.suspend_timer is not None:
            self.engine.timers.cancel(self.suspend_timer)
            self.engine.timers_running -= 1
            self.suspend_timer = None

    def on_proxy_timer(self, kind: TimerName, now: float) -> None:
        self.suspend_timer = None
        if self.final_status or self.branches or not self.route_running:
            return  # answered, or relayed (its branches' timers rule now)
        # as Kamailio's blind branch of t_suspend: a branch that timed out unreplied
        blind = Branch(0, self.request.uri_text, self.request, self.uas.source)
        blind.final_code = 408
        blind.local = blind.timed_out = True
        self.branches.append(blind)
        self.suspend_expired = True
        self.route_running = False  # too late for the route: complete without it
        self.check_completion(now)

    # --- completion and the failure route -------------------------------------------------
    def check_completion(self, now: float) -> None:
        """When no branch is pending any more (minor branches excepted), pick the best
        reply and run the failure route or send it upstream (§16.7 step 6)."""
        if self.failure_running or self.route_running:
            return
        if self.final_status and not self.has_2xx:
            return
        pending = [b for b in self.branches if b.pending]
        if pending:
            # (lists, not generators: a generator left early is closed by an exception)
            if all([b.minor for b in pending]) and not all([b.minor for b in self.branches]):
                for branch in pending:  # seed 003: minor branches are not waited for
                    if branch.tx is not None:
                        self._cancel(branch.tx, now)
                    branch.final_code = 487
                    branch.local = True
            else:
                return
        if self.has_2xx or not self.branches:
            return
        best = self.best_branch()
        if best is None:
            return
        runner = self.engine.runner
        if self.failure_route and runner is not None and not self.final_status:
            from .request_context import RequestContext

            name = self.failure_route
            self.failure_route = None  # one run per arming (re-armed from inside the route)
            self.failure_running = self.failure_ran = True
            ctx = RequestContext(self.engine, self._failure_request(best), self.uas.source,
                                 now, uas=self.uas, cell=self, kind="failure", winner=best)
            runner.failure_route(ctx, name)
            return
        self.send_best(best, now)

    def best_branch(self) -> Branch | None:
        many = len(self.branches) > 1
        codes = [None if b.reply_dropped or (b.minor and many) else (b.final_code or None)
                 for b in self.branches]
        index = pick_best(codes)
        if index < 0:
            codes = [b.final_code or None for b in self.branches]
            index = pick_best(codes)
        return self.branches[index] if index >= 0 else None

    def send_best(self, best: Branch, now: float) -> None:
        status = best.final_code
        tm = self.engine.tm
        if best.local or best.final is None:
            if status == 408 and best.timed_out and self._silent_timeout(best):
                self.silent = True
                self.engine.layer.release(self.uas, now)
                return
            if self.canceled:  # the UAC cancelled: what we make up is a 487 (§9.2)
                status = 487
            self.reply_local(upstream_code(status), _LOCAL_REASONS.get(status), now)
            return
        response = best.final
        if status in (401, 407) and tm.aggregate_challenges:
            others = [b.final for b in self.branches
                      if b is not best and b.final is not None and not b.reply_dropped]
            if any(r.status in (401, 407) for r in others):
                response = aggregate_challenges(response, others)
        if status == 503:
            response.status = 500
            response.reason = "Server Internal Error"
        if not self.relay_reply(response, now):
            self.reply_local(502, "Bad Gateway", now)  # its Via stack was unusable

    def _silent_timeout(self, best: Branch) -> bool:
        tm = self.engine.tm
        if not self.is_invite:
            return bool(tm.rfc4320_no_408)
        if tm.noisy_ctimer or self.failure_ran:
            return False
        return len(self.branches) == 1 and not best.replied

    def _failure_request(self, winner: Branch) -> Request:
        """The request a failure route works on: as saved by the first t_relay (or
        t_save_lumps), with the winning branch's Request-URI (seed 003). Its changes
        reach only the branches the failure route adds (seed 002 t_save_lumps)."""
        base = self.saved or self.request
        request = base.copy()
        if winner.uri != request.uri_text:
            with contextlib.suppress(ParseError):
                # (parsed here: compiled, the uri setter takes the getter's type only)
                request.uri = parse_uri(winner.uri)
        return request

    def failure_finished(self, ctx: RequestContext, now: float) -> None:
        self.failure_running = False
        if self.final_status:
            return
        if any(b.pending for b in self.branches):
            self.check_completion(now)  # new branches (or only minor ones): wait
            return
        best = self.best_branch()
        if best is not None:
            self.send_best(best, now)
        else:
            self.reply_local(500, "Server Internal Error", now)

    # --- creating branches ----------------------------------------------------------------
    def add_branches(self, ctx: RequestContext, targets: list[Destination], now: float,
                     proto: str | None, fixed: Address | None = None) -> int:
        """Create and send one branch per destination (``fixed``: where every branch
        without a ``$du`` of its own goes, t_relay(host, port))."""
        if self.canceled or self.final_status:
            return E_NO_DEST  # cancelled, or answered already (too late to relay)
        if self.suspend_expired and ctx.kind == "request":
            return E_NO_DEST  # the suspended route came back after its fr_timer
        if self.blocked:
            return E_NO_DEST  # a 6xx came back (RFC 3261 §16.7 step 5)
        engine = self.engine
        base = ctx.msg
        if self.saved is None:
            # the first t_relay saves the request for the failure route's branches; it
            # is copied only if that route can see it again
            self.saved = base.copy() if self.failure_route else base
        count = len(targets)
        shares: list[int] | None = None
        set_breadth = False
        if count > 1 or self.branches or "max-breadth" in base.headers._keys:
            shares, set_breadth = self._breadth(base, count)
            if shares is None:
                return E_BREADTH
        runner = engine.runner
        route = self.branch_route if runner is not None else None
        minor_mask = engine.minor_mask
        invite = base.method == "INVITE"
        default_timing = engine.layer.default_timing(invite)
        self.batches += 1
        sent = 0
        error = E_NO_DEST
        base_uri = base.uri_text
        for position, target in enumerate(targets):
            index = len(self.branches)
            uri_text = target.uri
            # a branch that sends the route's message as it stands (plus our Via and
            # Max-Forwards) needs no copy of it: its bytes are made from the message
            as_is = (route is None and uri_text == base_uri and not set_breadth
                     and not self.extra_headers)
            if as_is:
                request = base
            else:
                request = base.copy()
                if uri_text != request.uri_text:
                    try:
                        request.uri = parse_uri(uri_text)
                    except ParseError:
                        error = E_BAD_DEST
                        continue
            branch = Branch(index, uri_text, request)
            branch.flags = target.flags
            branch.du = target.du
            # while the copy is the route's message unchanged, the next hop is read from
            # that message (its R-URI and Route set parsed once, maybe by the script)
            routing = base if uri_text == base_uri and route is None else request
            if route is not None and runner is not None:
                if runner.branch_route(BranchContext(self, branch, now), route):
                    continue  # dropped in the branch route
                branch.uri = request.uri_text  # the route may have changed it
            try:
                if branch.du:
                    dest = ctx.next_hop(routing, proto, branch.du)
                elif fixed is not None:
                    dest = fixed
                else:
                    dest = forward.next_hop_address(routing, None, proto)
                listener = engine.identity.listener_for(dest.transport)
                strict = forward.next_hop_is_strict_router(routing)
            except ParseError:  # a malformed Route (with $du, first read here)
                error = E_BAD_MSG
                continue
            except (UnsupportedTransport, LookupError, ValueError):
                error = E_BAD_DEST
                continue
            branch.dest = dest
            if strict:
                if as_is:  # its R-URI and Route set change: that takes a copy after all
                    request = branch.request = base.copy()
                    as_is = False
                forward.apply_strict_route(request)
            if not as_is:
                request.decrement_max_forwards()
            if shares is not None:
                branch.breadth = shares[position]
                if set_breadth:
                    request.headers.set("Max-Breadth", str(branch.breadth))
            else:
                branch.breadth = DEFAULT_MAX_BREADTH
            via_branch = forward.make_branch(ctx.loop_hash, engine.layer.new_branch()[7:])
            if as_is:
                data: bytes | None = base.forwarded_bytes(forward.via_value(listener, via_branch))
            else:
                for name, value in self.extra_headers:
                    request.headers.add(name, value)
                request.push_via(forward.our_via(listener, via_branch))
                data = None
            timing = self.timing(invite) if self.timing_changes else default_timing
            if branch.timing_changes:
                timing = timing.replace(**branch.timing_changes)
            branch.minor = bool(branch.flags & minor_mask)
            branch.batch = self.batches
            self.branches.append(branch)
            branch.tx = tx = engine.layer.send_request(request, dest, now, owner=self,
                                                       branch_index=index, timing=timing,
                                                       data=data, branch=via_branch)
            if self.extra_headers and isinstance(tx, ClientInviteTransaction):
                tx.ack_headers = self.extra_headers  # seed 003: "local ACKs" too
            engine.note_local(tx, listener)
            sent += 1
        return OK if sent else error

    def _breadth(self, base: Request, count: int) -> tuple[list[int] | None, bool]:
        """RFC 5393 §5.3: the Max-Breadth of ``count`` new branches, and whether to
        write it (the request carried one, or branches run in parallel)."""
        present = "max-breadth" in base.headers._keys
        incoming = self.max_breadth
        if incoming is None:
            incoming = DEFAULT_MAX_BREADTH
            if present:
                try:
                    incoming = max(int((base.headers.get("Max-Breadth") or "").strip()), 0)
                except ValueError:
                    incoming = DEFAULT_MAX_BREADTH  # unreadable: as if absent
            self.max_breadth = incoming
        pending = [b for b in self.branches if b.pending]
        outgoing = sum(b.breadth for b in pending)
        return (breadth_shares(incoming - outgoing, count),
                present or count + len(pending) > 1)
