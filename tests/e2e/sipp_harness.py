"""End-to-end harness: the real ``siptm run`` process and SIPp peers on loopback.

Rules of this module: every process it starts runs in its own session (process group)
and is registered with a :class:`Reaper` whose ``close()`` (a fixture finalizer) kills
what is still running, so a failing test never leaves a proxy or a SIPp behind. Waits
are bounded polls on real processes and sockets. Scenario files come from
``tests/e2e/scenarios/`` (copies of ``../shared/bench/sipp/`` plus our own), never from
outside the repository. Each SIPp run writes its traces (``-trace_msg``, ``-trace_stat``,
``-trace_err``, ``-trace_screen``) into its own directory, parsed into a
:class:`SippResult`.
"""

from __future__ import annotations

import contextlib
import csv
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCENARIOS = HERE / "scenarios"
SIPP = shutil.which("sipp")
LOOPBACK = "127.0.0.1"
SIPP_TRANSPORTS = {"udp": "u1", "tcp": "t1", "tls": "l1"}


# --- ports --------------------------------------------------------------------------------------

def free_port(host: str = LOOPBACK, kinds: Sequence[str] = ("udp", "tcp"),
              avoid: Iterable[int] = ()) -> int:
    """A port free for every socket kind in ``kinds`` right now (bind port 0, then check
    the other kinds on the same number)."""
    avoid = set(avoid)
    for _ in range(200):
        with socket.socket(socket.AF_INET, _kind(kinds[0])) as first:
            first.bind((host, 0))
            port = first.getsockname()[1]
            if port in avoid:
                continue
            ok = True
            for kind in kinds[1:]:
                with socket.socket(socket.AF_INET, _kind(kind)) as other:
                    try:
                        other.bind((host, port))
                    except OSError:
                        ok = False
                        break
            if ok:
                return port
    raise RuntimeError("no free port found")


def _kind(name: str) -> int:
    return socket.SOCK_DGRAM if name == "udp" else socket.SOCK_STREAM


# --- process bookkeeping ----------------------------------------------------------------------

class Reaper:
    """Kills the process groups of everything registered, on ``close()``."""

    def __init__(self) -> None:
        self._procs: list[subprocess.Popen] = []

    def add(self, proc: subprocess.Popen) -> subprocess.Popen:
        self._procs.append(proc)
        return proc

    def close(self) -> None:
        for proc in self._procs:
            kill_group(proc)
        self._procs.clear()


def kill_group(proc: subprocess.Popen, sig: int = signal.SIGKILL, timeout: float = 5.0) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout)


def poll_until(predicate, timeout: float, what: str, interval: float = 0.02) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(interval)


# --- SIPp -----------------------------------------------------------------------------------

@dataclass
class TracedMessage:
    """One entry of a SIPp ``-trace_msg`` file."""

    direction: str  # "sent" or "received"
    transport: str  # "UDP", "TCP", ...
    text: str
    time: float | None = None  # when SIPp traced it (Unix time)

    @property
    def first_line(self) -> str:
        return self.text.split("\r\n", 1)[0].split("\n", 1)[0].strip()

    @property
    def method(self) -> str | None:
        """The request method, or None for a response."""
        line = self.first_line
        return None if line.startswith("SIP/2.0") else line.split(" ", 1)[0]

    @property
    def status(self) -> int | None:
        line = self.first_line
        return int(line.split(" ")[1]) if line.startswith("SIP/2.0") else None

    def header(self, name: str) -> list[str]:
        """Every value of header ``name`` (case-insensitive, full names only)."""
        out = []
        for line in self.text.splitlines():
            key, sep, value = line.partition(":")
            if sep and key.strip().lower() == name.lower():
                out.append(value.strip())
        return out

    @property
    def vias(self) -> list[str]:
        """Every Via value, comma-separated ones split."""
        return [v.strip() for line in self.header("Via") for v in line.split(",")]

    @property
    def branch(self) -> str | None:
        """The branch parameter of the top Via."""
        vias = self.vias
        if not vias:
            return None
        m = re.search(r";\s*branch=([^;,\s]+)", vias[0], re.I)
        return m.group(1) if m else None

    @property
    def cseq(self) -> tuple[int, str] | None:
        values = self.header("CSeq")
        if not values:
            return None
        number, _, method = values[0].partition(" ")
        return int(number), method.strip()

    @property
    def to_tag(self) -> str | None:
        values = self.header("To")
        m = re.search(r";\s*tag=([^;\s]+)", values[0], re.I) if values else None
        return m.group(1) if m else None


_TRACE_SEP = re.compile(r"^-{20,} (\S+ \S+)[ \t]*$", re.M)
_TRACE_HEAD = re.compile(r"^(\w+) message (sent|received)\b[^\n]*\n", re.M)


def parse_message_trace(text: str) -> list[TracedMessage]:
    out = []
    seps = list(_TRACE_SEP.finditer(text))
    for i, sep in enumerate(seps):
        end = seps[i + 1].start() if i + 1 < len(seps) else len(text)
        block = text[sep.end():end].lstrip("\n")
        m = _TRACE_HEAD.match(block)
        if m is None:
            continue
        out.append(TracedMessage(m.group(2), m.group(1), block[m.end():].strip("\n"),
                                 _trace_time(sep.group(1))))
    return out


def _trace_time(stamp: str) -> float | None:
    try:
        return datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S.%f").timestamp()
    except ValueError:
        return None


@dataclass
class SippResult:
    """What one SIPp run left: exit code, last statistics row, parsed traces."""

    returncode: int | None
    workdir: Path
    stats: dict[str, str] = field(default_factory=dict)
    messages: list[TracedMessage] = field(default_factory=list)
    errors: str = ""
    screen: str = ""
    output: str = ""

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def stat(self, name: str) -> int:
        """A cumulative counter, e.g. ``stat("SuccessfulCall")``, ``stat("Retransmissions")``."""
        value = self.stats.get(f"{name}(C)", self.stats.get(name, "0"))
        return int(float(value or 0))

    def sent(self, method_or_status: str | int | None = None) -> list[TracedMessage]:
        return _select(self.messages, "sent", method_or_status)

    def received(self, method_or_status: str | int | None = None) -> list[TracedMessage]:
        return _select(self.messages, "received", method_or_status)

    def describe(self) -> str:
        """A short dump for assertion messages."""
        lines = [f"sipp rc={self.returncode} in {self.workdir}"]
        lines += [f"  {m.direction:8} {m.first_line}" for m in self.messages[-40:]]
        if self.errors.strip():
            lines.append("errors:\n" + self.errors[-2000:])
        if self.output.strip():
            lines.append("output:\n" + self.output[-2000:])
        return "\n".join(lines)


def _select(messages: list[TracedMessage], direction: str,
            key: str | int | None) -> list[TracedMessage]:
    out = [m for m in messages if m.direction == direction]
    if key is None:
        return out
    if isinstance(key, int):
        return [m for m in out if m.status == key]
    return [m for m in out if m.method == key]


def _read_stats(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    rows = list(csv.reader(path.read_text(errors="replace").splitlines(), delimiter=";"))
    if len(rows) < 2:
        return {}
    return dict(zip(rows[0], rows[-1]))


def scenario_path(scenario: str | Path) -> Path:
    path = Path(scenario)
    if not path.is_absolute() and not path.exists():
        path = SCENARIOS / path
    if not path.is_file():
        raise FileNotFoundError(f"no SIPp scenario {scenario}")
    return path


class SippProcess:
    """A SIPp running in the background (typically a UAS)."""

    def __init__(self, args: list[str], workdir: Path, reaper: Reaper, port: int) -> None:
        self.workdir = workdir
        self.port = port
        self.args = args
        self._out = (workdir / "output.log").open("wb")
        self.proc = reaper.add(subprocess.Popen(
            args, cwd=workdir, stdin=subprocess.DEVNULL, stdout=self._out,
            stderr=subprocess.STDOUT, start_new_session=True))

    def wait_listening(self, transport: str = "udp", timeout: float = 10.0) -> None:
        """Until SIPp has bound its port (it may take a moment to start)."""
        def bound() -> bool:
            if self.proc.poll() is not None:
                raise RuntimeError(f"sipp exited {self.proc.returncode}: {self._output()}")
            with socket.socket(socket.AF_INET, _kind(transport)) as probe:
                try:
                    probe.bind((LOOPBACK, self.port))
                except OSError:
                    return True
                return False
        poll_until(bound, timeout, f"sipp to listen on {transport} {self.port}")

    def wait(self, timeout: float = 60.0) -> SippResult:
        """Until SIPp exits by itself (``-m`` calls done, or its ``-timeout``)."""
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            kill_group(self.proc)
        return self.result()

    def stop(self, timeout: float = 10.0) -> SippResult:
        """SIGTERM now (statistics may lag by up to a second; traces are complete)."""
        kill_group(self.proc, signal.SIGTERM, timeout)
        kill_group(self.proc)
        return self.result()

    def _output(self) -> str:
        return (self.workdir / "output.log").read_text(errors="replace")

    def result(self) -> SippResult:
        self._out.close()
        w = self.workdir
        return SippResult(
            returncode=self.proc.returncode,
            workdir=w,
            stats=_read_stats(w / "stats.csv"),
            messages=parse_message_trace(_read(w / "messages.log")),
            errors=_read(w / "errors.log"),
            screen=_read(w / "screen.log"),
            output=_read(w / "output.log"),
        )


def _read(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


def sipp_command(scenario: str | Path, *, port: int, transport: str = "udp",
                 remote: str | None = None, proxy: str | None = None, calls: int | None = None,
                 rate: float | None = None, timeout: float = 30.0,
                 keys: dict[str, str] | None = None, extra: Sequence[str] = ()) -> list[str]:
    if SIPP is None:
        raise RuntimeError("sipp is not installed (Debian package sip-tester)")
    args = [SIPP, "-sf", str(scenario_path(scenario))]
    if remote:
        args.append(remote)
    args += ["-i", LOOPBACK, "-p", str(port), "-t", SIPP_TRANSPORTS[transport], "-nostdin",
             "-timeout", f"{timeout:g}s", "-timeout_error",
             "-trace_msg", "-message_file", "messages.log",
             "-trace_stat", "-stf", "stats.csv", "-fd", "1",
             "-trace_err", "-error_file", "errors.log",
             "-trace_screen", "-screen_file", "screen.log"]
    if proxy:
        args += ["-rsa", proxy]
    if calls is not None:
        args += ["-m", str(calls)]
    if rate is not None:
        args += ["-r", f"{rate:g}"]
    for name, value in (keys or {}).items():
        args += ["-key", name, value]
    args += list(extra)
    return args


# --- siptm ---------------------------------------------------------------------------------

def siptm_command() -> list[str]:
    console = Path(sys.executable).with_name("siptm")
    if console.exists():
        return [str(console)]
    return [sys.executable, "-m", "siptm.cli"]


def options_probe(host: str, port: int, timeout: float = 0.5) -> bytes | None:
    """Send one OPTIONS over UDP; the first datagram back, or None."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((LOOPBACK, 0))
        me = s.getsockname()[1]
        branch = f"z9hG4bKprobe{time.monotonic_ns()}"
        msg = (
            f"OPTIONS sip:{host}:{port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP {LOOPBACK}:{me};branch={branch};rport\r\n"
            f"Max-Forwards: 70\r\n"
            f"From: <sip:probe@{LOOPBACK}:{me}>;tag=probe\r\n"
            f"To: <sip:{host}:{port}>\r\n"
            f"Call-ID: probe-{branch}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
        ).encode()
        s.settimeout(timeout)
        s.sendto(msg, (host, port))
        try:
            return s.recvfrom(65535)[0]
        except TimeoutError:
            return None


class SiptmProcess:
    """``siptm run`` as a subprocess with a config and script written for the test.

    With a management port (``[mgmt] listen``), :meth:`call` runs a JSON-RPC method,
    :meth:`stats` reads the seed 003 tm statistics and :meth:`wait_idle` waits until
    no transaction is in use."""

    def __init__(self, workdir: Path, reaper: Reaper, *, config: str, script: str | None,
                 engine: str | None = None, port: int, transports: Sequence[str],
                 mgmt_port: int | None = None) -> None:
        self.workdir = workdir
        self.port = port
        self.mgmt_port = mgmt_port
        self.transports = tuple(transports)
        self.config_path = workdir / "siptm.toml"
        self.config_path.write_text(config)
        args = [*siptm_command(), "run", "--config", str(self.config_path)]
        if script is not None:
            self.script_path = workdir / "routes.py"
            self.script_path.write_text(script)
            args += ["--script", str(self.script_path)]
        if engine is not None:
            args += ["--engine", engine]
        self.args = args
        self.log_path = workdir / "siptm.log"
        self._log = self.log_path.open("wb")
        self.proc = reaper.add(subprocess.Popen(
            args, cwd=workdir, stdin=subprocess.DEVNULL, stdout=self._log,
            stderr=subprocess.STDOUT, start_new_session=True))

    @property
    def address(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self, timeout: float = 20.0, probe: bool = True) -> None:
        """Until the log says ready and (``probe``) the management interface answers,
        or without one, an OPTIONS over UDP gets any answer (that OPTIONS goes through
        the routing script: it may leave transactions behind)."""
        def ready() -> bool:
            if self.proc.poll() is not None:
                raise RuntimeError(f"siptm exited {self.proc.returncode}:\n{self.log}")
            return " ready: " in self.log
        poll_until(ready, timeout, "siptm to log 'ready'")
        if probe and self.mgmt_port is not None:
            self.call("uptime", timeout=timeout)
        elif probe and "udp" in self.transports:
            poll_until(lambda: options_probe(LOOPBACK, self.port) is not None, timeout,
                       "siptm to answer OPTIONS", interval=0.0)

    # --- management (JSON-RPC over UDP) -------------------------------------------------
    def call(self, method: str, params: object = None, timeout: float = 2.0) -> object:
        """Run a management method; its result (raises on a JSON-RPC error)."""
        from siptm.mgmt.client import call

        if self.mgmt_port is None:
            raise RuntimeError("this siptm was started without a management port")
        return call((LOOPBACK, self.mgmt_port), method, params, timeout=timeout)

    def stats(self) -> dict[str, int]:
        """The seed 003 tm statistics (``tm.stats``): ``inuse_transactions``, ..."""
        return self.call("tm.stats")  # type: ignore[return-value]

    def in_use(self) -> int:
        return self.stats()["inuse_transactions"]

    def wait_idle(self, timeout: float = 2.0, interval: float = 0.05) -> dict[str, int]:
        """Poll until ``inuse_transactions`` is 0; the statistics then. Raises
        :class:`TransactionsLinger` (with what is in use, from ``t_list``) after
        ``timeout`` seconds."""
        end = time.monotonic() + timeout
        while True:
            stats = self.stats()
            if stats["inuse_transactions"] == 0:
                return stats
            if time.monotonic() > end:
                listing = self.call("t_list", {"limit": 20})
                raise TransactionsLinger(stats["inuse_transactions"], timeout, listing)
            time.sleep(interval)

    def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM and wait; returns the exit code (0 for a clean shutdown)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                kill_group(self.proc)
        self._log.close()
        return self.proc.returncode


class TransactionsLinger(AssertionError):
    """Transactions still in use when a test expected none."""

    def __init__(self, in_use: int, timeout: float, listing: object) -> None:
        rows = listing.get("transactions", []) if isinstance(listing, dict) else []
        lines = [f"  {t.get('kind')} {t.get('method')} {t.get('state')} "
                 f"timer={t.get('timer')} fires_in={t.get('fires_in')} age={t.get('age')} "
                 f"status={t.get('last_status')} call_id={t.get('call_id')}" for t in rows]
        super().__init__(f"{in_use} transaction(s) still in use after {timeout:g} s:\n"
                         + "\n".join(lines))
        self.in_use = in_use
        self.listing = rows

    @property
    def timers(self) -> set[str]:
        """The timers that hold the lingering transactions (``L``, ``D``, ...)."""
        return {str(t.get("timer")) for t in self.listing}


def toml_config(port: int, transports: Sequence[str] = ("udp", "tcp"), *,
                tm: dict[str, object] | None = None, log_level: str = "info",
                extra: str = "", mgmt_port: int | None = None) -> str:
    listen = ", ".join(f'"{t}:{LOOPBACK}:{port}"' for t in transports)
    lines = [f"listen = [{listen}]", "", "[log]", f'level = "{log_level}"', ""]
    if mgmt_port is not None:
        lines += ["[mgmt]", f'listen = "udp:{LOOPBACK}:{mgmt_port}"', ""]
    if tm:
        lines.append("[tm]")
        for key, value in tm.items():
            if isinstance(value, bool):
                lines.append(f"{key} = {'true' if value else 'false'}")
            elif isinstance(value, str):
                lines.append(f'{key} = "{value}"')
            else:
                lines.append(f"{key} = {value}")
        lines.append("")
    return "\n".join(lines) + extra


# --- forking (tests/e2e/test_fork*.py) -----------------------------------------------------

def fork_uas_keys(mode: str = "reject", *, code: int = 486, reason: str = "Busy Here",
                  prov: tuple[int, str] = (100, "Trying"),
                  prov2: tuple[int, str] = (100, "Trying"),
                  hdr: str = "X-Siptm-Uas: e2e") -> dict[str, str]:
    """The ``-key`` values of ``scenarios/uas_fork.xml`` (SIPp wants every one): ``mode``
    answer | reject | ring, the status lines of two provisional replies sent at once (a
    100 is not relayed by a proxy: the default is invisible upstream), the final status
    line of mode reject (``code``, ``reason``) with one more header line ``hdr``. (SIPp
    reads a ``SIP/2.0 [code]`` line when it loads the scenario: whole lines are keys.)"""
    if mode not in ("answer", "reject", "ring"):
        raise ValueError(f"uas_fork.xml has no mode {mode!r}")
    return {"mode": mode, "prov": f"SIP/2.0 {prov[0]} {prov[1]}",
            "prov2": f"SIP/2.0 {prov2[0]} {prov2[1]}",
            "final": f"SIP/2.0 {code} {reason}", "hdr": hdr}


def fork_uas(e2e, mode: str = "reject", *, delay: int = 0, timeout: float = 20,
             transport: str = "udp", **keys) -> SippProcess:
    """A SIPp UAS of ``uas_fork.xml`` for one call (``e2e``: the conftest fixture); its
    final answer after ``delay`` ms (SIPp's ``-d``). ``keys``: see :func:`fork_uas_keys`."""
    extra = ["-d", str(delay)] if delay else []
    return e2e.run_sipp_uas(scenario="uas_fork.xml", calls=1, timeout=timeout,
                            transport=transport, keys=fork_uas_keys(mode, **keys),
                            extra=extra)


def fork_call(e2e, proxy: SiptmProcess, uas: SippProcess, *, timeout: float = 10,
              extra: Sequence[str] = ()) -> SippResult:
    """One call of ``uac_fork.xml`` through ``proxy``; its R-URI names ``uas``."""
    return e2e.run_sipp_uac(proxy.address, f"{LOOPBACK}:{uas.port}", "uac_fork.xml",
                            timeout=timeout, extra=extra)


# The request route of the fork scripts: CANCEL through its INVITE, retransmissions
# absorbed, ACK and in-dialog requests relayed as they are; a new INVITE goes on to the
# script's `fork(msg, tm)`.
FORK_PREAMBLE = """
import logging
import re

from siptm.script import Router

router = Router()
log = logging.getLogger("siptm.script")


@router.request
def route(msg, tm):
    if msg.method == "CANCEL":
        tm.t_relay_cancel()
    if msg.method not in ("ACK", "CANCEL"):
        tm.t_check_trans()
    if msg.method != "INVITE" or msg.to_tag is not None:
        if not tm.t_relay():
            tm.sl_reply_error()
        return
    fork(msg, tm)
"""


def fork_script(body: str, **values: object) -> str:
    """FORK_PREAMBLE plus ``body`` (which defines ``fork(msg, tm)`` and the named
    routes) with ``$name`` replaced by ``values`` (ports, URIs)."""
    from string import Template

    return FORK_PREAMBLE + Template(body).substitute({k: str(v) for k, v in values.items()})


def invite_finals(result: SippResult) -> list[int]:
    """The final responses a SIPp UAC received for its INVITE, in order (each
    retransmission counts)."""
    return [m.status for m in result.received()
            if m.status and m.status >= 200 and m.cseq == (1, "INVITE")]


def assert_acked_by_proxy(server: SippResult, code: int) -> None:
    """The UAS answered ``code`` and got the proxy's hop-by-hop ACK for it, once: the
    INVITE's branch, one Via, the final response's To tag (RFC 3261 §17.1.1.3); no
    CANCEL."""
    (invite,) = server.received("INVITE")
    final = next(m for m in server.sent(code) if m.cseq == (1, "INVITE"))
    (ack,) = server.received("ACK")
    assert ack.branch == invite.branch and len(ack.vias) == 1, ack.text
    assert ack.cseq == (invite.cseq[0], "ACK")
    assert ack.to_tag == final.to_tag
    assert server.received("CANCEL") == []


def assert_cancelled_by_proxy(server: SippResult) -> None:
    """The UAS got the proxy's CANCEL on its INVITE's branch (one Via, same R-URI),
    answered 487 and got the proxy's ACK for it."""
    (invite,) = server.received("INVITE")
    (cancel,) = server.received("CANCEL")
    assert cancel.branch == invite.branch and len(cancel.vias) == 1, cancel.text
    assert cancel.first_line.split()[1] == invite.first_line.split()[1]
    (ack,) = server.received("ACK")
    assert ack.branch == invite.branch and len(ack.vias) == 1, ack.text
    assert ack.to_tag == server.sent(487)[0].to_tag


def describe_all(*results: SippResult, proxy: SiptmProcess | None = None) -> str:
    """SIPp traces (and the proxy's log) for an assertion message."""
    text = "\n".join(r.describe() for r in results)
    return text + ("\n--- siptm log\n" + proxy.log[-4000:] if proxy is not None else "")


# A SIPp process stamps a sent message in its trace after the send returns, so another
# process's stamp for something the proxy sent in reaction can come first by a little.
# Comparisons of "sent by A" with "received by B" allow this much.
TRACE_SKEW = 0.05
