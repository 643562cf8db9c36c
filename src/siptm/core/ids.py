"""Identifiers the transaction layer makes up: Via branches and tags.

Rules of this module: no randomness is drawn here. An :class:`IdFactory` turns a seed
(the runtime passes a few bytes of ``os.urandom``; tests pass a constant) and a counter
into identifiers, so tests are reproducible and a running proxy's identifiers are
unique across restarts and across worker processes (give each worker its ``prefix``).
Branches carry the RFC 3261 magic cookie ``z9hG4bK`` (§8.1.1.7).
"""

from __future__ import annotations

from hashlib import blake2b
from typing import Final

__all__ = ["MAGIC_COOKIE", "IdFactory"]

MAGIC_COOKIE: Final = "z9hG4bK"


class IdFactory:
    """Branches and tags from ``prefix`` + a digest of ``seed`` + a counter."""

    __slots__ = ("_n", "_stem")

    def __init__(self, seed: bytes | str = b"", prefix: str = "") -> None:
        raw = seed.encode() if isinstance(seed, str) else bytes(seed)
        self._stem = prefix + blake2b(raw, digest_size=4).hexdigest()
        self._n = 0

    def branch(self) -> str:
        """A fresh Via branch (with the magic cookie)."""
        self._n += 1
        return f"{MAGIC_COOKIE}{self._stem}.{hex(self._n)[2:]}"  # (no format spec: see tag)

    def tag(self) -> str:
        """A fresh From/To tag."""
        self._n += 1
        # hex()[2:], not {:x}: compiled, an f-string with a format spec becomes a
        # str.format call (~4k instructions), plain fields are concatenated natively
        return f"{self._stem}.{hex(self._n)[2:]}"
