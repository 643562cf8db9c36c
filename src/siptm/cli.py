"""The ``siptm`` command line: ``siptm run [--config siptm.toml] [--script routes.py]``
and ``siptm ctl [--config siptm.toml | --address udp:HOST:PORT] METHOD [PARAM ...]``.

Rules of this module: it reads the configuration (a :class:`~siptm.config.ConfigError`
is printed with the key at fault, exit 2), sets up logging, and runs one worker with
:func:`siptm.runtime.server.run` (exit 0 after SIGINT/SIGTERM, 1 when it cannot start).
The engine and the routing script are imported lazily inside ``run``: the engine comes
from ``siptm.core.engine.create_engine(info, script)``, where ``script`` is the
``--script`` path or ``None`` for the bundled default script. ``--engine
MODULE:FUNCTION`` (or ``path/file.py:FUNCTION``) names another factory with the same
signature, for tests and embedding.

``ctl`` calls one method of the management interface (``[mgmt] listen`` of the
configuration, or ``--address``) and prints its result as JSON: exit 0, or 1 with the
error on stderr (a JSON-RPC error, no answer), 2 when there is nowhere to ask.
Parameters are JSON values (a word that is not JSON is a string); ``name=value``
parameters make an object of named parameters instead of an array.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .config import Config, ConfigError

__all__ = ["main"]

log = logging.getLogger("siptm")

ENGINE_MODULE = "siptm.core.engine"
ENGINE_FACTORY = "create_engine"


class NotReady(Exception):
    """The engine (or the factory asked for) cannot be loaded."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="siptm", description="transaction-stateful SIP proxy")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the proxy",
                         description="Run the proxy. Without --config it listens on UDP and "
                                     "TCP 127.0.0.1:5060; without --script it uses the bundled "
                                     "default routing script.")
    run.add_argument("--config", metavar="PATH", help="TOML configuration file")
    run.add_argument("--script", metavar="PATH", help="Python routing script")
    run.add_argument("--check", action="store_true",
                     help="validate the configuration (and that the script exists), then exit")
    run.add_argument("--engine", metavar="MODULE:FUNCTION",
                     help=f"engine factory (default {ENGINE_MODULE}:{ENGINE_FACTORY}); "
                          "MODULE may be a path to a .py file")
    run.add_argument("--worker-id", type=int, default=0, metavar="N", help=argparse.SUPPRESS)
    ctl = sub.add_parser("ctl", help="call a management method of a running siptm",
                         description="Call one JSON-RPC method of the management interface "
                                     "([mgmt] listen) and print the result as JSON. "
                                     "Try: siptm ctl which; siptm ctl tm.stats; "
                                     "siptm ctl get_statistics tm:; siptm ctl t_hash.")
    ctl.add_argument("--config", metavar="PATH",
                     help="TOML configuration whose [mgmt] listen to use")
    ctl.add_argument("--address", metavar="udp:HOST:PORT",
                     help="the management address (instead of --config)")
    ctl.add_argument("--timeout", type=float, default=2.0, metavar="SECONDS",
                     help="give up after this long without an answer (default 2)")
    ctl.add_argument("method", help="method name, e.g. tm.stats")
    ctl.add_argument("params", nargs="*", metavar="PARAM",
                     help="a JSON value (or a bare word), or name=value")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "run":
        return _run(args)
    if args.command == "ctl":
        return _ctl(args)
    return 2  # pragma: no cover - argparse rejects other commands


def _run(args: argparse.Namespace) -> int:
    try:
        config = Config.from_toml(args.config) if args.config else Config.default()
    except ConfigError as exc:
        print(f"siptm: configuration error: {exc}", file=sys.stderr)
        return 2
    script = None
    if args.script:
        path = Path(args.script)
        if not path.is_file():
            print(f"siptm: no such routing script: {path}", file=sys.stderr)
            return 2
        script = str(path.resolve())
    if args.check:
        where = ", ".join(map(str, config.listen))
        source = config.path or "defaults"
        print(f"siptm: configuration OK ({source}); listen {where}; "
              f"script {script or 'bundled default'}")
        return 0

    from .runtime.logs import configure_logging
    from .runtime.server import run

    configure_logging(config.log, args.worker_id)
    try:
        factory = _load_factory(args.engine)
    except NotReady as exc:
        print(f"siptm run: {exc}", file=sys.stderr)
        return 1

    def build(info: Any) -> Any:
        return factory(info, script)

    return run(config, build, worker_id=args.worker_id)


def _ctl(args: argparse.Namespace) -> int:
    import json

    from .core.sip_transport import parse_hostport_target
    from .mgmt.client import RemoteError, call

    if args.address:
        try:
            address = parse_hostport_target(args.address)
        except ValueError as exc:
            print(f"siptm ctl: --address: {exc}", file=sys.stderr)
            return 2
    else:
        try:
            config = Config.from_toml(args.config) if args.config else Config.default()
        except ConfigError as exc:
            print(f"siptm ctl: configuration error: {exc}", file=sys.stderr)
            return 2
        address = config.mgmt.address
        if address is None:
            print("siptm ctl: the management interface is off: set [mgmt] listen = "
                  "\"udp:127.0.0.1:PORT\" in the configuration, or give --address",
                  file=sys.stderr)
            return 2
    try:
        params = _ctl_params(args.params)
    except ValueError as exc:
        print(f"siptm ctl: {exc}", file=sys.stderr)
        return 2
    try:
        result = call(address, args.method, params, timeout=args.timeout)
    except RemoteError as exc:
        print(f"siptm ctl: {args.method}: {exc}", file=sys.stderr)
        return 1
    except (TimeoutError, OSError) as exc:
        print(f"siptm ctl: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result, indent=2))
    return 0


def _ctl_params(words: list[str]) -> list[Any] | dict[str, Any] | None:
    """``PARAM ...`` as JSON-RPC params: an array, or an object when named."""
    import json
    import re

    def value(text: str) -> Any:
        try:
            return json.loads(text)
        except ValueError:
            return text

    if not words:
        return None
    named = [re.match(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$", w, re.S) for w in words]
    if all(named):
        return {m.group(1): value(m.group(2)) for m in named if m}
    if any(named):
        raise ValueError("give parameters either all by name (name=value) or none")
    return [value(w) for w in words]


def _load_factory(spec: str | None) -> Callable[..., Any]:
    if spec is None:
        try:
            module = importlib.import_module(ENGINE_MODULE)
        except ModuleNotFoundError as exc:
            if exc.name is not None and ENGINE_MODULE.startswith(exc.name):
                raise NotReady(f"the proxy engine ({ENGINE_MODULE}) is not implemented yet; "
                               "nothing to run") from None
            raise
        factory = getattr(module, ENGINE_FACTORY, None)
        if factory is None:
            raise NotReady(f"the proxy engine is not implemented yet: {ENGINE_MODULE} has no "
                           f"{ENGINE_FACTORY}(info, script)")
        return factory
    module_name, sep, func = spec.rpartition(":")
    if not sep or not module_name or not func:
        raise NotReady(f"--engine {spec!r}: expected MODULE:FUNCTION")
    try:
        if module_name.endswith(".py"):
            loader_spec = importlib.util.spec_from_file_location("siptm_engine", module_name)
            if loader_spec is None or loader_spec.loader is None:
                raise NotReady(f"--engine: cannot load {module_name}")
            module = importlib.util.module_from_spec(loader_spec)
            loader_spec.loader.exec_module(module)
        else:
            module = importlib.import_module(module_name)
    except (ImportError, OSError) as exc:
        raise NotReady(f"--engine {spec!r}: {exc}") from None
    factory = getattr(module, func, None)
    if not callable(factory):
        raise NotReady(f"--engine {spec!r}: {module_name} has no callable {func!r}")
    return factory


if __name__ == "__main__":
    sys.exit(main())
