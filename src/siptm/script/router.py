"""The routing script's registry of routes: one request route and named failure,
onreply and branch routes, each a plain ``def`` or ``async def``.

Usage::

    router = Router()

    @router.request
    def route(msg, tm): ...

    @router.failure("voicemail")
    async def voicemail(msg, tm): ...

A named route is addressable by its name or by the function itself
(``tm.t_on_failure("voicemail")`` or ``tm.t_on_failure(voicemail)``).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

RouteFunc = Callable[..., Any]

REQUEST: Final = "request"
FAILURE: Final = "failure"
ONREPLY: Final = "onreply"
BRANCH: Final = "branch"
ROUTE_KINDS: Final = (REQUEST, FAILURE, ONREPLY, BRANCH)


@dataclass(frozen=True, slots=True)
class Route:
    kind: str
    name: str
    func: RouteFunc

    @property
    def is_async(self) -> bool:
        return inspect.iscoroutinefunction(self.func)


class Router:
    """Holds the routes of one routing script."""

    def __init__(self) -> None:
        self.request_route: Route | None = None
        self._named: dict[str, dict[str, Route]] = {FAILURE: {}, ONREPLY: {}, BRANCH: {}}

    # --- registration (decorators) ------------------------------------------------------
    def request(self, func: RouteFunc) -> RouteFunc:
        """Register the request route (the seeds' main ``route { }`` block)."""
        self.request_route = Route(REQUEST, func.__name__, func)
        return func

    def _named_decorator(self, kind: str, name: str | RouteFunc | None) -> Any:
        def register(func: RouteFunc, route_name: str | None = None) -> RouteFunc:
            key = route_name or func.__name__
            table = self._named[kind]
            if key in table and table[key].func is not func:
                raise ValueError(f"{kind} route {key!r} is defined twice")
            if kind == BRANCH and inspect.iscoroutinefunction(func):
                raise TypeError(f"branch route {key!r} must be a plain def: it runs inside "
                                "t_relay(), before the branch is sent")
            table[key] = Route(kind, key, func)
            return func

        if callable(name):  # used bare: @router.failure
            return register(name)
        return lambda func: register(func, name)

    def failure(self, name: str | RouteFunc | None = None) -> Any:
        """Register a failure route (``failure_route[name]``)."""
        return self._named_decorator(FAILURE, name)

    def onreply(self, name: str | RouteFunc | None = None) -> Any:
        """Register an onreply route (``onreply_route[name]``)."""
        return self._named_decorator(ONREPLY, name)

    def reply(self, name: str | RouteFunc | None = None) -> Any:
        """``onreply`` (a method, not an alias by assignment: see Tm.t_fork)."""
        return self._named_decorator(ONREPLY, name)

    def branch(self, name: str | RouteFunc | None = None) -> Any:
        """Register a branch route (``branch_route[name]``); it must be a plain ``def``."""
        return self._named_decorator(BRANCH, name)

    # --- lookup ------------------------------------------------------------------------
    def find(self, kind: str, ref: str | RouteFunc) -> Route:
        """The registered route of ``kind`` named ``ref`` (or registered as function ``ref``)."""
        table = self._named[kind]
        if isinstance(ref, str):
            route = table.get(ref)
            if route is None:
                raise KeyError(f"no {kind} route named {ref!r}")
            return route
        for route in table.values():
            if route.func is ref:
                return route
        raise KeyError(f"function {getattr(ref, '__name__', ref)!r} is not a {kind} route")

    def names(self, kind: str) -> list[str]:
        return sorted(self._named[kind])
