"""Exceptions shared by every layer of siptm."""

from __future__ import annotations


class ParseError(ValueError):
    """A message (or part of one) that the network sent could not be parsed.

    ``str(error)`` is short enough to be used as the reason phrase of the reply;
    ``status`` is the reply code a server should answer with (400 unless the
    defect calls for another, e.g. 505 for an unknown SIP version).
    """

    def __init__(self, reason: str, status: int = 400) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
