"""The SIP message layer: parsing, typed access, editing and serialization (pure, no I/O)."""

from ..errors import ParseError
from .headers import COMPACT_FORMS, Headers, canonical_name
from .message import REASON_PHRASES, Message, Request, Response
from .params import Params
from .parse import PING, PONG, StreamFramer, parse
from .uri import AbsoluteUri, SipUri, TelUri, Uri, parse_uri, unescape
from .values import (
    CSeq,
    NameAddress,
    Via,
    parse_cseq,
    parse_name_addr,
    parse_name_addrs,
    parse_via,
    parse_vias,
)

__all__ = [
    "COMPACT_FORMS",
    "PING",
    "PONG",
    "REASON_PHRASES",
    "AbsoluteUri",
    "CSeq",
    "Headers",
    "Message",
    "NameAddress",
    "Params",
    "ParseError",
    "Request",
    "Response",
    "SipUri",
    "StreamFramer",
    "TelUri",
    "Uri",
    "Via",
    "canonical_name",
    "parse",
    "parse_cseq",
    "parse_name_addr",
    "parse_name_addrs",
    "parse_uri",
    "parse_via",
    "parse_vias",
    "unescape",
]
