"""Return values of the tm functions: seed codes that read naturally in Python.

In the seeds a negative code is false and a positive one true; ``Result`` keeps the
code (``.code``, or the int value itself) and makes Python's truthiness agree, so
``if not tm.t_relay(): tm.sl_reply_error()`` reads as the seeds' example does.
"""

from __future__ import annotations


class Result(int):
    """An int whose truth value is ``code > 0``."""

    __slots__ = ()

    @property
    def code(self) -> int:
        return int(self)

    def __bool__(self) -> bool:
        return int(self) > 0

    def __repr__(self) -> str:
        return f"Result({int(self)})"


TRUE = Result(1)
FALSE = Result(-1)

# t_relay() error codes (seed 003 §1.4.1)
E_INTERNAL = Result(-1)   # generic internal error
E_BAD_MSG = Result(-2)    # bad message (parsing errors)
E_NO_DEST = Result(-3)    # no destination available (no branches, or already cancelled)
E_BAD_DEST = Result(-4)   # bad destination (unresolvable address)
E_FILTERED = Result(-5)   # destination filtered (black listed)
E_SEND = Result(-6)       # generic send failed

# a Result is an immutable int: the codes every call returns are made once
_KNOWN = {int(r): r for r in (TRUE, FALSE, E_BAD_MSG, E_NO_DEST, E_BAD_DEST, E_FILTERED,
                              E_SEND)}
_KNOWN[0] = Result(0)


def as_result(value: bool | int) -> Result:
    cls = value.__class__
    if cls is int:  # the contexts' plain codes (the usual case)
        known = _KNOWN.get(value)
        return known if known is not None else Result(value)
    if cls is Result:
        return value  # type: ignore[return-value]
    if cls is bool:
        return TRUE if value else FALSE
    return Result(value)


class RouteExit(Exception):
    """Ends the running route, like the seeds' ``exit`` (and an implicit stop in
    ``t_check_trans`` / ``t_relay_cancel``)."""


class RouteDrop(RouteExit):
    """Ends the running route and drops what it was handling, like the seeds' ``drop``:
    a provisional reply in an onreply route is not relayed; a branch in a branch route
    is not sent."""
