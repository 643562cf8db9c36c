"""Cheaper construction for the frozen, slotted dataclasses made on every message.

A frozen dataclass's generated ``__init__`` fills each field with
``object.__setattr__`` (its own ``__setattr__`` raises), which makes it two to three
times dearer to build than a plain slotted object. :func:`fast_frozen` gives such a
class a ``__new__`` that fills the slots of a plain twin class (same slots, no
``__setattr__``) with ordinary assignments, then makes the object an instance of the
frozen class. The result is the same object as before: same fields, equality, hash,
repr and pickling, and assigning a field afterwards still raises
``FrozenInstanceError``. :func:`constructor` hands out the same construction as a
plain function, for the few places that build such objects on every message: calling
a class with a Python ``__new__`` costs a third more than calling the function.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import MISSING, fields
from typing import Any, TypeVar

__all__ = ["constructor", "fast_frozen"]

T = TypeVar("T", bound=type)
R = TypeVar("R")


def fast_frozen(cls: T) -> T:
    """Decorate a ``@dataclass(frozen=True, slots=True)`` class (plain fields, no
    ``__post_init__``, no default factories) to be built at a plain object's cost."""
    params = getattr(cls, "__dataclass_params__", None)
    if params is None or not params.frozen or "__slots__" not in cls.__dict__:
        raise TypeError(f"{cls.__name__} is not a frozen, slotted dataclass")
    if hasattr(cls, "__post_init__"):
        raise TypeError(f"{cls.__name__} has a __post_init__")
    names = [f.name for f in fields(cls)]
    twin = type(f"_{cls.__name__}Slots", (), {"__slots__": cls.__dict__["__slots__"]})
    namespace: dict[str, Any] = {"_new": object.__new__, "_twin": twin}
    arguments = []
    for f in fields(cls):
        if f.default_factory is not MISSING:
            raise TypeError(f"{cls.__name__}.{f.name} has a default factory")
        if f.default is MISSING:
            arguments.append(f.name)
        else:
            namespace[f"_default_{f.name}"] = f.default
            arguments.append(f"{f.name}=_default_{f.name}")
    body = "".join(f"    self.{name} = {name}\n" for name in names)
    namespace["_cls"] = cls
    exec(  # generated from the field names, as dataclasses itself does
        f"def __new__(cls, {', '.join(arguments)}):\n"
        f"    self = _new(_twin)\n{body}"
        f"    self.__class__ = cls\n"
        f"    return self\n"
        f"def make({', '.join(arguments)}):\n"
        f"    self = _new(_twin)\n{body}"
        f"    self.__class__ = _cls\n"
        f"    return self\n",
        namespace,
    )
    new = namespace["__new__"]
    new.__qualname__ = f"{cls.__qualname__}.__new__"
    cls.__new__ = new  # type: ignore[assignment]
    make = namespace["make"]
    make.__name__ = make.__qualname__ = f"new_{cls.__name__}"
    make.__doc__ = f"``{cls.__name__}(...)`` (the same object), at a plain function's cost."
    cls._fast_make = make  # type: ignore[attr-defined]
    # __new__ did the work; object.__init__ accepts the arguments when __new__ is
    # overridden and does nothing
    cls.__init__ = object.__init__  # type: ignore[misc]

    def __reduce__(self: Any) -> tuple[type, tuple[Any, ...]]:
        # copy and pickle rebuild through the constructor (object.__reduce_ex__ would
        # call __new__ without the fields)
        return (type(self), tuple(getattr(self, name) for name in names))

    cls.__reduce__ = __reduce__  # type: ignore[assignment]
    return cls


def constructor(cls: type[R]) -> Callable[..., R]:
    """The plain function that builds ``cls(...)`` for a :func:`fast_frozen` class:
    same arguments, same object, without the class call (``type.__call__``, ``__new__``
    reached through a slot, ``object.__init__``)."""
    make = getattr(cls, "_fast_make", None)
    if make is None:
        raise TypeError(f"{getattr(cls, '__name__', cls)!r} is not a fast_frozen class")
    return make  # type: ignore[no-any-return]
