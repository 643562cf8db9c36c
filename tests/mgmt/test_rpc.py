"""JSON-RPC 2.0 dispatching without sockets: every error code of the specification,
notifications, batches, answers too large for a datagram."""

from __future__ import annotations

import json

import pytest

from siptm.mgmt.rpc import (
    INTERNAL_ERROR,
    INVALID_PARAMS,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    PARSE_ERROR,
    TOO_LARGE,
    Dispatcher,
    RpcError,
)


@pytest.fixture
def rpc() -> Dispatcher:
    rpc = Dispatcher(max_size=2000)

    @rpc.method("add", "sum")
    def add(a: int, b: int = 0) -> int:
        """Add two numbers.

        More text."""
        return a + b

    @rpc.method("boom")
    def boom() -> None:
        raise ZeroDivisionError("no")

    @rpc.method("refuse")
    def refuse() -> None:
        raise RpcError(-32001, "refused", {"why": "test"})

    @rpc.method("big")
    def big() -> str:
        return "x" * 5000

    return rpc


def ask(rpc: Dispatcher, payload) -> object:
    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    answer = rpc.handle(data)
    return None if answer is None else json.loads(answer)


def req(method, params=None, ident=1):
    out = {"jsonrpc": "2.0", "method": method, "id": ident}
    if params is not None:
        out["params"] = params
    return out


def test_positional_and_named_params(rpc):
    assert ask(rpc, req("add", [2, 3])) == {"jsonrpc": "2.0", "result": 5, "id": 1}
    assert ask(rpc, req("sum", {"a": 2, "b": 5}, "x"))["result"] == 7
    assert ask(rpc, req("add", [4]))["result"] == 4


@pytest.mark.parametrize(("payload", "code"), [
    (b"{not json", PARSE_ERROR),
    (b"\xff\xfe", PARSE_ERROR),
    ([], INVALID_REQUEST),
    ({"jsonrpc": "1.0", "method": "add", "id": 1}, INVALID_REQUEST),
    ({"jsonrpc": "2.0", "method": 5, "id": 1}, INVALID_REQUEST),
    ({"jsonrpc": "2.0", "method": "add", "params": 3, "id": 1}, INVALID_REQUEST),
    ({"jsonrpc": "2.0", "method": "add", "id": [1]}, INVALID_REQUEST),
    (req("nope"), METHOD_NOT_FOUND),
    (req("add"), INVALID_PARAMS),
    (req("add", [1, 2, 3]), INVALID_PARAMS),
    (req("add", {"c": 1}), INVALID_PARAMS),
    (req("boom"), INTERNAL_ERROR),
    (req("big"), TOO_LARGE),
])
def test_errors(rpc, payload, code):
    answer = ask(rpc, payload)
    assert answer["jsonrpc"] == "2.0" and "result" not in answer
    assert answer["error"]["code"] == code, answer


def test_error_from_a_method_keeps_its_code_and_data(rpc):
    answer = ask(rpc, req("refuse", ident=9))
    assert answer == {"jsonrpc": "2.0", "id": 9,
                      "error": {"code": -32001, "message": "refused", "data": {"why": "test"}}}


def test_notifications_get_no_answer(rpc):
    assert ask(rpc, {"jsonrpc": "2.0", "method": "add", "params": [1, 1]}) is None
    assert ask(rpc, {"jsonrpc": "2.0", "method": "nope"}) is None
    assert ask(rpc, [{"jsonrpc": "2.0", "method": "add", "params": [1]}]) is None


def test_batch(rpc):
    answer = ask(rpc, [req("add", [1, 1], 1), {"jsonrpc": "2.0", "method": "add", "params": [1]},
                       req("nope", None, 3), 7])
    assert [a.get("id") for a in answer] == [1, 3, None]
    assert answer[0]["result"] == 2
    assert answer[1]["error"]["code"] == METHOD_NOT_FOUND
    assert answer[2]["error"]["code"] == INVALID_REQUEST


def test_methods_lists_first_paragraphs(rpc):
    assert rpc.methods["add"] == "Add two numbers."
    assert list(rpc.methods) == sorted(rpc.methods)
