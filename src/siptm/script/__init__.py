"""The routing script API: ``Router`` to register routes, ``tm`` functions by the seeds'
names, ``Result`` values whose truth follows the seeds."""

from .results import Result, RouteDrop, RouteExit
from .router import Router
from .tm import Tm

__all__ = ["Result", "RouteDrop", "RouteExit", "Router", "Tm"]
