"""The stateful proxy: a server transaction, its branches and the response context
(RFC 3261 §16.6–§16.10; Kamailio's ``t_fwd``, ``t_reply`` and ``t_cancel``).

Rules of this module: pure. A :class:`ProxyTransaction` ("cell") owns one server
transaction and the client transactions of its branches; it turns their events into
relayed, selected or local replies, CANCELs and route invocations. It never calls user
code itself: routes are asked of the injected :class:`RouteRunner` (the script layer),
which calls back into the contexts below (``RequestContext`` is what ``tm`` talks to).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from ..errors import ParseError
from ..net import Address
from ..sip import Request, Response, parse_uri
from ..sip.uri import SipUri
from . import forward
from .client import ClientTransaction
from .layer import CancelOutcome
from .reply_select import aggregate_challenges, pick_best, upstream_code
from .server import ServerTransaction
from .sip_transport import UnsupportedTransport, parse_hostport_target, uri_address
from .timers import TimerName, Timing

if TYPE_CHECKING:
    from .engine import Engine

# t_relay() results (seed 003 §1.4.1)
OK = 1
E_INTERNAL, E_BAD_MSG, E_NO_DEST, E_BAD_DEST, E_FILTERED, E_SEND = -1, -2, -3, -4, -5, -6
F_NO_AUTO_REPLY = 0x02  # do not answer upstream when forwarding fails
F_NO_DNS_FAILOVER = 0x04
F_PROPAGATE_REASON = 0x08  # a relayed CANCEL carries the received Reason header

_ERROR_REPLY = {E_BAD_MSG: (400, "Bad Request"), E_NO_DEST: (500, "No destination"),
                E_BAD_DEST: (478, "Unresolvable destination"), E_FILTERED: (503, "Filtered"),
                E_SEND: (503, "Send failed"), E_INTERNAL: (500, "Server Internal Error")}


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

    __slots__ = ("avps", "dest", "final", "final_code", "flags", "index", "local", "minor",
                 "onreply", "replied", "reply_dropped", "request", "timed_out", "tx", "uri")

    def __init__(self, index: int, uri: str, request: Request, dest: Address) -> None:
        self.index = index
        self.uri = uri  # the branch's Request-URI ($T_ruri)
        self.request = request
        self.dest = dest
        self.tx: ClientTransaction | None = None
        self.final: Response | None = None  # the final reply (None for a local one)
        self.final_code = 0  # final status, received or local (408 timeout, 503 error)
        self.local = False  # the final status was made up here
        self.replied = False  # any reply received (>= 100)
        self.timed_out = False
        self.reply_dropped = False  # t_drop_replies
        self.minor = False
        self.flags = 0
        self.onreply: str | None = None
        self.avps: dict[str, Any] = {}

    @property
    def pending(self) -> bool:
        return self.final_code == 0


class ProxyTransaction:
    """A server transaction with its branches and response context."""

    def __init__(self, engine: Engine, uas: ServerTransaction, request: Request) -> None:
        self.engine = engine
        self.uas = uas
        self.request = request  # the request as received (plus the script's edits)
        self.saved: Request | None = None  # t_save_lumps / first t_relay: base of branches
        self.branches: list[Branch] = []
        self.failure_route: str | None = None
        self.onreply_route: str | None = None
        self.branch_route: str | None = None
        self.flags = 0
        self.avps: dict[str, Any] = {}
        self.extra_headers: list[tuple[str, str]] = []  # t_add_hdrs
        self.canceled = False
        self.cancel_reason: str | None = None
        self.blocked = False  # a 6xx arrived: no new branches (unless disable_6xx_block)
        self.final_status = 0  # the final status sent upstream
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

    # --- replies upstream ---------------------------------------------------------------
    def reply_local(self, status: int, reason: str | None, now: float,
                    headers: list[tuple[str, str]] | None = None, body: bytes = b"") -> bool:
        """Answer upstream from here (t_reply, timeouts, errors)."""
        if status >= 200 and self.final_status and not (200 <= status < 300 and self.has_2xx):
            return False
        out_headers = list(headers or ())
        response = self.engine.layer.reply(self.uas, status, now, reason, out_headers, body)
        if response is None:
            return False
        self._stats().local_replies += 1
        self._note_sent(status)
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
            if not response.vias:
                return False
        except ParseError:
            return False
        engine = self.engine
        if engine.layer.respond(self.uas, response, now):
            self._stats().relayed_replies += 1
            self._note_sent(status)
            return True
        if 200 <= status < 300:
            # §16.7 step 10: the server transaction cannot take it (a final response
            # went up already, or it is gone): a 2xx is forwarded statelessly
            engine.send_raw(bytes(response), self.uas.reply_to,
                            engine._locals.get(id(self.uas)))
            self._stats().relayed_replies += 1
            return True
        return False

    # --- branch events --------------------------------------------------------------------
    def on_response(self, tx: ClientTransaction, response: Response, now: float) -> None:
        stats = self._stats()
        stats.received_replies += 1
        if getattr(tx, "cancels", None) is not None:
            return  # the reply to our CANCEL: nothing to relay
        branch = self._branch_of(tx)
        if branch is None:
            return
        status = response.status
        route = branch.onreply or self.onreply_route
        runner = self.engine.runner
        if route and runner is not None:
            ctx = ReplyContext(self, branch, response, now)
            dropped = runner.reply_route(ctx, route)
            if dropped and status < 200:
                return
        if status < 200:
            branch.replied = True
            if status > 100 and not self.final_status:
                self.relay_reply(response, now)
            return
        branch.replied = True
        branch.final = response
        branch.final_code = status
        if status < 300:
            if not self.relay_reply(response, now):  # every 2xx goes up (§16.7 step 5)
                self.reply_local(502, "Bad Gateway", now)  # an unusable 2xx
            self.cancel_branches(now, keep=branch)
            return
        if status >= 600 and not self.engine.tm.disable_6xx_block:
            self.blocked = True
            self.cancel_branches(now, keep=branch)
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
            if all(b.minor for b in pending) and any(not b.minor for b in self.branches):
                for branch in pending:  # minor branches are not waited for
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
            name = self.failure_route
            self.failure_route = None  # one run per arming (re-armed from inside the route)
            self.failure_running = self.failure_ran = True
            ctx = RequestContext(self.engine, self._failure_request(best), self.uas.source,
                                 now, uas=self.uas, cell=self, kind="failure", winner=best)
            runner.failure_route(ctx, name)
            return
        self.send_best(best, now)

    def best_branch(self) -> Branch | None:
        codes = [None if b.reply_dropped or (b.minor and len(self.branches) > 1) else
                 (b.final_code or None) for b in self.branches]
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
            reason = {408: "Request Timeout", 487: "Request Terminated",
                      503: "Service Unavailable"}.get(status)
            self.reply_local(upstream_code(status), reason if status != 503 else None, now)
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
        base = self.saved or self.request
        request = base.copy()
        with contextlib.suppress(ParseError):
            request.uri = winner.uri  # seed 003: the R-URI of the winning branch
        return request

    def failure_finished(self, ctx: RequestContext, now: float) -> None:
        self.failure_running = False
        if self.final_status:
            return
        if any(b.pending for b in self.branches):
            return  # new branches: wait for them
        best = self.best_branch()
        if best is not None:
            self.send_best(best, now)
        else:
            self.reply_local(500, "Server Internal Error", now)

    # --- creating branches ----------------------------------------------------------------
    def add_branches(self, ctx: RequestContext, targets: list[tuple[str, Address | None]],
                     now: float, proto: str | None) -> int:
        """Create and send one branch per ``(request_uri, fixed_destination)``."""
        if self.canceled or self.final_status:
            return E_NO_DEST  # cancelled, or answered already (too late to relay)
        if self.suspend_expired and ctx.kind == "request":
            return E_NO_DEST  # the suspended route came back after its fr_timer
        if self.blocked and not self.engine.tm.disable_6xx_block:
            return E_NO_DEST
        engine = self.engine
        base = ctx.msg
        if self.saved is None or ctx.kind == "request":
            self.saved = base
        sent = 0
        error = E_NO_DEST
        for uri_text, fixed in targets:
            index = len(self.branches)
            request = base.copy()
            if uri_text != request.uri_text:
                try:
                    request.uri = uri_text
                except ParseError:
                    error = E_BAD_DEST
                    continue
            try:
                dest = fixed or ctx.next_hop(request, proto)
            except ParseError:  # a malformed Route
                error = E_BAD_MSG
                continue
            except (UnsupportedTransport, LookupError, ValueError):
                error = E_BAD_DEST
                continue
            forward.apply_strict_route(request)
            branch = Branch(index, request.uri_text, request, dest)
            branch.flags = ctx.branch_flags.get(index, ctx.flags)
            if self.branch_route and engine.runner is not None:
                bctx = BranchContext(self, branch, now)
                if engine.runner.branch_route(bctx, self.branch_route):
                    continue  # dropped in the branch route
            request.decrement_max_forwards()
            for name, value in self.extra_headers:
                request.headers.add(name, value)
            try:
                listener = engine.identity.listener_for(dest.transport)
            except LookupError:
                error = E_BAD_DEST
                continue
            via_branch = forward.make_branch(ctx.loop_hash, engine.layer.new_branch()[7:])
            request.push_via(forward.via_value(listener, via_branch))
            invite = request.method == "INVITE"
            timing = self.timing(invite)
            if branch.avps.get("__fr") is not None or branch.avps.get("__retr") is not None:
                changes = {}
                changes.update(branch.avps.pop("__fr", None) or {})
                changes.update(branch.avps.pop("__retr", None) or {})
                timing = timing.replace(**changes)
            self.branches.append(branch)
            branch.tx = engine.layer.send_request(request, dest, now, owner=self,
                                                  branch_index=index, timing=timing)
            engine.note_local(branch.tx, listener)
            sent += 1
        return OK if sent else error


class RequestContext:
    """What a request or failure route works on (``tm`` calls land here)."""

    def __init__(self, engine: Engine, msg: Request, source: Address, now: float, *,
                 uas: ServerTransaction | None = None, cell: ProxyTransaction | None = None,
                 kind: str = "request", winner: Branch | None = None,
                 local: Address | None = None) -> None:
        self.engine = engine
        self.msg = msg
        self.source = source
        self.local = local
        self.now = now
        self.uas = uas
        self.cell = cell
        self.kind = kind
        self.route_kind = kind
        self.winner = winner
        self.stateful = cell is not None  # a transaction the script created/uses
        self.flags = 0
        self.branch_flags: dict[int, int] = {}
        self.destinations: list[str] = []  # append_branch()
        self.du: str | None = None  # $du, the destination URI
        self.replied = False
        self.last_error = 0
        self.finished = False
        self.pending_arming: dict[str, str] = {}
        self.pending_timing: dict[str, float] = {}
        self.auto_inv_100: bool | None = None
        self._loop_hash: str | None = None

    # --- identity helpers -------------------------------------------------------------
    @property
    def loop_hash(self) -> str:
        if self._loop_hash is None:
            self._loop_hash = forward.loop_hash(self.msg)
        return self._loop_hash

    def next_hop(self, request: Request, proto: str | None) -> Address:
        """Where ``request`` goes; a malformed Route raises ParseError (a bad message),
        an unusable ``$du`` or target ValueError (a bad destination)."""
        if self.du:
            try:
                uri = forward.next_hop_uri(request, self.du)
            except ParseError as exc:
                raise ValueError(f"bad destination URI: {exc}") from None
        else:
            uri = forward.next_hop_uri(request, None)
        if not isinstance(uri, SipUri):
            raise UnsupportedTransport("not a SIP URI")
        return uri_address(uri, force_transport=proto)

    # --- transactions -----------------------------------------------------------------
    def _ensure_cell(self) -> ProxyTransaction | None:
        if self.cell is not None:
            return self.cell
        uas = self.uas
        if uas is None:
            return None
        cell = ProxyTransaction(self.engine, uas, self.msg)
        cell.route_running = self.kind == "request" and not self.finished
        for kind, name in self.pending_arming.items():
            setattr(cell, f"{kind}_route", name)
        cell.timing_changes.update(self.pending_timing)
        cell.flags = self.flags
        self.cell = cell
        self.stateful = True
        auto = self.auto_inv_100 if self.auto_inv_100 is not None else self.engine.tm.auto_inv_100
        if uas.is_invite and auto and uas.last_status == 0:
            self.engine.layer.reply(uas, 100, self.now, self.engine.tm.auto_inv_100_reason)
        return cell

    def suspend(self) -> None:
        """The (async) request route awaits: its transaction's fr_timer runs meanwhile."""
        if self.cell is not None and self.kind == "request" and not self.finished:
            self.cell.suspend(self.now)

    def newtran(self) -> int:
        if self.msg.method == "ACK":
            return E_INTERNAL
        return OK if self._ensure_cell() is not None else E_INTERNAL

    def relay(self, target: str | None = None, flags: int = 0, proto: str | None = None,
              nonack: bool = False) -> int:
        msg = self.msg
        now = self.now
        method = msg.method
        if method == "ACK":
            if nonack:
                return self._fail(E_BAD_MSG)
            return self._forward_ack(target, proto)
        if method == "CANCEL" and self.kind == "request":
            code = self._relay_cancel(bool(flags & F_PROPAGATE_REASON))
            if code != 1:
                return OK if code == 0 else code
            policy = self.engine.tm.unmatched_cancel
            if policy == 2:
                self.engine.layer.discard(self.uas, now) if self.uas is not None else None
                return OK
            if policy == 1:
                return self.forward_stateless(target, proto)
        if self.kind == "request":
            try:
                mf = msg.max_forwards
                looped = mf != 0 and forward.is_loop(msg, self.engine.identity,
                                                      self.loop_hash)
            except ParseError as exc:  # e.g. a malformed Via further down
                return self._relay_failed(E_BAD_MSG, flags, (400, exc.reason))
            if mf == 0:
                return self._relay_failed(E_BAD_MSG, flags, (483, "Too Many Hops"))
            if looped:
                return self._relay_failed(E_BAD_MSG, flags, (482, "Loop Detected"))
        cell = self._ensure_cell()
        if cell is None:
            return self._fail(E_INTERNAL)
        fixed: Address | None = None
        if target is not None and not self.du:
            try:
                fixed = parse_hostport_target(target, proto or self.source.transport)
            except (ValueError, UnsupportedTransport):
                return self._relay_failed(E_BAD_DEST, flags)
        if self.kind == "failure" and not self.destinations:
            targets = [(msg.uri_text, fixed)]
        else:
            targets = [(msg.uri_text, fixed)] + [(uri, fixed) for uri in self.destinations]
        self.destinations = []
        code = cell.add_branches(self, targets, now, proto)
        if code < 0:
            return self._relay_failed(code, flags)
        return code

    def _relay_failed(self, code: int, flags: int,
                      reply: tuple[int, str] | None = None) -> int:
        self.last_error = code
        if not flags & F_NO_AUTO_REPLY and self.kind == "request":
            status, reason = reply or _ERROR_REPLY.get(code, (500, "Server Internal Error"))
            if self.cell is not None or self.uas is not None:
                self.reply(status, reason)
            else:
                self.sl_reply(status, reason)
        return code

    def _fail(self, code: int) -> int:
        self.last_error = code
        return code

    def _forward_ack(self, target: str | None, proto: str | None) -> int:
        """An end-to-end ACK (for a 2xx) is forwarded statelessly (§16.10 / §16.11)."""
        return self.forward_stateless(target, proto)

    def forward_stateless(self, target: str | None = None, proto: str | None = None) -> int:
        msg = self.msg
        engine = self.engine
        request = msg.copy()
        try:
            if msg.max_forwards == 0:
                return self._fail(E_BAD_MSG)
            if target is not None and not self.du:
                dest = parse_hostport_target(target, proto or self.source.transport)
            else:
                dest = self.next_hop(request, proto)
            listener = engine.identity.listener_for(dest.transport)
        except ParseError:
            return self._fail(E_BAD_MSG)
        except (ValueError, UnsupportedTransport, LookupError):
            return self._fail(E_BAD_DEST)
        forward.apply_strict_route(request)
        request.decrement_max_forwards()
        branch = forward.make_branch(self.loop_hash, engine.layer.new_branch()[7:])
        request.push_via(forward.via_value(listener, branch))
        engine.send_raw(bytes(request), dest, listener)
        if self.uas is not None and self.cell is None:
            engine.layer.discard(self.uas, self.now)
            self.uas = None
        return OK

    # --- CANCEL -----------------------------------------------------------------------------
    def lookup_cancel(self, overwrite_flags: bool = False) -> int:
        if self.msg.method != "CANCEL":
            return E_INTERNAL
        invite = self.engine.layer.lookup_cancel(self.msg)
        if invite is None:
            return E_INTERNAL
        if overwrite_flags and isinstance(invite.owner, ProxyTransaction):
            self.flags = invite.owner.flags
        return OK

    def relay_cancel(self) -> int:
        """1: INVITE not found; 0: CANCEL handled (ends the route); <0: error."""
        if self.msg.method != "CANCEL":
            return E_INTERNAL
        return self._relay_cancel(False)

    def _relay_cancel(self, propagate_reason: bool) -> int:
        engine = self.engine
        now = self.now
        invite = engine.layer.lookup_cancel(self.msg)
        if invite is None:
            return 1
        if self.uas is not None:
            engine.layer.reply(self.uas, 200, now, "canceling")
            engine.stats.local_replies += 1
            self.stateful = True  # its transaction answers retransmissions (Timer J)
            self.replied = True
        reason = self.msg.headers.get("Reason") if propagate_reason else None
        cell = invite.owner
        if isinstance(cell, ProxyTransaction):
            cell.cancel_from_upstream(now, reason)
        elif invite.last_status < 200:
            engine.layer.reply(invite, 487, now, "Request Terminated")
            engine.stats.local_replies += 1
        return 0

    # --- checks ---------------------------------------------------------------------------
    def check_trans(self) -> int:
        """Seed semantics; 0 means "handled, end the route"."""
        msg = self.msg
        layer = self.engine.layer
        if msg.method == "CANCEL":
            return OK if layer.lookup_cancel(msg) is not None else E_INTERNAL
        if msg.method == "ACK":
            invite = layer.lookup_ack(msg)
            if invite is not None and not 200 <= invite.last_status < 300:
                return 0  # an ACK for a negative reply: its transaction handles it
            if invite is not None or layer.lookup_e2e_ack(msg) is not None:
                return OK  # an end-to-end ACK for a 2xx of a live INVITE transaction
            return E_INTERNAL
        tx = layer.lookup_request(msg)
        if tx is not None and tx is not self.uas:
            tx.retransmit_reply(self.now)
            return 0
        return E_INTERNAL

    def lookup_request(self) -> int:
        tx = self.engine.layer.lookup_request(self.msg)
        return OK if tx is not None and (tx is not self.uas or self.cell is not None) \
            else E_INTERNAL

    # --- replies ------------------------------------------------------------------------------
    def reply(self, status: int, reason: str | None = None, body: bytes = b"",
              content_type: str | None = None,
              headers: list[tuple[str, str]] | None = None) -> int:
        if self.msg.method == "ACK":
            return E_INTERNAL
        cell = self._ensure_cell()
        if cell is None:
            return E_INTERNAL
        out = list(headers or ())
        if content_type:
            out.append(("Content-Type", content_type))
        ok = cell.reply_local(status, reason, self.now, out, body)
        if ok:
            self.replied = True
        return OK if ok else E_INTERNAL

    def sl_reply(self, status: int, reason: str | None = None) -> int:
        engine = self.engine
        if self.msg.method == "ACK":
            return E_INTERNAL
        if self.cell is not None:
            return self.reply(status, reason)
        tag = engine.layer.ids.tag() if status > 100 and self.msg.to_tag is None else None
        response = Response.for_request(self.msg, status, reason, to_tag=tag)
        dest = self.uas.reply_to if self.uas is not None else self.source
        engine.send_raw(bytes(response), dest, self.local)
        engine.stats.sl_replies += 1
        self.replied = True
        if self.uas is not None and status >= 200:
            engine.layer.discard(self.uas, self.now)
            self.uas = None
        return OK

    def sl_reply_error(self) -> int:
        status, reason = _ERROR_REPLY.get(self.last_error, (500, "Server Internal Error"))
        return self.sl_reply(status, reason)

    def retransmit_reply(self) -> int:
        uas = self.uas
        return OK if uas is not None and uas.retransmit_reply(self.now) else E_INTERNAL

    def release(self) -> int:
        if self.uas is None:
            return E_INTERNAL
        self.engine.layer.release(self.uas, self.now)
        return OK

    def add_hdrs(self, text: str) -> int:
        cell = self._ensure_cell()
        if cell is None:
            return E_INTERNAL
        for line in text.replace("\r\n", "\n").split("\n"):
            if line.strip():
                name, sep, value = line.partition(":")
                if not sep:
                    return E_INTERNAL
                cell.extra_headers.append((name.strip(), value.strip()))
        return OK

    def flush_flags(self) -> int:
        if self.cell is None:
            return E_INTERNAL
        self.cell.flags = self.flags
        return OK

    def save_lumps(self) -> int:
        if self.cell is None:
            return E_INTERNAL
        self.cell.saved = self.msg.copy()
        return OK

    def set_auto_inv_100(self, enabled: bool) -> int:
        self.auto_inv_100 = enabled
        return OK

    # --- routing helpers ------------------------------------------------------------------
    def record_route(self, params: str = "") -> int:
        try:
            listener = self.local or self.engine.identity.listener_for(self.source.transport)
        except LookupError:
            return E_INTERNAL
        extra = params if not params or params.startswith(";") else ";" + params
        forward.record_route(self.msg, listener, extra)
        return OK

    def loose_route(self) -> int:
        try:
            return OK if forward.loose_route(self.msg, self.engine.identity) else E_INTERNAL
        except ParseError:
            return E_BAD_MSG

    def process_maxfwd(self, limit: int) -> int:
        msg = self.msg
        try:
            mf = msg.max_forwards
        except ParseError:
            return E_BAD_MSG
        if mf is None:
            msg.max_forwards = limit
            return OK
        if mf == 0:
            return E_INTERNAL
        return OK

    def append_branch(self, uri: str | None = None) -> int:
        text = uri if uri is not None else self.msg.uri_text
        try:
            parse_uri(text)
        except ParseError:
            return E_BAD_DEST
        self.destinations.append(text)
        return OK

    def arm_route(self, kind: str, name: str) -> int:
        if self.cell is not None:
            setattr(self.cell, f"{kind}_route", name)
        else:
            self.pending_arming[kind] = name
        return OK

    # --- timers ---------------------------------------------------------------------------
    def _timing_target(self) -> dict[str, float]:
        return self.cell.timing_changes if self.cell is not None else self.pending_timing

    def set_fr(self, fr_inv: int, fr: int) -> int:
        changes = self._timing_target()
        if fr_inv:
            changes["fr_inv"] = fr_inv / 1000
        if fr:
            changes["fr"] = fr / 1000
        if self.cell is not None and self.cell.suspend_timer is not None:
            self.cell.suspend(self.now)  # the suspended route's fr_timer, restarted
        if self.cell is not None:
            for branch in self.cell.branches:
                if branch.tx is not None and branch.pending:
                    branch.tx.set_fr(fr_inv, fr, now=self.now)
        return OK

    def reset_fr(self) -> int:
        changes = self._timing_target()
        changes.pop("fr_inv", None)
        changes.pop("fr", None)
        if self.cell is not None and self.cell.suspend_timer is not None:
            self.cell.suspend(self.now)
        if self.cell is not None:
            for branch in self.cell.branches:
                if branch.tx is not None and branch.pending:
                    branch.tx.reset_fr(now=self.now)
        return OK

    def set_max_lifetime(self, inv: int, noninv: int) -> int:
        invite = self.msg.method == "INVITE"
        value = inv if invite else noninv
        if value:
            self._timing_target()["lifetime"] = value / 1000
            if self.uas is not None:
                self.uas.set_max_lifetime(inv, noninv, now=self.now)
        return OK

    def reset_max_lifetime(self) -> int:
        self._timing_target().pop("lifetime", None)
        if self.uas is not None:
            self.uas.reset_max_lifetime(now=self.now)
        return OK

    def set_retr(self, t1: int, t2: int) -> int:
        changes = self._timing_target()
        if t1:
            changes["t1"] = t1 / 1000
        if t2:
            changes["t2"] = t2 / 1000
        if self.cell is not None:
            for branch in self.cell.branches:
                if branch.tx is not None and branch.pending:
                    branch.tx.set_retr(t1, t2)
        return OK

    def reset_retr(self) -> int:
        changes = self._timing_target()
        changes.pop("t1", None)
        changes.pop("t2", None)
        if self.cell is not None:
            for branch in self.cell.branches:
                if branch.tx is not None and branch.pending:
                    branch.tx.reset_retr()
        return OK

    def replicate(self, uri: str, flags: int = 0) -> int:
        return E_INTERNAL  # t_replicate arrives with forking (issue 6)

    # --- end of the route -----------------------------------------------------------------
    def finish(self, now: float, error: BaseException | None = None) -> None:
        """The route has ended (``error``: it raised). Answer what must be answered and
        let go of what nobody uses."""
        if self.finished:
            return
        self.finished = True
        self.now = now
        engine = self.engine
        cell = self.cell
        if self.kind == "failure":
            if cell is not None:
                if error is not None and not cell.final_status and not any(
                        b.pending for b in cell.branches):
                    cell.reply_local(500, "Server Internal Error", now)
                cell.failure_finished(self, now)
            return
        if cell is not None:
            cell.resume()
            cell.route_running = False
            if error is not None and not cell.final_status and not cell.branches:
                cell.reply_local(500, "Server Internal Error", now)
            elif cell.canceled and not cell.final_status and not cell.branches:
                cell.reply_local(487, "Request Terminated", now)
            elif not cell.branches and not cell.final_status and not self.replied:
                # a transaction nobody answers or relays (t_newtran, or an async route,
                # then nothing): released as the seeds' t_unref does, absorbing
                # retransmissions for wt_timer, with no reply
                engine.layer.release(cell.uas, now)
            cell.check_completion(now)
            return
        if error is not None and not self.replied and self.msg.method != "ACK":
            self.sl_reply(500, "Server Internal Error")
        if self.uas is not None and not self.stateful:
            engine.layer.discard(self.uas, now)  # handled statelessly (or dropped)
            self.uas = None


class BranchContext:
    """What a branch route works on: one branch's request before it is sent."""

    route_kind = "branch"
    kind = "branch"

    def __init__(self, cell: ProxyTransaction, branch: Branch, now: float) -> None:
        self.cell = cell
        self.branch = branch
        self.msg = branch.request
        self.now = now

    def set_fr(self, fr_inv: int, fr: int) -> int:
        changes = self.branch.avps.setdefault("__fr", {})
        if fr_inv:
            changes["fr_inv"] = fr_inv / 1000
        if fr:
            changes["fr"] = fr / 1000
        return OK

    def set_retr(self, t1: int, t2: int) -> int:
        changes = self.branch.avps.setdefault("__retr", {})
        if t1:
            changes["t1"] = t1 / 1000
        if t2:
            changes["t2"] = t2 / 1000
        return OK

    def arm_route(self, kind: str, name: str) -> int:
        if kind == "onreply":
            self.branch.onreply = name
        else:
            setattr(self.cell, f"{kind}_route", name)
        return OK


class ReplyContext:
    """What an onreply route works on: one received reply of one branch."""

    route_kind = "onreply"
    kind = "onreply"

    def __init__(self, cell: ProxyTransaction, branch: Branch, reply: Response,
                 now: float) -> None:
        self.cell = cell
        self.branch = branch
        self.msg = reply
        self.now = now

    def arm_route(self, kind: str, name: str) -> int:
        setattr(self.cell, f"{kind}_route", name)
        return OK

    def check_status(self, pattern: str) -> bool:
        return re.fullmatch(pattern, str(self.msg.status)) is not None


StatusCheck = Callable[[str], bool]
