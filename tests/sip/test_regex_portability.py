"""The parser's patterns give the same answers on every Python 3.11+.

CPython 3.11.0-3.11.4 (Debian 12 ships 3.11.2) mis-match a possessive quantifier on a
group when its last repetition fails part-way (gh-106052): ``(?:[ \\t]+tok)*+`` keeps the
blank of a failed repetition, so ``Bob <sip:b@h>`` gave the display name ``"Bob "``. Our
patterns use atomic groups ``(?>(?:...)*)`` instead, which mean the same and are correct
there.
"""

from __future__ import annotations

import importlib
import re

from siptm.sip import parse
from siptm.sip.uri import parse_uri
from siptm.sip.values import parse_name_addr

SIP_MODULES = ("params", "uri", "values", "parse", "headers", "message")


def _patterns():
    for name in SIP_MODULES:
        module = importlib.import_module(f"siptm.sip.{name}")
        for attr, value in vars(module).items():
            if isinstance(value, re.Pattern):
                yield f"{name}.{attr}", value


def test_no_possessive_quantifier_on_a_group():
    for where, pattern in _patterns():
        text = pattern.pattern
        if isinstance(text, bytes):
            text = text.decode("latin-1")
        assert not re.search(r"\)[*+?]\+|\)\{[0-9,]+\}\+", text), where


def test_display_name_tokens_before_the_address():
    assert parse_name_addr("Bob <sip:bob@example.com>").display_name == "Bob"
    assert parse_name_addr("Bob  Smith\t<sip:bob@example.com>").display_name == "Bob  Smith"
    assert parse_name_addr('"Bob \\"B\\"" <sip:bob@example.com>;tag=1').display_name == 'Bob "B"'


def test_parameter_lists_end_where_they_should():
    assert dict(parse_uri("sip:a@h;lr;transport=udp").params) == {"lr": None, "transport": "udp"}
    message = parse(
        b"INVITE sip:b@h SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n"
        b"From: Alice Smith <sip:a@h>;tag=x\r\nTo: Bob <sip:b@h>\r\nCall-ID: c\r\n"
        b"CSeq: 1 INVITE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    )
    assert message.from_.display_name == "Alice Smith"
    assert message.from_tag == "x"
    assert message.to.display_name == "Bob"
