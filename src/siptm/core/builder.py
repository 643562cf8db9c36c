"""Messages the transaction layer builds: hop-by-hop ACK, CANCEL and local replies.

Rules of this module:
- ACK and CANCEL are built from the request *as it was sent* (the seeds'
  ``reparse_invite``), never from what was received upstream, so they carry the same
  Request-URI, top Via and route set as the INVITE they refer to.
- A header whose name starts with the ``ac_extra_hdrs`` prefix (case-insensitive,
  seed 002) is copied from the INVITE into ACK and CANCEL as well.
- Pure functions: no state, no identifiers made up here (the caller passes tags).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from ..sip import Request, Response
from ..sip.headers import canonical_name

__all__ = ["cancel_for", "hop_by_hop_ack", "local_reply"]

Header = tuple[str, str]
_COPIED: Final = frozenset(("from", "call-id", "route", "max-forwards"))


def _derived_request(
    invite: Request,
    method: str,
    to_value: str | None,
    extra_prefix: str,
    extra: Iterable[Header],
) -> Request:
    prefix = extra_prefix.lower()
    headers: list[Header] = []
    top_via_done = False
    for name, value in invite.headers.items():
        key = canonical_name(name)
        if key == "via":
            if not top_via_done:  # only the top Via value, even if the line holds more
                headers.append((name, str(invite.via)))
                top_via_done = True
        elif key == "to":
            headers.append((name, value if to_value is None else to_value))
        elif key == "cseq":
            cseq = invite.cseq
            headers.append((name, f"{cseq.number if cseq else 0} {method}"))
        elif key in _COPIED or (prefix and key.startswith(prefix)):
            headers.append((name, value))
    headers.extend(extra)
    return Request(method, invite.uri_text, headers)


def hop_by_hop_ack(
    invite: Request,
    response: Response,
    extra_prefix: str = "",
    extra_headers: Iterable[Header] = (),
) -> Request:
    """The ACK for a non-2xx final response, RFC 3261 §17.1.1.3.

    Request-URI, Call-ID, From, Max-Forwards and Route headers of the INVITE as sent;
    its top Via only; CSeq number with method ACK; To from the response.
    """
    return _derived_request(invite, "ACK", response.headers.get("to"), extra_prefix,
                            extra_headers)


def cancel_for(
    invite: Request,
    extra_prefix: str = "",
    extra_headers: Iterable[Header] = (),
) -> Request:
    """The CANCEL of an INVITE as sent, RFC 3261 §9.1: same Request-URI, Call-ID, To,
    From, CSeq number and route set, the INVITE's top Via only, method CANCEL.
    ``extra_headers`` carries e.g. a Reason header (RFC 3326)."""
    return _derived_request(invite, "CANCEL", None, extra_prefix, extra_headers)


def local_reply(
    request: Request,
    status: int,
    reason: str | None = None,
    to_tag: str | None = None,
    headers: Iterable[Header] = (),
    body: bytes = b"",
) -> Response:
    """A response generated here (§8.2.6): Via, From, To, Call-ID, CSeq copied; the To
    tag added unless the request had one or the response is a 100 (§17.2.1)."""
    tag = to_tag if status > 100 else None
    return Response.for_request(request, status, reason, to_tag=tag, headers=list(headers),
                                body=body)
