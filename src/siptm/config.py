"""Typed configuration: ``siptm.toml`` read with :mod:`tomllib` into frozen dataclasses.

Rules of this module: every key has a type, a default and a unit; anything the file
holds that is not a known key, or whose value has the wrong type or range, raises
:class:`ConfigError` naming the key (``tm.fr_timer``) before anything starts. The ``[tm]``
table takes every tm module parameter of both seeds by its Kamailio name with
Kamailio's units (milliseconds for the timers). OpenSIPS names are accepted as aliases
with their units converted (``fr_timeout = 30`` seconds becomes ``fr_timer = 30000``);
the three names OpenSIPS shares with Kamailio but counts in seconds (``wt_timer``,
``delete_timer``, ``unix_tx_timeout``) keep Kamailio's milliseconds in ``[tm]`` and are
read in seconds only inside ``[tm.opensips]``, which takes OpenSIPS names and units for
every key. No I/O except reading the file and checking that TLS files exist.
"""

from __future__ import annotations

import difflib
import ipaddress
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from .core.sip_transport import parse_hostport_target
from .net import Address

__all__ = [
    "OPENSIPS_NAMES",
    "TIMER_FIELDS",
    "Config",
    "ConfigError",
    "LogSettings",
    "MgmtSettings",
    "TlsSettings",
    "TmSettings",
    "TransportSettings",
]


class ConfigError(ValueError):
    """A bad configuration. ``key`` is the dotted key at fault (``tm.fr_timer``)."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}" if key else message)
        self.key = key
        self.message = message


def _p(default: Any, kind: str, doc: str, *, minimum: int | None = None,
       maximum: int | None = None, choices: tuple[Any, ...] | None = None) -> Any:
    """A field with the metadata the loader validates against.

    ``kind``: ``ms`` / ``s`` (non-negative integers in that unit), ``int``, ``bool``
    (true/false, or 0/1 as the seeds write it), ``str``, ``flag`` (string or integer).
    """
    meta = {"kind": kind, "doc": doc, "min": minimum, "max": maximum, "choices": choices}
    return field(default=default, metadata=meta)


# The timing fields shared by name (and unit, ms) with siptm.core.timers.TimerConfig.
TIMER_FIELDS = (
    "retr_timer1",
    "retr_timer2",
    "fr_timer",
    "fr_inv_timer",
    "fr_inv_timer_next",
    "max_inv_lifetime",
    "max_noninv_lifetime",
    "wt_timer",
    "delete_timer",
    "restart_fr_on_each_reply",
    "noisy_ctimer",
    "rfc_wait_timers",
)


@dataclass(frozen=True, slots=True)
class TmSettings:
    """The ``[tm]`` table: tm module parameters by their Kamailio (seed 002) names."""

    # --- timers, milliseconds (seed 002) ---------------------------------------------------
    fr_timer: int = _p(30000, "ms", "no final reply (or no ACK for a negative INVITE reply)",
                       minimum=1)
    fr_inv_timer: int = _p(120000, "ms", "no final reply for an INVITE after a provisional",
                           minimum=1)
    max_inv_lifetime: int = _p(180000, "ms", "maximum lifetime of an INVITE transaction",
                               minimum=1)
    max_noninv_lifetime: int = _p(32000, "ms", "maximum lifetime of a non-INVITE transaction",
                                  minimum=1)
    wt_timer: int = _p(5000, "ms", "time a completed transaction absorbs late messages",
                       minimum=1)
    delete_timer: int = _p(200, "ms", "retry interval for deleting a referenced transaction "
                           "(obsolete in Kamailio; accepted, unused)")
    retr_timer1: int = _p(500, "ms", "initial retransmission interval (T1)", minimum=1)
    retr_timer2: int = _p(4000, "ms", "maximum retransmission interval (T2)", minimum=1)
    fr_inv_timer_next: int = _p(30000, "ms", "fr_inv_timer during serial forking while lower "
                                "q-value contacts remain")
    unix_tx_timeout: int = _p(500, "ms", "unix socket send timeout (accepted, unused)")
    # --- behaviour switches (seed 002) --------------------------------------------------------
    noisy_ctimer: bool = _p(True, "bool", "answer 408 to an INVITE that timed out with no reply")
    restart_fr_on_each_reply: bool = _p(True, "bool",
                                        "restart fr_inv_timer on every provisional reply")
    auto_inv_100: bool = _p(True, "bool", "answer 100 to every INVITE automatically")
    auto_inv_100_reason: str = _p("trying -- your call is important to us", "str",
                                  "reason phrase of the automatic 100")
    aggregate_challenges: bool = _p(True, "bool",
                                    "merge WWW/Proxy-Authenticate of all 401/407 branches")
    reparse_invite: bool = _p(True, "bool", "build CANCEL and hop-by-hop ACK from the INVITE "
                              "as sent")
    ac_extra_hdrs: str = _p("", "str", "prefix of extra headers copied into CANCEL/ACK")
    blst_503: bool = _p(False, "bool", "blacklist the source of a 503")
    blst_503_def_timeout: int = _p(0, "s", "blacklist time for a 503 without Retry-After")
    blst_503_min_timeout: int = _p(0, "s", "minimum blacklist time for a 503 with Retry-After")
    blst_503_max_timeout: int = _p(3600, "s",
                                   "maximum blacklist time for a 503 with Retry-After")
    blst_methods_add: int = _p(1, "int", "bitmap of methods whose timeouts blacklist",
                               minimum=0, maximum=0xFFFFFFFF)
    blst_methods_lookup: int = _p(4294967287, "int", "bitmap of methods checked against the "
                                  "blacklist", minimum=0, maximum=0xFFFFFFFF)
    cancel_b_method: int = _p(1, "int", "how to CANCEL an unreplied branch (0, 1, 2)",
                              choices=(0, 1, 2))
    reparse_on_dns_failover: bool = _p(True, "bool",
                                       "build a DNS-failover branch from the failed one")
    on_sl_reply: str = _p("", "str", "onreply route run for replies with no transaction")
    contacts_avp: str = _p("", "str", "AVP used by t_load_contacts/t_next_contacts "
                           "(empty: disabled)")
    fr_timer_avp: str = _p("", "str", "AVP overriding fr_timer per transaction (seconds)")
    fr_inv_timer_avp: str = _p("", "str", "AVP overriding fr_inv_timer per transaction "
                               "(seconds)")
    unmatched_cancel: int = _p(0, "int", "CANCEL matching no transaction: 0 stateful, "
                               "1 stateless, 2 drop", choices=(0, 1, 2))
    # --- OpenSIPS-only parameters (seed 003), under their own names ---------------------------
    ruri_matching: bool = _p(True, "bool", "compare the R-URI in RFC 2543 matching")
    via1_matching: bool = _p(True, "bool", "compare the top Via in RFC 2543 matching")
    tw_append: str = _p("", "str", "extra data for t_write_req/t_write_unix (accepted, unused)")
    pass_provisional_replies: bool = _p(False, "bool",
                                        "pass provisional replies to FIFO applications")
    syn_branch: bool = _p(True, "bool", "synonym (not reboot-safe) branch ids")
    onreply_avp_mode: int = _p(0, "int", "AVPs in reply routes: 0 per message, "
                               "1 the transaction's", choices=(0, 1))
    disable_6xx_block: bool = _p(False, "bool", "let a 6xx allow further serial forking")
    enable_stats: bool = _p(True, "bool", "keep tm statistics")
    minor_branch_flag: str | int | None = _p(None, "flag",
                                             "branch flag marking minor branches")
    timer_partitions: int = _p(1, "int", "timer partitions (accepted; one per worker here)",
                               minimum=1, maximum=64)
    # --- siptm: where the seeds and a later RFC disagree, the seeds win by default ------------
    rfc6026_strict_stray_replies: bool = _p(False, "bool", "RFC 6026: discard replies that "
                                            "match no transaction instead of forwarding them")
    rfc4320_no_408: bool = _p(False, "bool", "RFC 4320: send no 408 upstream when a "
                              "non-INVITE times out")
    rfc_wait_timers: bool = _p(False, "bool", "hold completed transactions by RFC 3261/6026 "
                               "timers D, I, K (T4), L, M (64*T1) instead of the seeds' "
                               "wt_timer")

    def timer_values(self) -> dict[str, int]:
        """The fields shared by name with ``siptm.core.timers.TimerConfig``, as integers
        (the two switches as 0/1, as the seeds write them):
        ``TimerConfig(**settings.timer_values())``."""
        return {name: int(getattr(self, name)) for name in TIMER_FIELDS}


# OpenSIPS (seed 003) name -> (Kamailio name, factor to Kamailio's unit). All are read in
# [tm.opensips]; the ones whose name differs from Kamailio's are also aliases in [tm].
OPENSIPS_NAMES: dict[str, tuple[str, int]] = {
    "fr_timeout": ("fr_timer", 1000),
    "fr_inv_timeout": ("fr_inv_timer", 1000),
    "wt_timer": ("wt_timer", 1000),
    "delete_timer": ("delete_timer", 1000),
    "T1_timer": ("retr_timer1", 1),
    "T2_timer": ("retr_timer2", 1),
    "ruri_matching": ("ruri_matching", 1),
    "via1_matching": ("via1_matching", 1),
    "unix_tx_timeout": ("unix_tx_timeout", 1000),
    "restart_fr_on_each_reply": ("restart_fr_on_each_reply", 1),
    "tw_append": ("tw_append", 1),
    "pass_provisional_replies": ("pass_provisional_replies", 1),
    "syn_branch": ("syn_branch", 1),
    "onreply_avp_mode": ("onreply_avp_mode", 1),
    "disable_6xx_block": ("disable_6xx_block", 1),
    "enable_stats": ("enable_stats", 1),
    "minor_branch_flag": ("minor_branch_flag", 1),
    "timer_partitions": ("timer_partitions", 1),
    "auto_100trying": ("auto_inv_100", 1),
}
_TM_ALIASES = {
    name: target for name, target in OPENSIPS_NAMES.items() if name != target[0]
}
_TM_ALIASES.update({name.lower(): target for name, target in list(_TM_ALIASES.items())})


@dataclass(frozen=True, slots=True)
class TlsSettings:
    """The ``[tls]`` table; paths are relative to the configuration file."""

    certificate: str = _p("", "str", "PEM certificate (chain) of the TLS listeners")
    private_key: str = _p("", "str", "PEM private key of the TLS listeners")
    ca_list: str = _p("", "str", "PEM CA bundle for verifying peers (empty: system default)")
    verify_certificate: bool = _p(False, "bool", "verify the server's certificate on "
                                  "connections siptm opens")
    require_certificate: bool = _p(False, "bool", "require and verify a client certificate "
                                   "on connections siptm accepts")


@dataclass(frozen=True, slots=True)
class LogSettings:
    """The ``[log]`` table."""

    level: str = _p("info", "str", "debug, info, warning, error or critical",
                    choices=("debug", "info", "warning", "error", "critical"))
    format: str = _p("text", "str", "text (one line per record) or json (one object per line)",
                     choices=("text", "json"))


@dataclass(frozen=True, slots=True)
class TransportSettings:
    """The ``[transport]`` table (Kamailio core parameter names where one exists)."""

    tcp_connection_lifetime: int = _p(120, "s", "close a TCP/TLS connection idle this long",
                                      minimum=1)
    tcp_connect_timeout: int = _p(10, "s", "give up opening a TCP/TLS connection after this",
                                  minimum=1)
    tcp_max_connections: int = _p(2048, "int", "refuse connections beyond this many",
                                  minimum=1)
    max_header_bytes: int = _p(65536, "int", "largest header block on a stream", minimum=256)
    max_body_bytes: int = _p(1 << 20, "int", "largest body on a stream", minimum=0)
    maxbuffer: int = _p(4 << 20, "int", "UDP receive buffer asked of the kernel (SO_RCVBUF, "
                        "capped by net.core.rmem_max); 0 keeps the system default", minimum=0)


@dataclass(frozen=True, slots=True)
class MgmtSettings:
    """The ``[mgmt]`` table: the management interface (JSON-RPC 2.0 over UDP)."""

    listen: str = _p("", "str", "udp:HOST:PORT on a loopback address (empty: off)")

    @property
    def address(self) -> Address | None:
        """The listen address, or None when the interface is off."""
        return parse_hostport_target(self.listen) if self.listen else None


def _check_mgmt(mgmt: MgmtSettings) -> None:
    if not mgmt.listen:
        return
    try:
        addr = parse_hostport_target(mgmt.listen)
    except ValueError as exc:
        raise ConfigError("mgmt.listen", str(exc)) from None
    head, _, port = mgmt.listen.rpartition(":")
    if (not mgmt.listen.lower().startswith("udp:") or addr.transport != "udp"
            or not port.isdigit() or not head.partition(":")[2]):
        raise ConfigError("mgmt.listen", f"{mgmt.listen!r}: must be udp:HOST:PORT")
    if not _is_loopback(addr.host):
        raise ConfigError("mgmt.listen", f"{addr.host!r}: the management interface has no "
                          "authentication; it listens on a loopback address only")


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


DEFAULT_LISTEN = ("udp:127.0.0.1:5060", "tcp:127.0.0.1:5060")
_SECTIONS: dict[str, type] = {
    "tls": TlsSettings,
    "log": LogSettings,
    "transport": TransportSettings,
    "tm": TmSettings,
    "mgmt": MgmtSettings,
}


@dataclass(frozen=True, slots=True)
class Config:
    """The whole configuration. Build with :meth:`from_toml`, :meth:`from_mapping` or
    :meth:`default`; change a copy with :meth:`replace`."""

    listen: tuple[Address, ...] = tuple(parse_hostport_target(t) for t in DEFAULT_LISTEN)
    tls: TlsSettings = field(default_factory=TlsSettings)
    log: LogSettings = field(default_factory=LogSettings)
    transport: TransportSettings = field(default_factory=TransportSettings)
    tm: TmSettings = field(default_factory=TmSettings)
    mgmt: MgmtSettings = field(default_factory=MgmtSettings)
    path: Path | None = None

    @classmethod
    def default(cls) -> Config:
        """Listen on UDP and TCP 127.0.0.1:5060, everything else at its default."""
        return cls()

    @classmethod
    def from_toml(cls, path: str | Path) -> Config:
        """Read and validate a TOML file; raises :class:`ConfigError` (also when the file
        cannot be read or is not valid TOML)."""
        path = Path(path)
        try:
            with path.open("rb") as fh:
                data = tomllib.load(fh)
        except OSError as exc:
            raise ConfigError("", f"cannot read {path}: {exc.strerror or exc}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError("", f"{path}: invalid TOML: {exc}") from exc
        return cls.from_mapping(data, path=path)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, path: Path | None = None) -> Config:
        """Validate already-parsed TOML data (relative TLS paths resolve against ``path``)."""
        base = path.parent if path is not None else Path.cwd()
        listen = _listen(data.get("listen", list(DEFAULT_LISTEN)))
        sections: dict[str, Any] = {}
        for key, value in data.items():
            if key == "listen":
                continue
            if key not in _SECTIONS:
                raise _unknown("", key, ["listen", *_SECTIONS])
            if not isinstance(value, Mapping):
                raise ConfigError(key, f"expected a table [{key}], got {_tname(value)}")
        for name, klass in _SECTIONS.items():
            table = dict(data.get(name, {}))
            if name == "tm":
                table = _tm_table(table)
            sections[name] = _section(name, klass, table)
        tls: TlsSettings = sections["tls"]
        tls = replace(tls, **{k: _resolve(base, getattr(tls, k))
                              for k in ("certificate", "private_key", "ca_list")})
        tm: TmSettings = sections["tm"]
        if tm.retr_timer1 > tm.retr_timer2:
            raise ConfigError("tm.retr_timer1", f"must not exceed retr_timer2 "
                              f"({tm.retr_timer1} > {tm.retr_timer2} ms)")
        if any(a.transport == "tls" for a in listen):
            for key in ("certificate", "private_key"):
                value = getattr(tls, key)
                if not value:
                    raise ConfigError(f"tls.{key}", "required by the tls listener")
                if not Path(value).is_file():
                    raise ConfigError(f"tls.{key}", f"no such file: {value}")
        _check_mgmt(sections["mgmt"])
        return cls(listen=listen, tls=tls, log=sections["log"],
                   transport=sections["transport"], tm=tm, mgmt=sections["mgmt"], path=path)

    def replace(self, **changes: Any) -> Config:
        """A copy with some fields changed (``cfg.replace(tm=replace(cfg.tm, ...))``)."""
        return replace(self, **changes)


# --- validation helpers -----------------------------------------------------------------------

def _tname(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a float"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, Mapping):
        return "a table"
    return type(value).__name__


def _unknown(prefix: str, key: str, known: list[str]) -> ConfigError:
    dotted = f"{prefix}.{key}" if prefix else key
    close = difflib.get_close_matches(key, known, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return ConfigError(dotted, f"unknown key{hint}")


def _listen(value: Any) -> tuple[Address, ...]:
    if not isinstance(value, list):
        raise ConfigError("listen", f"expected an array of \"proto:host:port\" strings, "
                          f"got {_tname(value)}")
    if not value:
        raise ConfigError("listen", "needs at least one address")
    out: list[Address] = []
    for i, item in enumerate(value):
        key = f"listen[{i}]"
        if not isinstance(item, str):
            raise ConfigError(key, f"expected a \"proto:host:port\" string, got {_tname(item)}")
        if item.partition(":")[0].lower() not in ("udp", "tcp", "tls"):
            raise ConfigError(key, f"{item!r}: must start with udp:, tcp: or tls:")
        try:
            addr = parse_hostport_target(item)
        except ValueError as exc:
            raise ConfigError(key, str(exc)) from None
        if addr in out:
            raise ConfigError(key, f"{item!r} is listed twice")
        out.append(addr)
    return tuple(out)


def _tm_table(table: dict[str, Any]) -> dict[str, Any]:
    """Fold OpenSIPS aliases and the [tm.opensips] subtable into Kamailio names."""
    out: dict[str, Any] = {}
    origin: dict[str, str] = {}

    def put(target: str, value: Any, key: str) -> None:
        if target in out:
            raise ConfigError(key, f"sets tm.{target} again (already set by {origin[target]})")
        out[target] = value
        origin[target] = key

    opensips = table.pop("opensips", None)
    for key, value in table.items():
        if key in _TM_ALIASES:
            target, factor = _TM_ALIASES[key]
            put(target, _scaled(f"tm.{key}", value, factor), f"tm.{key}")
        else:
            put(key, value, f"tm.{key}")
    if opensips is not None:
        if not isinstance(opensips, Mapping):
            raise ConfigError("tm.opensips", f"expected a table, got {_tname(opensips)}")
        for key, value in opensips.items():
            spec = OPENSIPS_NAMES.get(key)
            if spec is None:
                raise _unknown("tm.opensips", key, list(OPENSIPS_NAMES))
            target, factor = spec
            put(target, _scaled(f"tm.opensips.{key}", value, factor), f"tm.opensips.{key}")
    return out


def _scaled(key: str, value: Any, factor: int) -> Any:
    if factor == 1:
        return value
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(key, f"expected an integer (seconds), got {_tname(value)}")
    if value < 0:
        raise ConfigError(key, f"must not be negative, got {value}")
    return value * factor


def _section(name: str, klass: type, table: dict[str, Any]) -> Any:
    specs = {f.name: f for f in fields(klass)}
    values: dict[str, Any] = {}
    for key, value in table.items():
        spec = specs.get(key)
        if spec is None:
            known = list(specs) + (list(_TM_ALIASES) if name == "tm" else [])
            raise _unknown(name, key, known)
        values[key] = _check(f"{name}.{key}", value, spec.metadata)
    return klass(**values)


def _check(key: str, value: Any, meta: Mapping[str, Any]) -> Any:
    kind = meta["kind"]
    if kind == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        raise ConfigError(key, f"expected true/false (or 0/1), got {_tname(value)} {value!r}")
    if kind == "str":
        if not isinstance(value, str):
            raise ConfigError(key, f"expected a string, got {_tname(value)}")
        choices = meta["choices"]
        if choices is not None and value.lower() not in choices:
            raise ConfigError(key, f"expected one of {', '.join(choices)}, got {value!r}")
        return value.lower() if choices is not None else value
    if kind == "flag":
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise ConfigError(key, f"expected a flag name or number, got {_tname(value)}")
        return value
    # ms, s, int
    if isinstance(value, bool) or not isinstance(value, int):
        unit = {"ms": " (milliseconds)", "s": " (seconds)"}.get(kind, "")
        raise ConfigError(key, f"expected an integer{unit}, got {_tname(value)} {value!r}")
    choices = meta["choices"]
    if choices is not None and value not in choices:
        raise ConfigError(key, f"expected one of {', '.join(map(str, choices))}, got {value}")
    low = meta["min"] if meta["min"] is not None else 0
    if value < low:
        raise ConfigError(key, f"must be at least {low}, got {value}")
    if meta["max"] is not None and value > meta["max"]:
        raise ConfigError(key, f"must be at most {meta['max']}, got {value}")
    return value


def _resolve(base: Path, value: str) -> str:
    if not value:
        return value
    path = Path(value).expanduser()
    return str(path if path.is_absolute() else base / path)
