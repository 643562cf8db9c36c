"""Runs the user's routes for the engine: sync or async, failures contained.

Rules of this module: this is the only place user code is called. A route that raises
is logged with its name, and a request nobody answered yet gets a 500; the proxy goes
on. An ``async def`` route runs as a task through the runtime (``RunCoroutine``): its
transaction stays alive and its timers keep running meanwhile; whatever it does after
an ``await`` is dispatched at once (``server.apply``), not when it ends.
"""

from __future__ import annotations

import gc
import importlib.util
import inspect
import logging
import os
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

from ..core.contexts import BranchContext, ReplyContext
from ..core.engine import Engine
from ..core.request_context import RequestContext
from ..runtime.effects import RunCoroutine
from .results import RouteDrop, RouteExit
from .router import FAILURE, Route, Router
from .tm import Tm

log: Final = logging.getLogger("siptm.script")


def load_router(path: str | None) -> Router:
    """The ``Router`` of a routing script file (``router`` at module level); the bundled
    default script when ``path`` is None."""
    if path is None:
        from . import default

        return default.router
    file = Path(path)
    name = f"siptm_user_script_{abs(hash(str(file.resolve())))}"
    spec = importlib.util.spec_from_file_location(name, file)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load routing script {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    router = getattr(module, "router", None)
    if not isinstance(router, Router):
        raise ImportError(f"routing script {path} defines no `router = Router()`")
    if router.request_route is None:
        raise ImportError(f"routing script {path} registers no @router.request route")
    return router


class ScriptRunner:
    """Wraps an :class:`Engine` for the runtime and runs routes for it."""

    def __init__(self, engine: Engine, router: Router, info: Any = None,
                 clock: Callable[[], float] | None = None) -> None:
        self.engine = engine
        self.router = router
        self.info = info
        self.clock = clock or time.monotonic
        self.route_errors = 0
        engine.runner = self
        # the runtime's engine interface is the engine's own (bound here, not wrapped:
        # one call frame less per message)
        self.receive = engine.receive
        self.handle_timers = engine.handle_timers
        self.next_deadline = engine.next_deadline
        self.transport_error = engine.transport_error

    # --- RouteRunner ---------------------------------------------------------------------
    def request_route(self, ctx: RequestContext) -> None:
        route = self.router.request_route
        if route is None:
            ctx.sl_reply(500, "No request route")
            ctx.finish(ctx.now)
            return
        self._run(route, ctx)

    def failure_route(self, ctx: RequestContext, name: str) -> None:
        try:
            route = self.router.find(FAILURE, name)
        except KeyError:
            log.error("failure route %r is not defined", name)
            ctx.finish(ctx.now)
            return
        self._run(route, ctx)

    def reply_route(self, ctx: ReplyContext, name: str) -> bool:
        return self._run_sync_route("onreply", name, ctx)

    def branch_route(self, ctx: BranchContext, name: str) -> bool:
        return self._run_sync_route("branch", name, ctx)

    def stray_reply_route(self, response: Any, name: str) -> bool:
        """``on_sl_reply``: False when the route dropped the reply (or returned 0)."""
        try:
            route = self.router.find("onreply", name)
        except KeyError:
            return True
        tm = Tm(_StrayContext(response), self.router)
        try:
            result = route.func(response, tm)
        except RouteExit:
            return False
        except Exception:
            self.route_errors += 1
            log.exception("onreply route %r failed", name)
            return True
        if inspect.iscoroutine(result):  # it runs before the reply goes on: no await
            result.close()
            self.route_errors += 1
            log.error("onreply route %r (on_sl_reply) must be a plain def", name)
            return True
        return not (result is not None and not isinstance(result, bool) and result == 0)

    # --- running ---------------------------------------------------------------------------
    def _run_sync_route(self, kind: str, name: str, ctx: Any) -> bool:
        try:
            route = self.router.find(kind, name)
        except KeyError:
            log.error("%s route %r is not defined", kind, name)
            return False
        try:
            result = route.func(ctx.msg, Tm(ctx, self.router, self))
            if inspect.iscoroutine(result):
                result.close()
                log.error("%s route %r must be a plain def", kind, name)
        except RouteDrop:
            return True
        except RouteExit:
            return False
        except Exception:
            self.route_errors += 1
            log.exception("%s route %r failed", kind, name)
        return False

    def _run(self, route: Route, ctx: RequestContext) -> None:
        tm = Tm(ctx, self.router, self)
        try:
            result = route.func(ctx.msg, tm)
        except RouteExit:
            ctx.finish(ctx.now)
            return
        except Exception as exc:
            self.route_errors += 1
            log.exception("%s route %r failed", route.kind, route.name)
            ctx.finish(ctx.now, exc)
            return
        if result is None or not inspect.iscoroutine(result):
            ctx.finish(ctx.now)
            return
        # An async route: keep the transaction (t_suspend), run it as a task; its
        # fr_timer runs meanwhile.
        if ctx.msg.method != "ACK" and ctx.kind == "request":
            ctx.newtran()
            ctx.suspend()
        ctx.async_mode = True
        engine = self.engine

        def done(value: Any, error: BaseException | None, now: float) -> list[Any]:
            if error is not None and not isinstance(error, RouteExit):
                self.route_errors += 1
                log.error("%s route %r failed", route.kind, route.name,
                          exc_info=(type(error), error, error.__traceback__))
                ctx.finish(now, error)
            else:
                ctx.finish(now)
            return engine.take_effects()

        engine._out.append(RunCoroutine(result, done, f"{route.kind} route {route.name}"))

    def flush(self, ctx: Any) -> None:
        """After a tm call made from a running async route: dispatch its effects now."""
        server = getattr(self.info, "server", None)
        if server is not None:
            server.apply(lambda now: self.engine.take_effects())


class _StrayContext:
    """on_sl_reply: a reply with no transaction (only its own status can be checked)."""

    route_kind = "onreply"
    kind = "onreply"

    def __init__(self, msg: Any) -> None:
        self.msg = msg

    def check_status(self, pattern: str) -> int:
        return 1 if re.search(pattern, str(self.msg.status)) else -1


def create(info: Any, script: str | None) -> ScriptRunner:
    router = load_router(script)
    engine = Engine(info.config, info.listeners, worker_id=info.worker_id,
                    seed=os.urandom(8))
    runner = ScriptRunner(engine, router, info)
    # Everything alive now (modules, the script, the engine) lives as long as the
    # process: keep it out of every future cyclic-GC pass.
    gc.collect()
    gc.freeze()
    return runner
