"""The pure (sans-IO) transaction layer: RFC 3261 §17 with RFC 6026, the seeds' timers.

Nothing in this package reads a clock, draws randomness or touches a socket: the
runtime passes ``now`` and parsed messages in and performs the effects that come out.
See docs/transactions.md.
"""

from __future__ import annotations

from .builder import cancel_for, hop_by_hop_ack, local_reply
from .client import (
    CancelState,
    ClientInviteTransaction,
    ClientNonInviteTransaction,
    ClientTransaction,
)
from .effects import (
    DeliverRequest,
    DeliverResponse,
    Effect,
    Send,
    SendKind,
    Terminated,
    Timeout,
    TransportError,
)
from .ids import MAGIC_COOKIE, IdFactory
from .keys import MatchingConfig
from .layer import CancelOutcome, LayerStats, TransactionLayer, response_address
from .server import ServerInviteTransaction, ServerNonInviteTransaction, ServerTransaction
from .table import TransactionTable
from .timers import TIMER_ALIASES, TimerConfig, TimerName, TimerQueue, Timing
from .transaction import Event, State, Transaction, Transition

__all__ = [
    "MAGIC_COOKIE",
    "TIMER_ALIASES",
    "CancelOutcome",
    "CancelState",
    "ClientInviteTransaction",
    "ClientNonInviteTransaction",
    "ClientTransaction",
    "DeliverRequest",
    "DeliverResponse",
    "Effect",
    "Event",
    "IdFactory",
    "LayerStats",
    "MatchingConfig",
    "Send",
    "SendKind",
    "ServerInviteTransaction",
    "ServerNonInviteTransaction",
    "ServerTransaction",
    "State",
    "Terminated",
    "Timeout",
    "TimerConfig",
    "TimerName",
    "TimerQueue",
    "Timing",
    "Transaction",
    "TransactionLayer",
    "TransactionTable",
    "Transition",
    "TransportError",
    "cancel_for",
    "hop_by_hop_ack",
    "local_reply",
    "response_address",
]
