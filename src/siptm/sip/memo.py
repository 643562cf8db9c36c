"""Bounded memos of what the parser reads from one header line, keyed by the line's bytes.

A proxy reads the same lines again and again: a dialog's From line is in every request
and response of it, its To line in all but the first, and CSeq, Content-Length,
Max-Forwards and request lines repeat across calls. For a line read before, a memo costs
one dict lookup instead of a regex match. Only pure functions of the line are memoized,
and only immutable results (a caller that needs a mutable value builds it from them).

Each memo is bounded: it is emptied when full (a peer sending ever new lines makes every
lookup a miss, nothing worse), and long lines are not remembered.
"""

from __future__ import annotations

from typing import Final, TypeVar

MEMO_SIZE: Final = 4096  # entries per memo
MEMO_MAX_LINE: Final = 256  # bytes: longer lines are read every time

T = TypeVar("T")


def remember(memo: dict[bytes, T], line: bytes, value: T, size: int = MEMO_SIZE,
             max_line: int = MEMO_MAX_LINE) -> T:
    """Store ``value`` as what ``line`` reads as (unless the line is longer than
    ``max_line``; the memo is emptied first when it holds ``size`` lines) and return it."""
    if len(line) <= max_line:
        if len(memo) >= size:
            memo.clear()
        memo[line] = value
    return value
