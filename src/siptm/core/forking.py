"""The destination set of a request and the rules for forking it, pure.

Rules of this module: plain data and arithmetic, no transaction and no message editing.

- A :class:`Destination` is one entry of the destination set (Kamailio's ``branch``):
  a Request-URI, an optional destination URI (``$du``), branch flags and a q-value.
  ``append_branch()`` adds entries; ``t_relay()`` sends one branch per entry.
- Serial forking (seed 002 ``t_load_contacts`` / ``t_next_contacts``): the destination
  set is ordered by q-value, highest first; each step takes the next group of equal q.
- Flags are bits of an int. A flag is named by its number, or by a name the engine maps
  to a bit of its own (above 63, so names never collide with numbers).
- Max-Breadth (RFC 5393 §5.3): the branches of a request that are pending at the same
  time share its Max-Breadth (60 when the request has none); each gets at least 1.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

DEFAULT_MAX_BREADTH: Final = 60  # RFC 5393 §5.3.2: "a default of 60" when the header is absent


class Destination:
    """One entry of the destination set."""

    __slots__ = ("du", "flags", "q", "uri")

    def __init__(self, uri: str, du: str | None = None, flags: int = 0,
                 q: float | None = None) -> None:
        self.uri = uri
        self.du = du
        self.flags = flags
        self.q = q  # None: unspecified (ordered as 1.0)

    @property
    def qvalue(self) -> float:
        return 1.0 if self.q is None else self.q

    def __repr__(self) -> str:
        extra = f" du={self.du}" if self.du else ""
        return f"<Destination {self.uri} q={self.q}{extra} flags={self.flags:#x}>"


def parse_q(value: float | str | None) -> float | None:
    """A q-value (0 to 1, RFC 3261 §20.10) from a number or text; None: unspecified."""
    if value is None:
        return None
    q = float(value)
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"q-value {value!r} is not between 0 and 1")
    return q


def order_contacts(entries: Iterable[Destination]) -> list[Destination] | None:
    """Seed 002 ``t_load_contacts``: the entries by decreasing q-value (stable among
    equal ones), or None when they all have the same q-value (nothing to do: they are
    forked in parallel as they are)."""
    items = list(entries)
    if len({e.qvalue for e in items}) <= 1:
        return None
    return sorted(items, key=lambda e: -e.qvalue)


def next_group(contacts: list[Destination]) -> list[Destination]:
    """Seed 002 ``t_next_contacts``: take (remove) the first contact and every following
    one with the same q-value."""
    if not contacts:
        return []
    q = contacts[0].qvalue
    count = 1
    while count < len(contacts) and contacts[count].qvalue == q:
        count += 1
    group = contacts[:count]
    del contacts[:count]
    return group


def flag_bit(flag: int | str, names: dict[str, int]) -> int:
    """The bit number of ``flag`` (a number, digits, or a name registered in ``names``
    on first use)."""
    if isinstance(flag, bool):
        raise TypeError("a flag is a number or a name, not a bool")
    if isinstance(flag, int):
        if flag < 0:
            raise ValueError(f"flag {flag} is negative")
        return flag
    text = str(flag).strip()
    if text.isdigit():
        return int(text)
    if not text:
        raise ValueError("empty flag name")
    bit = names.get(text)
    if bit is None:
        bit = names[text] = 64 + len(names)
    return bit


def breadth_shares(available: int, count: int) -> list[int] | None:
    """RFC 5393 §5.3.3: how ``available`` Max-Breadth is shared by ``count`` new
    concurrent branches (each at least 1, the remainder to the first ones); None when
    there is not enough for all of them (440 Max-Breadth Exceeded)."""
    if count <= 0:
        return []
    if available < count:
        return None
    share, extra = divmod(available, count)
    return [share + (1 if i < extra else 0) for i in range(count)]
