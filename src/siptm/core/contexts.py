"""What the routes of a forked transaction see: flags, variables and the seeds' checks.

Rules of this module: pure. :class:`RouteView` holds what every route type shares (the
``t_*`` checks, the three kinds of flags, AVPs and the ``$T_*`` variables of seed 003),
answered from the transaction (:class:`~siptm.core.proxy.ProxyTransaction`) the route
runs for. :class:`BranchContext` (a branch route: one branch's request before it is
sent) and :class:`ReplyContext` (an onreply route: one received reply of one branch)
are two of the route types; the request and failure routes use
:class:`~siptm.core.proxy.RequestContext`. Which check a route type may call is the
script layer's business (``siptm.script.tm``); here each answers as the seeds define.

Flags (seed 003 §1.1.1): message flags are the request's in the request route and the
transaction's everywhere else; branch flags belong to one entry of the destination set
(request and failure routes: ``0`` is the Request-URI, ``i`` the i-th appended branch)
or to one branch (branch and onreply routes: its own, or ``cell.branches[i]``); script
flags live as long as one route invocation.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from ..sip import Response
    from .engine import Engine
    from .proxy import Branch, ProxyTransaction

# t_relay() results (seed 003 §1.4.1); the checks answer OK or FALSE
OK: Final = 1
FALSE: Final = -1
E_INTERNAL: Final = -1
E_BAD_MSG: Final = -2
E_NO_DEST: Final = -3
E_BAD_DEST: Final = -4
E_FILTERED: Final = -5
E_SEND: Final = -6
F_NO_AUTO_REPLY: Final = 0x02  # do not answer upstream when forwarding fails
F_NO_DNS_FAILOVER: Final = 0x04
F_PROPAGATE_REASON: Final = 0x08  # a relayed CANCEL carries the received Reason header


class NoBranchAvps(Mapping[str, Any]):
    """``$bavp`` outside branch, onreply and failure routes: empty (seed 003: "NULL
    value is returned"); writing to it is an error."""

    __slots__ = ("_kind",)

    def __init__(self, kind: str) -> None:
        self._kind = kind

    def __getitem__(self, key: str) -> Any:
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0

    def __setitem__(self, key: str, value: Any) -> None:
        raise RuntimeError(f"$bavp is not available in a {self._kind} route "
                           "(only branch, onreply and failure routes)")


class RouteView:
    """The checks, flags and variables every route type shares.

    Subclasses set ``engine``, ``cell`` (the transaction, or None before it exists),
    ``kind``, ``now``, ``msg``, ``sflags`` and ``branch`` (branch/onreply route: the
    branch; failure route: the winning branch; request route: None).
    """

    __slots__ = ()

    engine: Engine
    cell: ProxyTransaction | None
    kind: str
    now: float
    msg: Any
    sflags: int
    branch: Branch | None
    async_mode = False  # a suspended async route runs it (the script layer sets it)

    # --- what the checks look at -----------------------------------------------------
    def _branches(self) -> list[Branch]:
        cell = self.cell
        return cell.branches if cell is not None else []

    def reply_code(self) -> int:
        """$T_reply_code: request/branch route: the last reply sent upstream
        statefully; onreply: the reply; failure: the winning reply; 0 if none."""
        cell = self.cell
        return cell.uas.last_status if cell is not None else 0

    # --- the seeds' checks -------------------------------------------------------------
    def check_status(self, pattern: str) -> int:
        """t_check_status(re): the regular expression matches the reply code (as the
        seeds' regexec does: anywhere in the code's text)."""
        return OK if re.search(pattern, str(self.reply_code())) else FALSE

    def grep_status(self, code: int | str) -> int:
        """t_grep_status(code): a branch ended with ``code`` (received or local)."""
        wanted = int(code)
        return OK if any(b.final_code == wanted for b in self._branches()) else FALSE

    def branch_timeout(self) -> int:
        branch = self.branch
        return OK if branch is not None and branch.timed_out else FALSE

    def branch_replied(self) -> int:
        """The branch got a reply before its final one (the "current" reply does not
        count)."""
        branch = self.branch
        return OK if branch is not None and branch.provisional else FALSE

    def any_timeout(self) -> int:
        return OK if any(b.timed_out for b in self._branches()) else FALSE

    def any_replied(self) -> int:
        """A branch received a reply in the past; the current reply of an onreply route
        (not counted yet) and the winning final reply of a failure route do not count."""
        winner = self.branch if self.kind == "failure" else None
        for b in self._branches():
            if b is winner:
                if b.replies - (0 if b.local else 1) > 0:
                    return OK
            elif b.replies:
                return OK
        return FALSE

    def is_canceled(self) -> int:
        cell = self.cell
        return OK if cell is not None and cell.canceled else FALSE

    def is_expired(self) -> int:
        cell = self.cell
        uas = cell.uas if cell is not None else getattr(self, "uas", None)
        return OK if uas is not None and uas.expired(self.now) else FALSE

    def local_replied(self, which: str = "all") -> int:
        """t_local_replied("all"|"last"): every reply was made up here (no branch
        received one) / the last one was (failure route: the winning reply; request and
        branch routes: the last reply sent upstream)."""
        which = which.lower()
        if which not in ("all", "last"):
            raise ValueError('t_local_replied takes "all" or "last"')
        if self.kind == "onreply":
            return FALSE  # the reply this route runs for was received
        if which == "all":
            return FALSE if any(b.replies for b in self._branches()) else OK
        if self.kind == "failure":
            branch = self.branch
            return OK if branch is not None and branch.local else FALSE
        cell = self.cell
        return OK if cell is not None and cell.last_local else FALSE

    # --- flags -------------------------------------------------------------------------
    def _bit(self, flag: int | str) -> int:
        return 1 << self.engine.flag_bit(flag)

    def _get_msg_flags(self) -> int:
        cell = self.cell
        return cell.flags if cell is not None else 0

    def _set_msg_flags(self, value: int) -> None:
        if self.cell is not None:
            self.cell.flags = value

    def set_flag(self, flag: int | str) -> int:
        self._set_msg_flags(self._get_msg_flags() | self._bit(flag))
        return OK

    def reset_flag(self, flag: int | str) -> int:
        self._set_msg_flags(self._get_msg_flags() & ~self._bit(flag))
        return OK

    def is_flag_set(self, flag: int | str) -> int:
        return OK if self._get_msg_flags() & self._bit(flag) else FALSE

    def set_sflag(self, flag: int | str) -> int:
        # (every subclass holds sflags; this base declares it with empty __slots__)
        self.sflags |= self._bit(flag)  # type: ignore[misc]
        return OK

    def reset_sflag(self, flag: int | str) -> int:
        self.sflags &= ~self._bit(flag)  # type: ignore[misc]
        return OK

    def is_sflag_set(self, flag: int | str) -> int:
        return OK if self.sflags & self._bit(flag) else FALSE

    def _get_bflags(self, index: int | None) -> int | None:
        """Branch flags of the current branch (``index`` None) or of branch ``index``."""
        branches = self._branches()
        if index is None:
            return self.branch.flags if self.branch is not None else None
        return branches[index].flags if 0 <= index < len(branches) else None

    def _set_bflags(self, index: int | None, value: int) -> bool:
        branches = self._branches()
        if index is None:
            if self.branch is None:
                return False
            self.branch.flags = value
            return True
        if 0 <= index < len(branches):
            branches[index].flags = value
            return True
        return False

    def set_bflag(self, flag: int | str, index: int | None = None) -> int:
        current = self._get_bflags(index)
        if current is None:
            return FALSE
        return OK if self._set_bflags(index, current | self._bit(flag)) else FALSE

    def reset_bflag(self, flag: int | str, index: int | None = None) -> int:
        current = self._get_bflags(index)
        if current is None:
            return FALSE
        return OK if self._set_bflags(index, current & ~self._bit(flag)) else FALSE

    def is_bflag_set(self, flag: int | str, index: int | None = None) -> int:
        current = self._get_bflags(index)
        return OK if current is not None and current & self._bit(flag) else FALSE

    # --- AVPs and variables ---------------------------------------------------------------
    @property
    def avps(self) -> dict[str, Any]:
        """Transaction AVPs."""
        cell = self.cell
        assert cell is not None
        return cell.avps

    @property
    def bavps(self) -> Mapping[str, Any]:
        """$bavp: the AVPs of the current branch."""
        branch = self.branch
        return branch.avps if branch is not None else NoBranchAvps(self.kind)

    def branch_idx(self) -> int | None:
        """$T_branch_idx: the branch's index in branch and onreply routes, else None."""
        return None

    def t_ruri(self) -> str | None:
        """$T_ruri: the Request-URI of the current branch (the transaction's request
        outside branch, onreply and failure routes)."""
        if self.branch is not None:
            return self.branch.uri
        cell = self.cell
        return cell.request.uri_text if cell is not None else None

    def fr_value(self, key: str) -> int:
        """$T_fr_timeout (``fr``) / $T_fr_inv_timeout (``fr_inv``), in milliseconds."""
        cell = self.cell
        assert cell is not None
        return _ms(cell.timing(cell.is_invite), key)

    def set_fr_value(self, key: str, value: int | None) -> int:
        cell = self.cell
        assert cell is not None
        if value is None:
            cell.reset_fr(self.now, key)
        else:
            ms = int(value)
            cell.set_fr(ms if key == "fr_inv" else 0, ms if key == "fr" else 0, self.now)
        return OK

    # --- per-transaction timers, on the fly (seed 002 t_set_fr / t_set_retr) -------------
    def set_fr(self, fr_inv: int, fr: int) -> int:
        assert self.cell is not None
        self.cell.set_fr(fr_inv, fr, self.now)
        return OK

    def reset_fr(self) -> int:
        assert self.cell is not None
        self.cell.reset_fr(self.now)
        return OK

    def set_retr(self, t1: int, t2: int) -> int:
        assert self.cell is not None
        self.cell.set_retr(t1, t2)
        return OK

    def reset_retr(self) -> int:
        assert self.cell is not None
        self.cell.reset_retr()
        return OK

    def arm_route(self, kind: str, name: str) -> int:
        assert self.cell is not None
        setattr(self.cell, f"{kind}_route", name)
        return OK


def _ms(timing: Any, key: str) -> int:
    return round(getattr(timing, key) * 1000)


class BranchContext(RouteView):
    """What a branch route works on: one branch's request before it is sent. Changes to
    ``msg`` (and ``$du``, timers, flags, AVPs) apply to that branch only."""

    route_kind = "branch"
    kind = "branch"

    def __init__(self, cell: ProxyTransaction, branch: Branch, now: float) -> None:
        self.engine = cell.engine
        self.cell = cell
        self.branch = self._branch = branch  # (_branch: never None)
        self.msg = branch.request  # (RouteView.msg: Any; compiled classes keep one type)
        self.now = now
        self.sflags = 0

    @property
    def du(self) -> str | None:
        return self._branch.du

    @du.setter
    def du(self, value: str | None) -> None:
        self._branch.du = value or None

    def branch_idx(self) -> int | None:
        return self._branch.index

    def t_ruri(self) -> str | None:
        return self.msg.uri_text

    def _changes(self) -> dict[str, float]:
        branch = self._branch
        if branch.timing_changes is None:
            branch.timing_changes = {}
        return branch.timing_changes

    def set_fr(self, fr_inv: int, fr: int) -> int:
        """Seed 002 example 43: t_set_fr in a branch route is for that branch."""
        changes = self._changes()
        if fr_inv:
            changes["fr_inv"] = fr_inv / 1000
        if fr:
            changes["fr"] = fr / 1000
        return OK

    def reset_fr(self) -> int:
        changes = self._changes()
        changes.pop("fr_inv", None)
        changes.pop("fr", None)
        return OK

    def set_retr(self, t1: int, t2: int) -> int:
        changes = self._changes()
        if t1:
            changes["t1"] = t1 / 1000
        if t2:
            changes["t2"] = t2 / 1000
        return OK

    def reset_retr(self) -> int:
        changes = self._changes()
        changes.pop("t1", None)
        changes.pop("t2", None)
        return OK

    def fr_value(self, key: str) -> int:
        changes = self._branch.timing_changes
        if changes and key in changes:
            return round(changes[key] * 1000)
        return super().fr_value(key)

    def set_fr_value(self, key: str, value: int | None) -> int:
        if value is None:
            self._changes().pop(key, None)
        else:
            self._changes()[key] = int(value) / 1000
        return OK

    def arm_route(self, kind: str, name: str) -> int:
        if kind == "onreply":  # seed 003: from a branch route, for that branch only
            self._branch.onreply = name
        else:
            assert self.cell is not None
            setattr(self.cell, f"{kind}_route", name)
        return OK

    def flush_flags(self) -> int:
        return OK  # message flags are the transaction's here already


class ReplyContext(RouteView):
    """What an onreply route works on: one received reply of one branch."""

    route_kind = "onreply"
    kind = "onreply"

    def __init__(self, cell: ProxyTransaction, branch: Branch, reply: Response,
                 now: float) -> None:
        self.engine = cell.engine
        self.cell = cell
        self.branch = self._branch = branch  # (_branch: never None)
        self.msg = reply  # (RouteView.msg: Any)
        self.now = now
        self.sflags = 0
        self._msg_avps: dict[str, Any] | None = None

    def reply_code(self) -> int:
        return self.msg.status

    def branch_idx(self) -> int | None:
        return self._branch.index

    @property
    def avps(self) -> dict[str, Any]:
        """seed 003 ``onreply_avp_mode``: 0, AVPs of this reply only; 1, the
        transaction's."""
        if self.engine.tm.onreply_avp_mode:
            assert self.cell is not None
            return self.cell.avps
        if self._msg_avps is None:
            self._msg_avps = {}
        return self._msg_avps

    def cancel_branch(self, flags: str = "") -> int:
        """t_cancel_branch(["a"|"o"]): cancel this branch (""), every pending branch
        ("a") or every other one ("o")."""
        cell = self.cell
        assert cell is not None
        flags = flags.lower()
        if flags not in ("", "a", "o"):
            raise ValueError('t_cancel_branch takes "", "a" or "o"')
        for branch in cell.branches:
            if flags == "" and branch is not self.branch:
                continue
            if flags == "o" and branch is self.branch:
                continue
            if branch.pending and (branch is not self.branch or self.msg.status < 200):
                cell.cancel_branch(branch, self.now)
        return OK

    def reply(self, status: int, reason: str | None = None, body: bytes = b"",
              content_type: str | None = None,
              headers: list[tuple[str, str]] | None = None) -> int:
        """t_reply from an onreply route (seed 002 example 54): answers upstream now;
        the pending branches are cancelled."""
        cell = self.cell
        assert cell is not None
        out = list(headers or ())
        if content_type:
            out.append(("Content-Type", content_type))
        return OK if cell.reply_local(status, reason, self.now, out, body) else FALSE
