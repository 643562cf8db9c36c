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

from typing import Any

from .results import Result, RouteDrop, RouteExit, as_result
from .router import BRANCH, FAILURE, ONREPLY, RouteFunc, Router


class Tm:
    """The tm functions for one route invocation (see docs/script.md for the table)."""

    __slots__ = ("_ctx", "_router", "_runner")

    def __init__(self, ctx: Any, router: Router, runner: Any = None) -> None:
        self._ctx = ctx
        self._router = router
        self._runner = runner

    def _do(self, name: str, *args: Any, **kwargs: Any) -> Result:
        """Call ``ctx.name``; from a suspended async route, at the current time and with
        its effects dispatched right away."""
        ctx = self._ctx
        method = getattr(ctx, name, None)
        if method is None:
            raise RuntimeError(f"not available in a {ctx.route_kind} route")
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

    # --- relaying ---------------------------------------------------------------------
    def t_relay(self, host: str | int | None = None, port: int | str | None = None,
                flags: int = 0) -> Result:
        """``t_relay()``, ``t_relay(flags)``, ``t_relay(host, port)`` (Kamailio) or
        ``t_relay("proto:host:port"[, flags])`` (OpenSIPS)."""
        if isinstance(host, int) and port is None:  # t_relay(0x02)
            host, flags = None, host
        if isinstance(port, str) and host is not None and not port.isdigit():
            port, flags = None, int(port, 0)  # t_relay("udp:h", "0x1")
        return self._do("relay", target=_target(host, port), flags=flags)

    def _relay_proto(self, proto: str, host: str | None, port: int | str | None) -> Result:
        return self._do("relay", target=_target(host, port, proto), proto=proto)

    def t_relay_to_udp(self, host: str | None = None, port: int | str | None = None) -> Result:
        return self._relay_proto("udp", host, port)

    def t_relay_to_tcp(self, host: str | None = None, port: int | str | None = None) -> Result:
        return self._relay_proto("tcp", host, port)

    def t_relay_to_tls(self, host: str | None = None, port: int | str | None = None) -> Result:
        return self._relay_proto("tls", host, port)

    def t_forward_nonack(self, host: str | None = None, port: int | str | None = None) -> Result:
        """Forward a non-ACK request statefully (an ACK is refused)."""
        return self._do("relay", target=_target(host, port), nonack=True)

    def t_forward_nonack_udp(self, host: str, port: int | str) -> Result:
        return self._do("relay", target=_target(host, port, "udp"), proto="udp",
                                         nonack=True)

    def t_forward_nonack_tcp(self, host: str, port: int | str) -> Result:
        return self._do("relay", target=_target(host, port, "tcp"), proto="tcp",
                                         nonack=True)

    def t_forward_nonack_tls(self, host: str, port: int | str) -> Result:
        return self._do("relay", target=_target(host, port, "tls"), proto="tls",
                                         nonack=True)

    def t_relay_cancel(self) -> Result:
        """Relay a CANCEL to its INVITE's branches. Ends the route when done (seed 0);
        truthy when the INVITE was not found; falsy on error."""
        code = int(self._do("relay_cancel"))
        if code == 0:
            raise RouteExit()
        return as_result(code)

    def t_lookup_cancel(self, overwrite_flags: int = 0) -> Result:
        return self._do("lookup_cancel", bool(overwrite_flags))

    def t_check_trans(self) -> Result:
        """Seed semantics: a retransmission (or ACK to a negative reply) is handled and
        ends the route; CANCEL/ACK/reply: whether the transaction exists."""
        code = int(self._do("check_trans"))
        if code == 0:
            raise RouteExit()
        return as_result(code)

    def t_lookup_request(self) -> Result:
        return self._do("lookup_request")

    def t_replicate(self, uri: str, flags: int = 0) -> Result:
        return self._do("replicate", uri, flags)

    # --- UAS side -------------------------------------------------------------------------
    def t_newtran(self) -> Result:
        return self._do("newtran")

    def t_reply(self, code: int | str, reason: str | None = None) -> Result:
        return self._do("reply", int(code), reason)

    def t_reply_with_body(self, code: int | str, reason: str, body: str | bytes,
                          content_type: str | None = None) -> Result:
        data = body.encode() if isinstance(body, str) else body
        return self._do("reply", int(code), reason, body=data,
                                         content_type=content_type)

    def t_retransmit_reply(self) -> Result:
        return self._do("retransmit_reply")

    def t_release(self) -> Result:
        return self._do("release")

    def t_add_hdrs(self, headers: str) -> Result:
        return self._do("add_hdrs", headers)

    def t_flush_flags(self) -> Result:
        return self._do("flush_flags")

    def t_save_lumps(self) -> Result:
        return self._do("save_lumps")

    def t_set_auto_inv_100(self, enabled: int | bool) -> Result:
        return self._do("set_auto_inv_100", bool(int(enabled)))

    # --- stateless helpers (sl / core) ------------------------------------------------------
    def sl_send_reply(self, code: int | str, reason: str | None = None) -> Result:
        return self._do("sl_reply", int(code), reason)

    sl_reply = sl_send_reply

    def sl_reply_error(self) -> Result:
        """Reply statelessly with the error the last failed function met (500 if none)."""
        return self._do("sl_reply_error")

    def forward(self, host: str | None = None, port: int | str | None = None) -> Result:
        """Stateless forward (the core ``forward()``)."""
        return self._do("forward_stateless", _target(host, port))

    def record_route(self, params: str = "") -> Result:
        """rr module: add our Record-Route (with ``lr``) so the dialog keeps us."""
        return self._do("record_route", params)

    def loose_route(self) -> Result:
        """rr module: process Route headers (§16.4); truthy when the request is routed by
        a Route set (in-dialog)."""
        return self._do("loose_route")

    def mf_process_maxfwd_header(self, limit: int = 70) -> Result:
        """maxfwd module: add Max-Forwards (``limit``) when absent, decrement otherwise;
        falsy when it is already 0 (reply 483 then)."""
        return self._do("process_maxfwd", limit)

    # --- route arming -----------------------------------------------------------------------
    def t_on_failure(self, route: str | RouteFunc) -> Result:
        return self._do("arm_route", FAILURE, self._router.find(FAILURE, route).name)

    def t_on_reply(self, route: str | RouteFunc) -> Result:
        return self._do("arm_route", ONREPLY, self._router.find(ONREPLY, route).name)

    def t_on_branch(self, route: str | RouteFunc) -> Result:
        return self._do("arm_route", BRANCH, self._router.find(BRANCH, route).name)

    # --- timers per transaction (milliseconds) ---------------------------------------------
    def t_set_fr(self, fr_inv_timeout: int, fr_timeout: int = 0) -> Result:
        return self._do("set_fr", int(fr_inv_timeout), int(fr_timeout))

    def t_reset_fr(self) -> Result:
        return self._do("reset_fr")

    def t_set_max_lifetime(self, inv_lifetime: int, noninv_lifetime: int) -> Result:
        return self._do("set_max_lifetime", int(inv_lifetime), int(noninv_lifetime))

    def t_reset_max_lifetime(self) -> Result:
        return self._do("reset_max_lifetime")

    def t_set_retr(self, retr_t1_interval: int, retr_t2_interval: int) -> Result:
        return self._do("set_retr", int(retr_t1_interval), int(retr_t2_interval))

    def t_reset_retr(self) -> Result:
        return self._do("reset_retr")


def _target(host: str | None, port: int | str | None, proto: str | None = None) -> str | None:
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
