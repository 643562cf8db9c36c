"""Transaction matching keys: RFC 3261 §17.1.3 and §17.2.3, and the RFC 2543 fallback.

Rules of this module:
- Keys are computed once, when a transaction is created, from the request as it
  arrived; a transaction user editing the message later cannot change what matches.
- Server side, magic cookie (``z9hG4bK``) present: branch + sent-by + method, where an
  ACK looks for its INVITE and a CANCEL is its own transaction (§17.2.3).
- Server side, no cookie (RFC 2543 peers): Call-ID, CSeq number and From tag select
  the candidates (the "dialog key"); Request-URI (``ruri_matching``), top Via
  (``via1_matching``), To tag and CSeq method decide (seed 003). As the seeds' tm does
  by default (ACK_TAG / CANCEL_TAG off), ACK and CANCEL are matched without the To tag.
- Client side: the branch we generated + the CSeq method (INVITE and its CANCEL share
  a branch, §17.1.3).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..sip import Request, Response
from .ids import MAGIC_COOKIE

__all__ = [
    "MatchingConfig",
    "Rfc2543Fields",
    "client_key",
    "dialog_key",
    "response_key",
    "server_key",
]

ServerKey = tuple[str, str, "int | None", str]
DialogKey = tuple[str, int, str]


@dataclass(frozen=True, slots=True)
class MatchingConfig:
    """The pre-RFC 3261 matching switches of seed 003 (both on by default)."""

    ruri_matching: bool = True
    via1_matching: bool = True


def server_key(request: Request, method: str | None = None) -> ServerKey | None:
    """The §17.2.3 key of a request with the magic cookie, else ``None``.

    ``method`` overrides the request's (``"INVITE"`` finds the INVITE an ACK or a
    CANCEL refers to).
    """
    via = request.via
    if via is None:
        return None
    branch = via.branch
    if not branch or not branch.startswith(MAGIC_COOKIE):
        return None
    if method is None:
        method = request.method
        if method == "ACK":
            method = "INVITE"
    return (branch, via.host.lower(), via.port, method)


def dialog_key(message: Request | Response) -> DialogKey:
    """Call-ID, CSeq number and From tag: what an INVITE, its CANCEL, its ACKs and
    its retransmissions all share (the candidate set for the RFC 2543 rules)."""
    cseq = message.cseq
    return (message.call_id or "", cseq.number if cseq else -1, message.from_tag or "")


def client_key(branch: str, method: str) -> tuple[str, str]:
    return (branch, method)


def response_key(response: Response) -> tuple[str, str] | None:
    """§17.1.3: the top Via branch and the CSeq method of a response."""
    via = response.via
    cseq = response.cseq
    if via is None or cseq is None:
        return None
    branch = via.branch
    if not branch:
        return None
    return (branch, cseq.method)


class Rfc2543Fields:
    """What a transaction created by a request without the cookie is matched on."""

    __slots__ = ("cseq_method", "method", "ruri", "to_tag", "via1")

    def __init__(self, request: Request) -> None:
        self.method = request.method
        self.cseq_method = request.transaction_method
        self.ruri = request.uri_text
        self.to_tag = request.to_tag
        via = request.via
        self.via1 = str(via) if via is not None else ""

    def _common(self, request: Request, config: MatchingConfig) -> bool:
        if config.ruri_matching and request.uri_text != self.ruri:
            return False
        if config.via1_matching:
            via = request.via
            if (str(via) if via is not None else "") != self.via1:
                return False
        return True

    def matches_request(self, request: Request, config: MatchingConfig) -> bool:
        """A retransmission of the request that created the transaction (§17.2.3)."""
        if request.method == "ACK":
            # An ACK matches its INVITE: CSeq method aside, and without the To tag.
            return self.method == "INVITE" and self._common(request, config)
        return (
            request.method == self.method
            and request.transaction_method == self.cseq_method
            and request.to_tag == self.to_tag
            and self._common(request, config)
        )

    def matches_cancel(self, cancel: Request, config: MatchingConfig) -> bool:
        """The CANCEL refers to this (INVITE) transaction (seed ``t_lookup_cancel``)."""
        return self.method == "INVITE" and self._common(cancel, config)
