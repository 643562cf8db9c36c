"""Transport addresses shared by the pure core and the runtime (no I/O here)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from .frozen import fast_frozen

TRANSPORTS: Final = ("udp", "tcp", "tls")
RELIABLE: Final = frozenset(("tcp", "tls"))


@fast_frozen
@dataclass(frozen=True, slots=True)
class Address:
    """Where a message came from or goes to.

    ``transport`` is lowercase ``udp``, ``tcp`` or ``tls``. ``connection`` names the
    stream connection a message arrived on (so a response can go back over it); it
    does not take part in equality or hashing.
    """

    transport: str
    host: str
    port: int
    connection: int | None = field(default=None, compare=False)

    @property
    def reliable(self) -> bool:
        return self.transport in RELIABLE

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.transport}:{host}:{self.port}"
