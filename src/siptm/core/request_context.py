"""What the request and failure routes work on: the request, its destination set and
the decisions ``tm`` asks for (relay, reply, arm routes, set timers).

Rules of this module: pure. A :class:`RequestContext` is made per route invocation; the
first stateful call creates the :class:`~siptm.core.proxy.ProxyTransaction` ("cell") it
then works on. A failure route gets a context of its own on a copy of the saved request
(with the winning branch's Request-URI); what it changes reaches only the branches it
adds.

The destination set (seed 002 ``append_branch``, Kamailio's semantics): the Request-URI
is a destination while it is "new"; ``append_branch()`` without a URI moves it (with its
``$du`` and branch flags) into the set and consumes it, so ``t_relay()`` sends it once;
changing ``msg.uri`` makes it new again. ``append_branch(uri)`` adds ``uri`` (with the
current ``$du`` and branch flags). In a failure route the Request-URI (the winning
branch's) is new: ``t_relay()`` alone tries it again; ``t_next_contacts()`` consumes it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from ..errors import ParseError
from ..net import Address
from ..sip import Request, Response, parse_uri
from ..sip.uri import SipUri
from . import forward
from .contexts import (
    E_BAD_DEST,
    E_BAD_MSG,
    E_FILTERED,
    E_INTERNAL,
    E_NO_DEST,
    E_SEND,
    F_NO_AUTO_REPLY,
    F_PROPAGATE_REASON,
    FALSE,
    OK,
    RouteView,
)
from .forking import Destination, next_group, order_contacts, parse_q
from .proxy import E_BREADTH, Branch, ProxyTransaction
from .server import ServerTransaction
from .sip_transport import UnsupportedTransport, parse_hostport_target, uri_address

if TYPE_CHECKING:
    from .engine import Engine

_ERROR_REPLY: Final = {E_BAD_MSG: (400, "Bad Request"), E_NO_DEST: (500, "No destination"),
                E_BAD_DEST: (478, "Unresolvable destination"), E_FILTERED: (503, "Filtered"),
                E_SEND: (503, "Send failed"), E_INTERNAL: (500, "Server Internal Error")}
_BREADTH_REPLY: Final = (440, "Max-Breadth Exceeded")


class RequestContext(RouteView):
    """What a request or failure route works on (``tm`` calls land here)."""

    __slots__ = ("_avps", "_loop_hash", "async_mode", "auto_inv_100", "bflags", "branch",
                 "cell", "destinations", "du", "engine", "error_reply", "finished", "flags",
                 "kind", "last_error", "local", "msg", "now", "pending_arming",
                 "pending_timing", "replied", "route_kind", "ruri_consumed", "ruri_q",
                 "sflags", "source", "stateful", "uas", "winner")

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
        self.branch = winner  # what the failure route's checks look at
        self.stateful = cell is not None  # a transaction the script created/uses
        self.flags = 0  # message flags (request route; the transaction's elsewhere)
        self.sflags = 0  # script flags
        self.bflags = winner.flags if winner is not None else 0  # the R-URI's branch flags
        self.ruri_q: float | None = None  # the R-URI's q-value (serial forking)
        self.ruri_consumed: str | None = None  # R-URI moved into the destination set
        self.destinations: list[Destination] = []  # append_branch()
        self.du: str | None = None  # $du, the destination URI
        self.replied = False
        self.last_error = 0
        self.error_reply: tuple[int, str] | None = None
        self.finished = False
        self.pending_arming: dict[str, str] = {}
        self.pending_timing: dict[str, float] = {}
        self.auto_inv_100: bool | None = None
        self._avps: dict[str, Any] | None = None
        self._loop_hash: str | None = None
        self.async_mode = False

    # --- identity helpers -------------------------------------------------------------
    @property
    def loop_hash(self) -> str:
        if self._loop_hash is None:
            self._loop_hash = forward.loop_hash(self.msg)
        return self._loop_hash

    def next_hop(self, request: Request, proto: str | None, du: str | None = None) -> Address:
        """Where ``request`` goes (``du``: its destination URI); a malformed Route raises
        ParseError (a bad message), an unusable ``du`` or target ValueError (a bad
        destination)."""
        if du:
            try:
                return forward.next_hop_address(request, du, proto)
            except ParseError as exc:
                raise ValueError(f"bad destination URI: {exc}") from None
        return forward.next_hop_address(request, None, proto)

    # --- transactions -----------------------------------------------------------------
    def _ensure_cell(self) -> ProxyTransaction | None:
        if self.cell is not None:
            return self.cell
        uas = self.uas
        if uas is None:
            return None
        cell = ProxyTransaction(self.engine, uas, self.msg)
        cell.route_running = self.kind == "request" and not self.finished
        if self.pending_arming:
            for kind, name in self.pending_arming.items():
                setattr(cell, f"{kind}_route", name)
        if self.pending_timing:
            cell.timing_changes.update(self.pending_timing)
        cell.flags = self.flags
        if self._avps is not None:
            cell.avps = self._avps
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
        if self.kind == "request":
            cell.flags = self.flags  # the request's flags become the transaction's
        fixed: Address | None = None
        if target is not None:
            try:
                fixed = parse_hostport_target(target, proto or self.source.transport)
            except (ValueError, UnsupportedTransport):
                if not self.du:
                    return self._relay_failed(E_BAD_DEST, flags)
        consumed = self.ruri_consumed
        if consumed is None or consumed != msg.uri_text:  # the R-URI is "new"
            targets = [Destination(msg.uri_text, self.du, self.bflags, self.ruri_q)]
            if self.destinations:
                targets.extend(self.destinations)
        else:
            targets = self.destinations
        self.destinations = []
        if not targets:
            return self._relay_failed(E_NO_DEST, flags)
        code = cell.add_branches(self, targets, now, proto, fixed)
        if code == E_BREADTH:
            return self._relay_failed(E_NO_DEST, flags, _BREADTH_REPLY)
        if code < 0:
            return self._relay_failed(code, flags)
        return code

    def _relay_failed(self, code: int, flags: int,
                      reply: tuple[int, str] | None = None) -> int:
        self.last_error = code
        self.error_reply = reply if reply is not None and reply[0] == 440 else None
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
        try:
            if msg.max_forwards == 0:
                return self._fail(E_BAD_MSG)
            if target is not None and not self.du:
                dest = parse_hostport_target(target, proto or self.source.transport)
            else:
                dest = self.next_hop(msg, proto, self.du)
            listener = engine.identity.listener_for(dest.transport)
            strict = forward.next_hop_is_strict_router(msg)  # (with $du: Route unread yet)
        except ParseError:
            return self._fail(E_BAD_MSG)
        except (ValueError, UnsupportedTransport, LookupError):
            return self._fail(E_BAD_DEST)
        request = msg  # the route's message stays as it is: what goes out is bytes
        if strict:
            request = msg.copy()
            forward.apply_strict_route(request)
        if msg.method == "ACK":
            branch = forward.stateless_ack_branch(msg)
        else:
            branch = forward.make_branch(self.loop_hash, forward.stateless_unique(msg))
        engine.send_raw(request.forwarded_bytes(forward.via_value(listener, branch)), dest,
                        listener)
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
        status, reason = self.error_reply or _ERROR_REPLY.get(
            self.last_error, (500, "Server Internal Error"))
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

    def is_myself(self, uri: str | None = None) -> int:
        """Kamailio's ``uri == myself``: does ``uri`` (default: the R-URI) name this
        proxy (a listener's address and port, or an alias)?"""
        try:
            target = self.msg.uri if uri is None else parse_uri(uri)
        except ParseError:
            return E_BAD_MSG
        return OK if self.engine.identity.is_local_uri(target) else E_INTERNAL

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

    # --- the destination set (forking) ----------------------------------------------------
    def append_branch(self, uri: str | None = None, q: float | str | None = None) -> int:
        """Seed 002 ``append_branch([uri])``: without ``uri`` the Request-URI (with its
        ``$du`` and branch flags, which are reset) moves into the destination set; with
        one, ``uri`` is added (with the current ``$du`` and branch flags)."""
        cell = self.cell
        if self.kind == "failure" and cell is not None and cell.blocked:
            return FALSE  # a 6xx came back: no new branches (RFC 3261 §16.7 step 5)
        try:
            qvalue = parse_q(q)
        except ValueError:
            return E_INTERNAL
        if uri is None:
            text = self.msg.uri_text
            self.destinations.append(Destination(
                text, self.du, self.bflags, qvalue if qvalue is not None else self.ruri_q))
            self.ruri_consumed = text
            self.du = None
            self.bflags = 0
            return OK
        try:
            parse_uri(uri)
        except ParseError:
            return E_BAD_DEST
        self.destinations.append(Destination(uri, self.du, self.bflags, qvalue))
        return OK

    def _ruri_is_new(self) -> bool:
        consumed = self.ruri_consumed
        return consumed is None or consumed != self.msg.uri_text

    def load_contacts(self) -> int:
        """Seed 002 ``t_load_contacts()``: the destination set (the Request-URI and the
        appended branches), ordered by decreasing q-value, goes into ``contacts_avp``;
        nothing happens when all have the same q-value (they are forked in parallel)."""
        name = self.engine.tm.contacts_avp
        if not name:
            return E_INTERNAL  # contacts_avp unset: serial forking is disabled
        if not self.destinations:
            return OK
        entries = list(self.destinations)
        if self._ruri_is_new():
            entries.insert(0, Destination(self.msg.uri_text, self.du, self.bflags,
                                          self.ruri_q))
        ordered = order_contacts(entries)
        if ordered is None:
            return OK
        self.avps[name] = ordered
        self.destinations = []
        self.ruri_consumed = self.msg.uri_text
        return OK

    def next_contacts(self) -> int:
        """Seed 002 ``t_next_contacts()``: the next contacts of equal q-value become the
        destinations; fr_inv_timer is fr_inv_timer_next while lower q-values remain."""
        tm = self.engine.tm
        name = tm.contacts_avp
        if not name:
            return E_INTERNAL
        avps = self.avps
        contacts = avps.get(name)
        exists = self.cell is not None
        if not contacts:
            avps.pop(name, None)
            return E_INTERNAL if exists else OK
        group = next_group(contacts)
        if not contacts:
            avps.pop(name, None)
        if exists:  # new branches; the Request-URI is not one of them
            self.destinations.extend(group)
            self.ruri_consumed = self.msg.uri_text
        else:  # the first contact becomes the Request-URI
            first, rest = group[0], group[1:]
            try:
                self.msg.uri = first.uri
            except ParseError:
                return E_BAD_DEST
            self.du, self.bflags, self.ruri_q = first.du, first.flags, first.q
            self.ruri_consumed = None
            self.destinations.extend(rest)
        self.set_fr(tm.fr_inv_timer_next if contacts else tm.fr_inv_timer, 0)
        return OK

    def drop_replies(self, mode: str = "a") -> int:
        """t_drop_replies(["a"|"l"|"n"]): the replies received so far (all of them, those
        of the last set of branches, or none) are never picked as the best reply."""
        cell = self.cell
        if cell is None:
            return E_INTERNAL
        mode = (mode or "a").lower()
        if mode not in ("a", "l", "n"):
            raise ValueError('t_drop_replies takes "a", "l" or "n"')
        if mode == "n":
            return OK
        for branch in cell.branches:
            if not branch.pending and (mode == "a" or branch.batch == cell.batches):
                branch.reply_dropped = True
        return OK

    def replicate(self, uri: str, flags: int = 0) -> int:
        """Seed 003 ``t_replicate(uri[, flags])``: a copy of the request goes to ``uri``
        (and to every appended branch's URI, which it consumes), in client transactions
        of its own whose replies are absorbed; the request itself is untouched."""
        msg = self.msg
        if msg.method in ("ACK", "CANCEL"):
            return E_INTERNAL
        engine = self.engine
        try:
            if msg.max_forwards == 0:
                return self._fail(E_BAD_MSG)
        except ParseError:
            return self._fail(E_BAD_MSG)
        uris = [uri] + [d.uri for d in self.destinations]
        self.destinations = []
        sent = 0
        error = E_BAD_DEST
        for text in uris:
            try:
                target = parse_uri(text)
                if not isinstance(target, SipUri):
                    raise UnsupportedTransport("not a SIP URI")
                dest = uri_address(target)
                listener = engine.identity.listener_for(dest.transport)
            except (ParseError, ValueError, UnsupportedTransport, LookupError):
                continue
            copy = msg.copy()
            copy.decrement_max_forwards()
            branch = forward.make_branch(self.loop_hash, engine.layer.new_branch()[7:])
            copy.push_via(forward.our_via(listener, branch))
            tx = engine.layer.send_request(copy, dest, self.now, owner=None)
            engine.note_local(tx, listener)
            sent += 1
        if not sent:
            return self._fail(error)
        return OK

    # --- flags, AVPs and variables (RouteView) ----------------------------------------------
    def _get_msg_flags(self) -> int:
        if self.kind == "request" or self.cell is None:
            return self.flags
        return self.cell.flags

    def _set_msg_flags(self, value: int) -> None:
        if self.kind == "request" or self.cell is None:
            self.flags = value
        else:
            self.cell.flags = value

    def _get_bflags(self, index: int | None) -> int | None:
        if not index:
            return self.bflags
        if 0 < index <= len(self.destinations):
            return self.destinations[index - 1].flags
        return None

    def _set_bflags(self, index: int | None, value: int) -> bool:
        if not index:
            self.bflags = value
            return True
        if 0 < index <= len(self.destinations):
            self.destinations[index - 1].flags = value
            return True
        return False

    @property
    def avps(self) -> dict[str, Any]:
        if self.cell is not None:
            return self.cell.avps
        if self._avps is None:
            self._avps = {}
        return self._avps

    def reply_code(self) -> int:
        if self.kind == "failure" and self.winner is not None:
            return self.winner.final_code
        return super().reply_code()

    def fr_value(self, key: str) -> int:
        changes = self._timing_target()
        if key in changes:
            return round(changes[key] * 1000)
        default = self.engine.layer.default_timing(self.msg.method == "INVITE")
        return round(getattr(default, key) * 1000)

    def set_fr_value(self, key: str, value: int | None) -> int:
        if value is not None:
            ms = int(value)
            return self.set_fr(ms if key == "fr_inv" else 0, ms if key == "fr" else 0)
        if self.cell is not None:
            self.cell.reset_fr(self.now, key)
        else:
            self.pending_timing.pop(key, None)
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
        if self.cell is not None:
            self.cell.set_fr(fr_inv, fr, self.now)
            return OK
        changes = self.pending_timing
        if fr_inv:
            changes["fr_inv"] = fr_inv / 1000
        if fr:
            changes["fr"] = fr / 1000
        return OK

    def reset_fr(self) -> int:
        if self.cell is not None:
            self.cell.reset_fr(self.now)
            return OK
        self.pending_timing.pop("fr_inv", None)
        self.pending_timing.pop("fr", None)
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
        if self.cell is not None:
            self.cell.set_retr(t1, t2)
            return OK
        changes = self.pending_timing
        if t1:
            changes["t1"] = t1 / 1000
        if t2:
            changes["t2"] = t2 / 1000
        return OK

    def reset_retr(self) -> int:
        if self.cell is not None:
            self.cell.reset_retr()
            return OK
        self.pending_timing.pop("t1", None)
        self.pending_timing.pop("t2", None)
        return OK

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

