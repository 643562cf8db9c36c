"""``tm``: the seeds' functions, by their names, for a routing script.

Every route receives ``(msg, tm)``. ``tm`` is bound to what the route is handling (the
request, and its transaction once there is one) and forwards each call to the engine's
context. Results follow the seeds: a :class:`~siptm.script.results.Result` whose truth
is ``code > 0``. Functions that in the seeds end the script (``t_check_trans`` on a
retransmission, ``t_relay_cancel`` after relaying, ``drop``, ``exit``) raise
:class:`RouteExit` / :class:`RouteDrop`, which the runner catches.

Times are in milliseconds, as in Kamailio's parameters.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from .results import Result, RouteDrop, RouteExit, as_result
from .router import BRANCH, FAILURE, ONREPLY, REQUEST, RouteFunc, Router

# What the functions that take a number through int() accept (milliseconds, 0/1): the
# annotation is checked at run time when this module is compiled, so it says all of it.
IntLike = int | float | str

# Where the seeds allow a function (the others work in every route type).
_REQ_FAIL: Final = frozenset({REQUEST, FAILURE})
_ROUTES: Final[dict[str, frozenset[str]]] = {
    "t_relay": _REQ_FAIL,
    "append_branch": _REQ_FAIL,
    "t_next_contacts": _REQ_FAIL,
    "t_load_contacts": frozenset({REQUEST}),
    "t_replicate": frozenset({REQUEST}),
    "t_reply": frozenset({REQUEST, FAILURE, ONREPLY}),  # onreply: seed 002 example 54
    "t_check_status": frozenset({REQUEST, FAILURE, ONREPLY, BRANCH}),
    "t_local_replied": frozenset({REQUEST, FAILURE, ONREPLY, BRANCH}),
    "t_branch_timeout": frozenset({FAILURE}),
    "t_branch_replied": frozenset({FAILURE}),
    "t_drop_replies": frozenset({FAILURE}),
    "t_was_cancelled": frozenset({FAILURE, ONREPLY}),
    "t_cancel_branch": frozenset({ONREPLY}),
}


class Tm:
    """The tm functions for one route invocation (see docs/script.md for the table)."""

    __slots__ = ("_ctx", "_router", "_runner")

    def __init__(self, ctx: Any, router: Router, runner: Any = None) -> None:
        self._ctx = ctx
        self._router = router
        self._runner = runner

    def _do(self, caller: str, name: str, *args: Any, **kwargs: Any) -> Result:
        """Call ``ctx.name`` for the tm function ``caller``; from a suspended async route,
        at the current time and with its effects dispatched right away.

        ``caller`` names the function in the error (passed in: compiled code has no
        frame of its own for ``sys._getframe`` to find)."""
        ctx = self._ctx
        method = getattr(ctx, name, None)
        if method is None:
            raise RuntimeError(f"{caller}() is not available in a {ctx.route_kind} route")
        runner = self._runner
        if runner is not None and getattr(ctx, "async_mode", False):
            ctx.now = runner.clock()
            try:
                return as_result(method(*args, **kwargs))
            finally:
                runner.flush(ctx)
        return as_result(method(*args, **kwargs))

    # --- script control -------------------------------------------------------------------
    @staticmethod
    def exit() -> None:
        """End the route here (the seeds' ``exit``)."""
        raise RouteExit()

    @staticmethod
    def drop() -> None:
        """End the route and drop what it handles (the seeds' ``drop``)."""
        raise RouteDrop()

    @property
    def route_type(self) -> str:
        """``request``, ``failure``, ``onreply`` or ``branch``."""
        return self._ctx.route_kind

    def _allowed(self, func: str) -> None:
        """Raise when the seeds do not allow ``func`` in this route type."""
        kinds = _ROUTES[func]
        kind = self._ctx.route_kind
        if kind not in kinds:
            where = ", ".join(k for k in (REQUEST, FAILURE, ONREPLY, BRANCH) if k in kinds)
            raise RuntimeError(f"{func}() cannot be used in a {kind} route "
                               f"(only in: {where})")

    def _get(self, caller: str, name: str) -> Any:
        try:
            return getattr(self._ctx, name)
        except AttributeError:
            raise RuntimeError(f"{caller} is not available in a "
                               f"{self._ctx.route_kind} route") from None

    # --- relaying ---------------------------------------------------------------------
    def t_relay(self, host: str | int | None = None, port: int | str | None = None,
                flags: int = 0) -> Result:
        """``t_relay()``, ``t_relay(flags)``, ``t_relay(host, port)`` (Kamailio) or
        ``t_relay("proto:host:port"[, flags])`` (OpenSIPS)."""
        if self._ctx.route_kind not in _REQ_FAIL:
            self._allowed("t_relay")
        if host is None:  # t_relay(): the usual call
            return self._do("t_relay", "relay", None, flags)
        dest: str | int | None = host
        if isinstance(host, int) and port is None:  # t_relay(0x02)
            dest, flags = None, host
        if isinstance(port, str) and dest is not None and not port.isdigit():
            flags, port = int(port, 0), None  # t_relay("udp:h", "0x1")
        return self._do("t_relay", "relay", _target(dest, port), flags)

    def _relay_proto(self, caller: str, proto: str, host: str | None,
                     port: int | str | None) -> Result:
        self._allowed("t_relay")
        return self._do(caller, "relay", target=_target(host, port, proto), proto=proto)

    def t_relay_to_udp(self, host: str | None = None, port: int | str | None = None) -> Result:
        return self._relay_proto("t_relay_to_udp", "udp", host, port)

    def t_relay_to_tcp(self, host: str | None = None, port: int | str | None = None) -> Result:
        return self._relay_proto("t_relay_to_tcp", "tcp", host, port)

    def t_relay_to_tls(self, host: str | None = None, port: int | str | None = None) -> Result:
        return self._relay_proto("t_relay_to_tls", "tls", host, port)

    def t_forward_nonack(self, host: str | None = None, port: int | str | None = None) -> Result:
        """Forward a non-ACK request statefully (an ACK is refused)."""
        self._allowed("t_relay")
        return self._do("t_forward_nonack", "relay", target=_target(host, port), nonack=True)

    def t_forward_nonack_udp(self, host: str, port: int | str) -> Result:
        self._allowed("t_relay")
        return self._do("t_forward_nonack_udp", "relay", target=_target(host, port, "udp"),
                        proto="udp", nonack=True)

    def t_forward_nonack_tcp(self, host: str, port: int | str) -> Result:
        self._allowed("t_relay")
        return self._do("t_forward_nonack_tcp", "relay", target=_target(host, port, "tcp"),
                        proto="tcp", nonack=True)

    def t_forward_nonack_tls(self, host: str, port: int | str) -> Result:
        self._allowed("t_relay")
        return self._do("t_forward_nonack_tls", "relay", target=_target(host, port, "tls"),
                        proto="tls", nonack=True)

    def t_relay_cancel(self) -> Result:
        """Relay a CANCEL to its INVITE's branches. Ends the route when done (seed 0);
        truthy when the INVITE was not found; falsy on error."""
        result = self._do("t_relay_cancel", "relay_cancel")
        if result == 0:
            raise RouteExit()
        return result

    def t_lookup_cancel(self, overwrite_flags: int = 0) -> Result:
        return self._do("t_lookup_cancel", "lookup_cancel", bool(overwrite_flags))

    def t_check_trans(self) -> Result:
        """Seed semantics: a retransmission (or ACK to a negative reply) is handled and
        ends the route; CANCEL/ACK/reply: whether the transaction exists."""
        result = self._do("t_check_trans", "check_trans")
        if result == 0:
            raise RouteExit()
        return result

    def t_lookup_request(self) -> Result:
        return self._do("t_lookup_request", "lookup_request")

    def t_replicate(self, uri: str, flags: int | str = 0) -> Result:
        """Send a copy of the request to ``uri`` (and to every appended branch) in
        transactions of its own; their replies never reach the caller (seed 003)."""
        self._allowed("t_replicate")
        return self._do("t_replicate", "replicate", uri,
                        int(flags, 0) if isinstance(flags, str) else flags)

    # --- forking ----------------------------------------------------------------------------
    def append_branch(self, uri: str | None = None, q: float | str | None = None) -> Result:
        """Add a destination: the Request-URI (moved, with ``$du`` and branch flags) or
        ``uri``; ``q`` is its q-value for ``t_load_contacts``. Falsy after a 6xx in a
        failure route."""
        self._allowed("append_branch")
        return self._do("append_branch", "append_branch", uri, q)

    # An alias by assignment (t_fork = append_branch) is a plain Python function in a
    # class; a mypyc-compiled class cannot hold one, so the aliases are methods.
    def t_fork(self, uri: str | None = None, q: float | str | None = None) -> Result:
        """``append_branch`` by the name seed 002's example 36 uses."""
        return self.append_branch(uri, q)

    def t_load_contacts(self) -> Result:
        """Order the destination set by q-value into ``contacts_avp`` (serial forking);
        nothing to do when all q-values are equal. Falsy when contacts_avp is unset."""
        self._allowed("t_load_contacts")
        return self._do("t_load_contacts", "load_contacts")

    def t_next_contacts(self) -> Result:
        """Take the next contacts of equal q-value as destinations (the first one as the
        Request-URI before the transaction exists). Falsy when none are left (failure
        route) or contacts_avp is unset."""
        self._allowed("t_next_contacts")
        return self._do("t_next_contacts", "next_contacts")

    def t_drop_replies(self, mode: str = "a") -> Result:
        """Failure route: the replies so far ("a"), of the last branches ("l") or none
        ("n") are never picked as the best reply."""
        self._allowed("t_drop_replies")
        return self._do("t_drop_replies", "drop_replies", mode)

    def t_cancel_branch(self, flags: str = "") -> Result:
        """Onreply route: cancel this branch (""), all pending ("a") or the others ("o")."""
        self._allowed("t_cancel_branch")
        return self._do("t_cancel_branch", "cancel_branch", flags)

    # --- checks (seed 002/003) ----------------------------------------------------------------
    def t_check_status(self, regex: str) -> Result:
        """The reply code matches ``regex``: the last reply sent (request and branch
        routes), the reply (onreply), the winning reply (failure)."""
        self._allowed("t_check_status")
        return self._do("t_check_status", "check_status", regex)

    def t_grep_status(self, code: int | str) -> Result:
        """A branch ended with ``code`` (received or made up here)."""
        return self._do("t_grep_status", "grep_status", code)

    def t_branch_timeout(self) -> Result:
        """Failure route: the winning branch timed out."""
        self._allowed("t_branch_timeout")
        return self._do("t_branch_timeout", "branch_timeout")

    def t_branch_replied(self) -> Result:
        """Failure route: the winning branch got a reply before its final one."""
        self._allowed("t_branch_replied")
        return self._do("t_branch_replied", "branch_replied")

    def t_any_timeout(self) -> Result:
        return self._do("t_any_timeout", "any_timeout")

    def t_any_replied(self) -> Result:
        """A branch got a reply (the current one of an onreply/failure route aside)."""
        return self._do("t_any_replied", "any_replied")

    def t_is_canceled(self) -> Result:
        return self._do("t_is_canceled", "is_canceled")

    def t_was_cancelled(self) -> Result:
        self._allowed("t_was_cancelled")
        return self._do("t_was_cancelled", "is_canceled")

    def t_is_expired(self) -> Result:
        return self._do("t_is_expired", "is_expired")

    def t_local_replied(self, which: str = "all") -> Result:
        """Every reply ("all") / the last one ("last") was made up here."""
        self._allowed("t_local_replied")
        return self._do("t_local_replied", "local_replied", which)

    # --- flags (seed 003 §1.1.1) ------------------------------------------------------------
    def setflag(self, flag: int | str) -> Result:
        """Message flag (the transaction's, once it exists, outside the request route)."""
        return self._do("setflag", "set_flag", flag)

    def resetflag(self, flag: int | str) -> Result:
        return self._do("resetflag", "reset_flag", flag)

    def isflagset(self, flag: int | str) -> Result:
        return self._do("isflagset", "is_flag_set", flag)

    def setsflag(self, flag: int | str) -> Result:
        """Script flag: lives as long as this route invocation."""
        return self._do("setsflag", "set_sflag", flag)

    def resetsflag(self, flag: int | str) -> Result:
        return self._do("resetsflag", "reset_sflag", flag)

    def issflagset(self, flag: int | str) -> Result:
        return self._do("issflagset", "is_sflag_set", flag)

    def setbflag(self, flag: int | str, branch: int | None = None) -> Result:
        """Branch flag of the current branch (request/failure route: the Request-URI's;
        ``branch`` i >= 1: the i-th appended one; branch/onreply route: this branch's,
        or branch number ``branch``)."""
        return self._do("setbflag", "set_bflag", flag, branch)

    def resetbflag(self, flag: int | str, branch: int | None = None) -> Result:
        return self._do("resetbflag", "reset_bflag", flag, branch)

    def isbflagset(self, flag: int | str, branch: int | None = None) -> Result:
        return self._do("isbflagset", "is_bflag_set", flag, branch)

    # --- AVPs and pseudo-variables ----------------------------------------------------------
    @property
    def avp(self) -> dict[str, Any]:
        """Transaction AVPs (``$avp``); in an onreply route per reply unless
        onreply_avp_mode = 1."""
        return self._get("avp", "avps")

    @property
    def bavp(self) -> Mapping[str, Any]:
        """``$bavp``: AVPs of the current branch (branch, onreply and failure routes;
        empty elsewhere)."""
        return self._get("bavp", "bavps")

    @property
    def du(self) -> str | None:
        """``$du``, the destination URI (None: the Request-URI/Route decide)."""
        return self._get("du", "du")

    @du.setter
    def du(self, value: str | None) -> None:
        if not hasattr(self._ctx, "du"):
            raise RuntimeError(f"$du is not available in a {self._ctx.route_kind} route")
        self._ctx.du = value or None

    @property
    def ruri_q(self) -> float | None:
        """The q-value of the Request-URI (for t_load_contacts; None: unspecified)."""
        return self._get("ruri_q", "ruri_q")

    @ruri_q.setter
    def ruri_q(self, value: float | str | None) -> None:
        from ..core.forking import parse_q

        if not hasattr(self._ctx, "ruri_q"):
            raise RuntimeError(f"ruri_q is not available in a {self._ctx.route_kind} route")
        self._ctx.ruri_q = parse_q(value)

    @property
    def T_branch_idx(self) -> int | None:
        """``$T_branch_idx``: this branch's index in branch and onreply routes, else None."""
        return self._get("T_branch_idx", "branch_idx")()

    @property
    def T_reply_code(self) -> int:
        """``$T_reply_code``: the last reply sent (request route), the reply (onreply),
        the winning reply (failure); 0 if none."""
        return self._get("T_reply_code", "reply_code")()

    @property
    def T_ruri(self) -> str | None:
        """``$T_ruri``: the Request-URI of the current branch."""
        return self._get("T_ruri", "t_ruri")()

    @property
    def T_fr_timeout(self) -> int:
        """``$T_fr_timeout`` (ms, read/write; None resets it to fr_timer)."""
        return self._fr_ctx().fr_value("fr")

    @T_fr_timeout.setter
    def T_fr_timeout(self, value: int | None) -> None:
        self._fr_ctx().set_fr_value("fr", value)

    @property
    def T_fr_inv_timeout(self) -> int:
        """``$T_fr_inv_timeout`` (ms, read/write; None resets it to fr_inv_timer)."""
        return self._fr_ctx().fr_value("fr_inv")

    @T_fr_inv_timeout.setter
    def T_fr_inv_timeout(self, value: int | None) -> None:
        self._fr_ctx().set_fr_value("fr_inv", value)

    def _fr_ctx(self) -> Any:
        ctx = self._ctx
        if not hasattr(ctx, "fr_value"):
            raise RuntimeError(f"$T_fr_timeout is not available in a {ctx.route_kind} route")
        return ctx

    # --- UAS side -------------------------------------------------------------------------
    def t_newtran(self) -> Result:
        return self._do("t_newtran", "newtran")

    def t_reply(self, code: int | str, reason: str | None = None) -> Result:
        self._allowed("t_reply")
        return self._do("t_reply", "reply", int(code), reason)

    def t_reply_with_body(self, code: int | str, reason: str, body: str | bytes,
                          content_type: str | None = None) -> Result:
        self._allowed("t_reply")
        data = body.encode() if isinstance(body, str) else body
        return self._do("t_reply_with_body", "reply", int(code), reason, body=data,
                        content_type=content_type)

    def t_retransmit_reply(self) -> Result:
        return self._do("t_retransmit_reply", "retransmit_reply")

    def t_release(self) -> Result:
        return self._do("t_release", "release")

    def t_add_hdrs(self, headers: str) -> Result:
        return self._do("t_add_hdrs", "add_hdrs", headers)

    def t_flush_flags(self) -> Result:
        return self._do("t_flush_flags", "flush_flags")

    def t_save_lumps(self) -> Result:
        return self._do("t_save_lumps", "save_lumps")

    def t_set_auto_inv_100(self, enabled: IntLike) -> Result:
        return self._do("t_set_auto_inv_100", "set_auto_inv_100", bool(int(enabled)))

    # --- stateless helpers (sl / core) ------------------------------------------------------
    def sl_send_reply(self, code: int | str, reason: str | None = None) -> Result:
        return self._do("sl_send_reply", "sl_reply", int(code), reason)

    def sl_reply(self, code: int | str, reason: str | None = None) -> Result:
        """``sl_send_reply``."""
        return self.sl_send_reply(code, reason)

    def sl_reply_error(self) -> Result:
        """Reply statelessly with the error the last failed function met (500 if none)."""
        return self._do("sl_reply_error", "sl_reply_error")

    def forward(self, host: str | None = None, port: int | str | None = None) -> Result:
        """Stateless forward (the core ``forward()``)."""
        return self._do("forward", "forward_stateless",
                        None if host is None else _target(host, port))

    def record_route(self, params: str = "") -> Result:
        """rr module: add our Record-Route (with ``lr``) so the dialog keeps us."""
        return self._do("record_route", "record_route", params)

    def is_myself(self, uri: str | None = None) -> Result:
        """core ``uri == myself``: truthy when ``uri`` (default the R-URI) names this
        proxy (one of its listeners, or an alias)."""
        return self._do("is_myself", "is_myself", uri)

    def loose_route(self) -> Result:
        """rr module: process Route headers (§16.4); truthy when the request is routed by
        a Route set (in-dialog)."""
        return self._do("loose_route", "loose_route")

    def mf_process_maxfwd_header(self, limit: int = 70) -> Result:
        """maxfwd module: add Max-Forwards (``limit``) when absent, decrement otherwise;
        falsy when it is already 0 (reply 483 then)."""
        return self._do("mf_process_maxfwd_header", "process_maxfwd", limit)

    # --- route arming -----------------------------------------------------------------------
    def t_on_failure(self, route: str | RouteFunc) -> Result:
        return self._do("t_on_failure", "arm_route", FAILURE,
                        self._router.find(FAILURE, route).name)

    def t_on_reply(self, route: str | RouteFunc) -> Result:
        return self._do("t_on_reply", "arm_route", ONREPLY,
                        self._router.find(ONREPLY, route).name)

    def t_on_branch(self, route: str | RouteFunc) -> Result:
        return self._do("t_on_branch", "arm_route", BRANCH,
                        self._router.find(BRANCH, route).name)

    # --- timers per transaction (milliseconds) ---------------------------------------------
    def t_set_fr(self, fr_inv_timeout: IntLike, fr_timeout: IntLike = 0) -> Result:
        return self._do("t_set_fr", "set_fr", int(fr_inv_timeout), int(fr_timeout))

    def t_reset_fr(self) -> Result:
        return self._do("t_reset_fr", "reset_fr")

    def t_set_max_lifetime(self, inv_lifetime: IntLike, noninv_lifetime: IntLike) -> Result:
        return self._do("t_set_max_lifetime", "set_max_lifetime", int(inv_lifetime),
                        int(noninv_lifetime))

    def t_reset_max_lifetime(self) -> Result:
        return self._do("t_reset_max_lifetime", "reset_max_lifetime")

    def t_set_retr(self, retr_t1_interval: IntLike, retr_t2_interval: IntLike) -> Result:
        return self._do("t_set_retr", "set_retr", int(retr_t1_interval), int(retr_t2_interval))

    def t_reset_retr(self) -> Result:
        return self._do("t_reset_retr", "reset_retr")


def _target(host: str | int | None, port: int | str | None, proto: str | None = None) -> str | None:
    """``host``/``port`` arguments as one ``[proto:]host[:port]`` string (or None)."""
    if host is None:
        return None
    text = str(host)
    if port is not None and str(port) != "":
        if ":" in text and not text.startswith("[") and text.count(":") > 1:
            text = f"[{text}]"
        text = f"{text}:{int(port)}"
    if proto and not text.lower().startswith(("udp:", "tcp:", "tls:")):
        text = f"{proto}:{text}"
    return text


__all__ = ["Result", "RouteDrop", "RouteExit", "Tm"]
