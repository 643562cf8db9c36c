"""siptm.frozen.fast_frozen: cheaper construction, same frozen dataclass behaviour."""

from __future__ import annotations

import copy
import dataclasses
import pickle

import pytest

from siptm.frozen import fast_frozen
from siptm.net import Address
from siptm.runtime.effects import Send


def test_fields_defaults_and_keywords():
    a = Address("udp", "127.0.0.1", 5060)
    assert (a.transport, a.host, a.port, a.connection) == ("udp", "127.0.0.1", 5060, None)
    b = Address(transport="tcp", host="::1", port=5061, connection=7)
    assert (b.transport, b.host, b.port, b.connection) == ("tcp", "::1", 5061, 7)
    assert type(a) is Address and isinstance(a, Address)
    with pytest.raises(TypeError):
        Address("udp", "127.0.0.1")  # a field without a default is required
    with pytest.raises(TypeError):
        Address("udp", "127.0.0.1", 5060, None, "extra")


def test_equality_hash_and_repr_are_the_dataclass_ones():
    a = Address("tcp", "192.0.2.1", 5060, connection=1)
    b = Address("tcp", "192.0.2.1", 5060, connection=2)
    assert a == b and hash(a) == hash(b)  # connection takes no part (compare=False)
    assert a != Address("udp", "192.0.2.1", 5060)
    assert {a: 1}[b] == 1
    assert repr(a) == "Address(transport='tcp', host='192.0.2.1', port=5060, connection=1)"
    send = Send(b"x", a)
    assert send == Send(b"x", b, None, None) and send.local is None


def test_still_frozen():
    a = Address("udp", "127.0.0.1", 5060)
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.port = 1  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        del a.host  # type: ignore[misc]
    # no new attributes either (CPython 3.11's frozen+slots dataclass raises TypeError
    # here, newer ones AttributeError: the same as without fast_frozen)
    with pytest.raises((AttributeError, TypeError)):
        a.other = 1  # type: ignore[attr-defined]


def test_replace_copy_and_pickle_rebuild_through_the_constructor():
    a = Address("tcp", "192.0.2.1", 5060, connection=3)
    r = dataclasses.replace(a, port=5070)
    assert (r.port, r.connection, type(r)) == (5070, 3, Address)
    for twin in (copy.copy(a), copy.deepcopy(a), pickle.loads(pickle.dumps(a))):
        assert twin == a and twin.connection == 3 and type(twin) is Address


def test_refuses_what_it_cannot_speed_up_safely():
    @dataclasses.dataclass(slots=True)
    class Mutable:
        x: int

    with pytest.raises(TypeError):
        fast_frozen(Mutable)

    @dataclasses.dataclass(frozen=True, slots=True)
    class Checked:
        x: int

        def __post_init__(self) -> None:
            if self.x < 0:
                raise ValueError

    with pytest.raises(TypeError):
        fast_frozen(Checked)

    @dataclasses.dataclass(frozen=True, slots=True)
    class Listy:
        items: list = dataclasses.field(default_factory=list)

    with pytest.raises(TypeError):
        fast_frozen(Listy)
