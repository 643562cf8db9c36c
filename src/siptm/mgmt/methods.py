"""The management methods: tm statistics, hash table load, the transactions in use.

Rules of this module: methods only read what the engine keeps (its counters, its
transaction table) and are called from the event loop that runs the engine, so what
they see is consistent; nothing here changes the engine. ``reset_statistics`` keeps a
baseline of its own and reports the difference, as the seeds' reset does (every
statistic except ``inuse_transactions`` can be reset).

Names follow the seeds: OpenSIPS MI ``get_statistics`` / ``reset_statistics`` /
``list_statistics`` with the seed 003 statistic names in the ``tm`` group, ``t_hash``
(seed 003 MI), and Kamailio's RPC ``tm.stats`` / ``tm.hash_stats`` /
``system.listMethods``. ``t_list`` is siptm's own (what is in use, and why).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from .. import __version__
from .rpc import INVALID_PARAMS, Dispatcher, RpcError

__all__ = ["NO_TM", "TM_STATISTICS", "build_dispatcher", "tm_engine"]

NO_TM = -32001

# Seed 003 §1.7, in its order.
TM_STATISTICS = (
    "received_replies",
    "relayed_replies",
    "local_replies",
    "UAS_transactions",
    "UAC_transactions",
    "2xx_transactions",
    "3xx_transactions",
    "4xx_transactions",
    "5xx_transactions",
    "6xx_transactions",
    "inuse_transactions",
)
NOT_RESETTABLE = frozenset(("inuse_transactions",))


def tm_engine(engine: Any) -> Any:
    """The core engine behind what the runtime holds (a script runner wraps it), or
    None when it keeps no transactions (e.g. a stateless test engine)."""
    core = getattr(engine, "engine", engine)
    if core is None or not hasattr(core, "layer") or not hasattr(core, "stats"):
        return None
    return core


class Statistics:
    """Reads the counters of a server's engine, minus a resettable baseline."""

    def __init__(self, server: Any) -> None:
        self.server = server
        self._baseline: dict[str, int] = {}

    def core(self) -> Any:
        core = tm_engine(self.server.engine)
        if core is None:
            raise RpcError(NO_TM, "this engine keeps no transactions (no tm statistics)")
        return core

    def raw(self) -> dict[str, dict[str, int]]:
        """``{group: {name: value}}`` without the baseline."""
        core = self.core()
        engine_stats = core.stats.as_dict()
        layer_stats = core.layer.stats.as_dict()
        tm = {
            "received_replies": engine_stats.get("received_replies", 0),
            "relayed_replies": engine_stats.get("relayed_replies", 0),
            "local_replies": engine_stats.get("local_replies", 0),
            "UAS_transactions": layer_stats.get("uas_transactions", 0),
            "UAC_transactions": layer_stats.get("uac_transactions", 0),
        }
        for klass in range(2, 7):
            name = f"{klass}xx_transactions"
            tm[name] = engine_stats.get(name, 0)
        tm["inuse_transactions"] = int(core.in_use)
        siptm = {
            "bad_messages": engine_stats.get("bad_messages", 0),
            "sl_replies": engine_stats.get("sl_replies", 0),
            "stray_replies": engine_stats.get("stray_replies", 0),
            "absorbed_requests": layer_stats.get("absorbed_requests", 0),
            "stray_responses": layer_stats.get("stray_responses", 0),
            "dropped_messages": layer_stats.get("dropped", 0),
            "route_errors": int(getattr(self.server.engine, "route_errors", 0)),
        }
        core_group = {
            "received_messages": int(getattr(self.server, "received", 0)),
            "engine_failures": int(getattr(self.server, "engine_failures", 0)),
            "transport_errors": int(getattr(self.server, "transport_errors", 0)),
        }
        return {"tm": tm, "siptm": siptm, "core": core_group}

    def current(self) -> dict[str, dict[str, int]]:
        out = self.raw()
        for group, values in out.items():
            for name in values:
                values[name] -= self._baseline.get(f"{group}:{name}", 0)
        return out

    def select(self, names: Iterable[str]) -> dict[str, int]:
        """OpenSIPS ``get_statistics``: ``all``, ``group:`` or ``[group:]name``."""
        current = self.current()
        out: dict[str, int] = {}
        for spec in names:
            for key in self._keys(spec, current):
                group, _, name = key.partition(":")
                out[key] = current[group][name]
        return out

    def reset(self, names: Iterable[str]) -> list[str]:
        raw = self.raw()
        done = []
        for spec in names:
            for key in self._keys(spec, raw):
                group, _, name = key.partition(":")
                if name in NOT_RESETTABLE:
                    continue
                self._baseline[key] = raw[group][name]
                done.append(key)
        return done

    @staticmethod
    def _keys(spec: str, current: dict[str, dict[str, int]]) -> list[str]:
        if not isinstance(spec, str) or not spec:
            raise RpcError(INVALID_PARAMS, f"bad statistic name {spec!r}")
        if spec == "all":
            return [f"{g}:{n}" for g, values in current.items() for n in values]
        group, sep, name = spec.partition(":")
        if sep and not name:
            if group not in current:
                raise RpcError(INVALID_PARAMS, f"no statistics group {group!r}")
            return [f"{group}:{n}" for n in current[group]]
        if sep:
            if name not in current.get(group, {}):
                raise RpcError(INVALID_PARAMS, f"no statistic {spec!r}")
            return [spec]
        for group, values in current.items():
            if spec in values:
                return [f"{group}:{spec}"]
        raise RpcError(INVALID_PARAMS, f"no statistic {spec!r}")


def _names(statistics: Any) -> list[str]:
    if statistics is None:
        return ["all"]
    if isinstance(statistics, str):
        return [statistics]
    if isinstance(statistics, list) and all(isinstance(s, str) for s in statistics):
        return statistics or ["all"]
    raise RpcError(INVALID_PARAMS, "statistics: a name or an array of names")


def build_dispatcher(server: Any, *, started: float | None = None) -> Dispatcher:
    """The methods of one worker's management interface."""
    rpc = Dispatcher()
    stats = Statistics(server)
    started_wall = time.time() if started is None else started
    started_mono = time.monotonic()

    @rpc.method("tm.stats")
    def tm_stats() -> dict[str, int]:
        """The seed 003 tm statistics, by name (inuse_transactions, 2xx_transactions, ...)."""
        return dict(stats.current()["tm"])

    @rpc.method("get_statistics")
    def get_statistics(*names: str, statistics: Any = None) -> dict[str, int]:
        """Statistics by name: "all", a group ("tm:", "siptm:", "core:") or
        "[group:]name", as positional params or {"statistics": [...]}; answers
        {"group:name": value}."""
        return stats.select(_names(list(names) or statistics))

    @rpc.method("reset_statistics")
    def reset_statistics(*names: str, statistics: Any = None) -> list[str]:
        """Reset statistics (names as for get_statistics; inuse_transactions is never
        reset); answers the names reset."""
        return stats.reset(_names(list(names) or statistics))

    @rpc.method("list_statistics")
    def list_statistics() -> dict[str, list[str]]:
        """The statistics there are, by group."""
        return {group: list(values) for group, values in stats.current().items()}

    @rpc.method("t_hash")
    def t_hash(limit: int = 1000) -> dict[str, Any]:
        """Load of the transaction hash table: size, used buckets, busiest bucket, and
        the non-empty buckets (the `limit` busiest, by index)."""
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
            raise RpcError(INVALID_PARAMS, "limit: a non-negative integer")
        table = stats.core().layer.table
        loads = table.loads()
        chosen = sorted(sorted(loads.items(), key=lambda kv: (-kv[1], kv[0]))[:limit])
        out = dict(table.hash_stats())
        out["buckets"] = [{"index": i, "load": n} for i, n in chosen]
        out["truncated"] = len(chosen) < len(loads)
        return out

    @rpc.method("tm.hash_stats")
    def hash_stats() -> dict[str, int]:
        """Summary of the transaction hash table (Kamailio's tm.hash_stats)."""
        return dict(stats.core().layer.table.hash_stats())

    @rpc.method("t_list", "tm.list")
    def t_list(limit: int = 100) -> dict[str, Any]:
        """The transactions in use (at most `limit`): id, kind, method, state, Call-ID,
        the timer that holds them and when it fires."""
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
            raise RpcError(INVALID_PARAMS, "limit: a non-negative integer")
        core = stats.core()
        now = _now(server)
        txs = list(core.layer.table)
        return {"in_use": len(txs),
                "transactions": [_describe(tx, now) for tx in txs[:limit]],
                "truncated": len(txs) > limit}

    @rpc.method("which", "system.listMethods")
    def which() -> dict[str, str]:
        """The methods of this interface, each with its first line of help."""
        return rpc.methods

    @rpc.method("uptime", "core.uptime")
    def uptime() -> dict[str, Any]:
        """When this worker started and how long it has run (seconds)."""
        return {"now": time.time(), "up_since": started_wall,
                "uptime": round(time.monotonic() - started_mono, 3),
                "worker": getattr(server, "worker_id", 0)}

    @rpc.method("version", "core.version")
    def version() -> dict[str, str]:
        """The server's name and version."""
        return {"server": f"siptm {__version__}"}

    return rpc


def _now(server: Any) -> float | None:
    loop = getattr(server, "_loop", None)
    return loop.time() if loop is not None else None


def _describe(tx: Any, now: float | None) -> dict[str, Any]:
    state = getattr(tx, "state", None)
    out: dict[str, Any] = {
        "id": f"{getattr(tx, 'hash_index', '?')}:{getattr(tx, 'label', '?')}",
        "kind": "server" if getattr(tx, "is_server", False) else "client",
        "method": getattr(tx, "method", None),
        "state": getattr(state, "name", None if state is None else str(state)),
        "last_status": getattr(tx, "last_status", 0),
    }
    request = getattr(tx, "request", None)
    try:
        out["call_id"] = request.call_id if request is not None else None
    except Exception:
        out["call_id"] = None
    branch = getattr(tx, "branch", None)
    if isinstance(branch, str):
        out["branch"] = branch
    timer = getattr(tx, "_main", None)
    if isinstance(timer, list) and len(timer) >= 4 and timer[2] is tx:
        kind = timer[3]
        out["timer"] = getattr(kind, "name", str(kind))
        if now is not None:
            out["fires_in"] = round(timer[0] - now, 3)
    if now is not None and isinstance(getattr(tx, "created", None), float):
        out["age"] = round(now - tx.created, 3)
    return out
