"""A small blocking JSON-RPC 2.0 client for the management interface (``siptm ctl``).

Rules of this module: one request, one datagram; the answer is the first datagram
whose ``id`` matches, within ``timeout`` seconds (the request is sent again every
``retry`` seconds meanwhile: a datagram can be lost, and every method is a read or
idempotent). A JSON-RPC error comes back as :class:`RemoteError`; no answer as
:class:`TimeoutError`.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import socket
import time
from typing import Any

from ..net import Address

__all__ = ["RemoteError", "call"]

_ids = itertools.count(1)


class RemoteError(Exception):
    """The server answered with a JSON-RPC error object."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(f"{message} (code {code})")
        self.code = code
        self.message = message
        self.data = data


def call(address: Address | tuple[str, int], method: str, params: Any = None, *,
         timeout: float = 2.0, retry: float = 0.5) -> Any:
    """Call ``method`` with ``params`` (a list, a dict or None) and return its result."""
    if isinstance(address, Address):
        host, port = address.host, address.port
    else:
        host, port = address
    ident = f"{os.getpid()}-{next(_ids)}"
    request: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "id": ident}
    if params is not None:
        request["params"] = params
    data = json.dumps(request).encode()
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.connect((host, port))
        end = time.monotonic() + timeout
        next_send = 0.0
        while True:
            now = time.monotonic()
            if now >= end:
                raise TimeoutError(f"no answer from udp:{host}:{port} within {timeout:g} s")
            if now >= next_send:
                # refused: an ICMP error from an earlier send; try again later
                with contextlib.suppress(ConnectionRefusedError):
                    sock.send(data)
                next_send = now + retry
            sock.settimeout(max(0.001, min(end, next_send) - now))
            try:
                raw = sock.recv(65535)
            except TimeoutError:
                continue
            except ConnectionRefusedError:
                # nothing listens there (yet): send again soon
                next_send = min(next_send, time.monotonic() + 0.05)
                continue
            try:
                answer = json.loads(raw)
            except ValueError:
                continue
            if not isinstance(answer, dict) or answer.get("id") != ident:
                continue
            if "error" in answer:
                error = answer["error"] or {}
                raise RemoteError(error.get("code", 0), error.get("message", "error"),
                                  error.get("data"))
            return answer.get("result")

