"""JSON-RPC 2.0 (https://www.jsonrpc.org/specification) over datagrams, without I/O.

Rules of this module: :meth:`Dispatcher.handle` takes the bytes of one datagram and
returns the bytes of the answer, or None when nothing is to be sent back (a
notification, or a batch of notifications). It never raises: bad JSON is a -32700
error, a request of the wrong shape -32600, an unknown method -32601, parameters the
method does not take -32602, and an exception inside a method -32603 (logged). An
answer larger than ``max_size`` bytes is replaced by a -32000 error that says so.
"""

from __future__ import annotations

import inspect
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "INTERNAL_ERROR",
    "INVALID_PARAMS",
    "INVALID_REQUEST",
    "METHOD_NOT_FOUND",
    "PARSE_ERROR",
    "TOO_LARGE",
    "Dispatcher",
    "RpcError",
]

log = logging.getLogger("siptm.mgmt")

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
TOO_LARGE = -32000

# The largest UDP payload over IPv4, less a margin.
MAX_DATAGRAM = 65000


class RpcError(Exception):
    """Raised by a method to answer with a JSON-RPC error object."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            out["data"] = self.data
        return out


@dataclass(frozen=True, slots=True)
class Method:
    name: str
    func: Callable[..., Any]
    doc: str
    signature: inspect.Signature


class Dispatcher:
    """A table of methods: ``name -> func(*params)`` or ``func(**params)``."""

    def __init__(self, max_size: int = MAX_DATAGRAM) -> None:
        self.max_size = max_size
        self._methods: dict[str, Method] = {}

    def register(self, name: str, func: Callable[..., Any], doc: str = "") -> None:
        self._methods[name] = Method(name, func, doc or inspect.getdoc(func) or "",
                                     inspect.signature(func))

    def method(self, *names: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Decorator: register ``func`` under every name in ``names``."""
        def deco(func: Callable[..., Any]) -> Callable[..., Any]:
            for name in names:
                self.register(name, func)
            return func
        return deco

    @property
    def methods(self) -> dict[str, str]:
        """``{name: first paragraph of its doc}``, sorted by name."""
        return {name: " ".join(self._methods[name].doc.split("\n\n", 1)[0].split())
                for name in sorted(self._methods)}

    # --- one datagram in, one (or no) datagram out -------------------------------------------
    def handle(self, data: bytes) -> bytes | None:
        try:
            message = json.loads(data)
        except (ValueError, UnicodeDecodeError) as exc:
            return self._encode(_error(None, RpcError(PARSE_ERROR, f"parse error: {exc}")))
        if isinstance(message, list):
            if not message:
                return self._encode(_error(None, RpcError(INVALID_REQUEST, "empty batch")))
            answers = [a for a in map(self._one, message) if a is not None]
            return self._encode(answers) if answers else None
        answer = self._one(message)
        return None if answer is None else self._encode(answer)

    def call(self, method: str, params: Any = None) -> Any:
        """Run a method directly (raises :class:`RpcError`)."""
        entry = self._methods.get(method)
        if entry is None:
            raise RpcError(METHOD_NOT_FOUND, f"method not found: {method}")
        if params is None:
            args: tuple[Any, ...] = ()
            kwargs: dict[str, Any] = {}
        elif isinstance(params, list):
            args, kwargs = tuple(params), {}
        elif isinstance(params, Mapping):
            args, kwargs = (), dict(params)
        else:
            raise RpcError(INVALID_REQUEST, "params must be an array or an object")
        try:
            entry.signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise RpcError(INVALID_PARAMS, f"invalid params for {method}: {exc}") from None
        return entry.func(*args, **kwargs)

    def _one(self, request: Any) -> dict[str, Any] | None:
        if not isinstance(request, dict):
            return _error(None, RpcError(INVALID_REQUEST, "a request must be an object"))
        ident = request.get("id")
        notification = "id" not in request
        if (request.get("jsonrpc") != "2.0" or not isinstance(request.get("method"), str)
                or not isinstance(ident, (str, int, float, type(None)))
                or isinstance(ident, bool)):
            return _error(ident if _valid_id(ident) else None,
                          RpcError(INVALID_REQUEST, "not a JSON-RPC 2.0 request"))
        method = request["method"]
        try:
            result = self.call(method, request.get("params"))
        except RpcError as exc:
            return None if notification else _error(ident, exc)
        except Exception as exc:
            log.exception("management method %s failed", method)
            return None if notification else _error(
                ident, RpcError(INTERNAL_ERROR, f"internal error: {type(exc).__name__}: {exc}"))
        if notification:
            return None
        return {"jsonrpc": "2.0", "result": result, "id": ident}

    def _encode(self, answer: Any) -> bytes:
        try:
            data = json.dumps(answer, separators=(",", ":"), sort_keys=False).encode()
        except (TypeError, ValueError) as exc:
            log.error("management answer cannot be encoded: %s", exc)
            data = json.dumps(_error(None, RpcError(INTERNAL_ERROR, "unencodable result"))
                              ).encode()
        if len(data) > self.max_size:
            ident = answer.get("id") if isinstance(answer, dict) else None
            data = json.dumps(_error(ident, RpcError(
                TOO_LARGE, f"answer too large for a datagram ({len(data)} bytes)"))).encode()
        return data


def _valid_id(ident: Any) -> bool:
    return isinstance(ident, (str, int, float)) and not isinstance(ident, bool)


def _error(ident: Any, exc: RpcError) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "error": exc.as_dict(), "id": ident}
