"""Choosing the final response of a forked request: RFC 3261 §16.7 steps 6 and 7, pure.

Rules of this module: it only compares codes and copies headers; the response context
in :mod:`siptm.core.proxy` decides when to ask (every branch final, or a 6xx).

The order (Kamailio's ``t_pick_branch``, which implements step 6): a 6xx wins over any
other final class (the RFC: "if there are any 6xx responses, the proxy SHOULD choose
one"); otherwise the lowest class wins. Within 4xx the codes the RFC names as carrying
information the UAC can act on (401, 407, 415, 420, 484) come first, in that order;
then the lowest code (Kamailio's priority is class + code), then the earliest branch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from ..sip import Response

# §16.7 step 6: within 4xx these carry information the UAC can act on.
PREFERRED_4XX: Final = (401, 407, 415, 420, 484)
CHALLENGE_HEADERS: Final = ("WWW-Authenticate", "Proxy-Authenticate")


def rank(code: int) -> tuple[int, int, int]:
    """Sort key of a final status: smaller is better (see the module's rules)."""
    klass = code // 100
    if klass == 6:
        return (0, 0, code)
    if klass == 4 and code in PREFERRED_4XX:
        return (4, 0, PREFERRED_4XX.index(code))
    return (klass, 1, code)


def pick_best(codes: Sequence[int | None]) -> int:
    """Index of the best final response among ``codes`` (``None`` or < 200 = no final
    reply on that branch), or -1 when there is none. Ties go to the earliest branch."""
    best = -1
    best_rank: tuple[int, int, int] | None = None
    for index, code in enumerate(codes):
        if code is None or code < 200:
            continue
        key = rank(code)
        if best_rank is None or key < best_rank:
            best, best_rank = index, key
    return best


def upstream_code(code: int) -> int:
    """§16.7 step 6: a 503 chosen as the best response goes upstream as 500 (the
    downstream server's overload is not ours)."""
    return 500 if code == 503 else code


def aggregate_challenges(winner: Response, others: Sequence[Response]) -> Response:
    """§16.7 step 7 (seed 002 ``aggregate_challenges``): the winning 401/407 carries the
    WWW-Authenticate and Proxy-Authenticate headers of every challenging branch."""
    for reply in others:
        if reply is winner or reply.status not in (401, 407):
            continue
        for name in CHALLENGE_HEADERS:
            for value in reply.headers.get_all(name):
                winner.headers.add(name, value)
    return winner
