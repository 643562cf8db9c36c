"""What the transaction layer asks the outside world to do, or tells its users.

Rules of this module: effects are frozen, slotted dataclasses and carry references,
never copies: ``tx`` is the transaction concerned (its ``owner`` is the transaction
user to route the effect to), messages are the objects the layer received or built.
The runtime performs :class:`Send`; everything else goes to the transaction user.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import TYPE_CHECKING, Any, Final

from ..frozen import constructor, fast_frozen
from ..net import Address
from ..sip import Request, Response
from .timers import TimerName

if TYPE_CHECKING:
    from .client import ClientTransaction
    from .server import ServerTransaction

__all__ = [
    "DeliverRequest",
    "DeliverResponse",
    "Effect",
    "Send",
    "SendKind",
    "Terminated",
    "Timeout",
    "TransportError",
    "new_deliver_request",
    "new_deliver_response",
    "new_send",
    "new_terminated",
]


class SendKind(IntEnum):
    """Why bytes are being sent (for statistics, logs and tests)."""

    REQUEST = 1  # a client transaction's request, first copy
    REQUEST_RETRANSMISSION = 2  # timers A / E
    ACK = 3  # hop-by-hop ACK for a non-2xx final (§17.1.1.3), first copy or again
    RESPONSE = 4  # a server transaction's response from the TU
    RESPONSE_RETRANSMISSION = 5  # timer G, or the answer to a retransmitted request
    STATELESS = 6  # sent for the TU outside any transaction (e.g. a 2xx's ACK)


@fast_frozen
@dataclass(frozen=True, slots=True)
class Send:
    """Send ``data`` to ``destination``. If the send fails, report it back with
    ``TransactionLayer.send_failed(effect, now, reason)``."""

    data: bytes
    destination: Address
    tx: Any  # ClientTransaction | ServerTransaction | None
    kind: SendKind


@fast_frozen
@dataclass(frozen=True, slots=True)
class DeliverRequest:
    """A request for the transaction user.

    ``tx`` is the new server transaction it created, or, for an ACK, the INVITE server
    transaction in RFC 6026 Accepted it belongs to (an ACK for a 2xx matched by the
    RFC 2543 rules or by a reused branch) or ``None`` (an end-to-end ACK for a 2xx or
    a stray ACK: see ``TransactionLayer.lookup_e2e_ack``). Retransmissions are never
    delivered: they are absorbed.
    """

    tx: ServerTransaction | None
    request: Request
    source: Address


@fast_frozen
@dataclass(frozen=True, slots=True)
class DeliverResponse:
    """A response for the transaction user: ``tx`` is the client transaction it
    matched, ``None`` for a stray response (no transaction: the TU may forward it
    statelessly)."""

    tx: ClientTransaction | None
    response: Response
    source: Address


@fast_frozen
@dataclass(frozen=True, slots=True)
class Timeout:
    """A timer ran out: B, F (no final reply; RFC 4320: the layer never answers 408
    itself), C (fr_inv_timer: the TU should CANCEL the branch), CANCEL (no final reply
    after the CANCEL), H (no ACK for a non-2xx) or LIFETIME (server transaction still
    unanswered at max_*_lifetime; the TU should answer it within wt_timer)."""

    tx: Any  # ClientTransaction | ServerTransaction
    timer: TimerName


@fast_frozen
@dataclass(frozen=True, slots=True)
class TransportError:
    """A send that belonged to ``tx`` failed (reported by the runtime)."""

    tx: Any
    destination: Address
    reason: str


@fast_frozen
@dataclass(frozen=True, slots=True)
class Terminated:
    """``tx`` reached Terminated and left the table (nothing matches it any more)."""

    tx: Any


Effect = Send | DeliverRequest | DeliverResponse | Timeout | TransportError | Terminated

# What every message makes (a send, a delivery, a termination), built by the classes' own
# construction as plain functions: the same objects, without the cost of a class call.
new_send: Final = constructor(Send)
new_deliver_request: Final = constructor(DeliverRequest)
new_deliver_response: Final = constructor(DeliverResponse)
new_terminated: Final = constructor(Terminated)
