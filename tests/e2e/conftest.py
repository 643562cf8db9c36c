"""Fixtures of the end-to-end tests: ``e2e`` (and its bound helpers ``start_siptm``,
``run_sipp_uas``, ``run_sipp_uac``). Everything started through them is stopped by the
fixture's finalizer, whatever the test did. See ``sipp_harness.py`` for the pieces."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest
from sipp_harness import (
    LOOPBACK,
    SIPP,
    Reaper,
    SippProcess,
    SippResult,
    SiptmProcess,
    TransactionsLinger,
    free_port,
    sipp_command,
    toml_config,
)

# [tm] settings of every e2e proxy unless a test overrides them: a completed
# transaction is freed quickly, so that "back to 0 in use" is checked in ~a second.
E2E_TM: dict[str, object] = {"wt_timer": 200}


class E2E:
    """One test's processes, ports and working directories."""

    def __init__(self, tmp_path: Path, reaper: Reaper) -> None:
        self.tmp_path = tmp_path
        self.reaper = reaper
        self._n = itertools.count(1)
        self._ports: set[int] = set()
        self.siptms: list[SiptmProcess] = []

    def free_port(self, kinds: Sequence[str] = ("udp", "tcp")) -> int:
        port = free_port(kinds=kinds, avoid=self._ports)
        self._ports.add(port)
        return port

    def _dir(self, name: str) -> Path:
        path = self.tmp_path / f"{next(self._n):02d}-{name}"
        path.mkdir()
        return path

    def start_siptm(self, script: str | None = None, *, tm: dict[str, object] | None = None,
                    transports: Sequence[str] = ("udp", "tcp"), engine: str | None = None,
                    config: str | None = None, port: int | None = None,
                    wait: bool = True, probe: bool = True,
                    mgmt_port: int | None = None) -> SiptmProcess:
        """Start ``siptm run`` on a free port with ``script`` (text of a routing script;
        None: the bundled default) and ``[tm]`` settings (``E2E_TM`` under them, for a
        quick ``wait_idle``), the management interface on another free port; wait until
        it answers."""
        port = port or self.free_port()
        if config is None:
            mgmt_port = mgmt_port or self.free_port(("udp",))
            text = toml_config(port, transports, tm={**E2E_TM, **(tm or {})},
                               mgmt_port=mgmt_port)
        else:
            text = config
        proc = SiptmProcess(self._dir("siptm"), self.reaper, config=text, script=script,
                            engine=engine, port=port, transports=transports,
                            mgmt_port=mgmt_port)
        self.siptms.append(proc)
        if wait:
            proc.wait_ready(probe=probe)
        return proc

    def run_sipp_uas(self, port: int | None = None, scenario: str = "uas_builtin.xml", *,
                     transport: str = "udp", calls: int | None = None, timeout: float = 60.0,
                     keys: dict[str, str] | None = None,
                     extra: Sequence[str] = ()) -> SippProcess:
        """A SIPp server in the background, listening when this returns."""
        port = port or self.free_port()
        args = sipp_command(scenario, port=port, transport=transport, calls=calls,
                            timeout=timeout, keys=keys, extra=extra)
        handle = SippProcess(args, self._dir("sipp-uas"), self.reaper, port)
        handle.wait_listening("udp" if transport == "udp" else "tcp")
        return handle

    def run_sipp_uac(self, proxy: str | None, target: str, scenario: str = "uac_builtin.xml",
                     calls: int = 1, rate: float = 10, *, transport: str = "udp",
                     timeout: float = 30.0, port: int | None = None,
                     keys: dict[str, str] | None = None,
                     extra: Sequence[str] = ()) -> SippResult:
        """Run a SIPp client to completion: ``calls`` calls at ``rate``/s to ``target``
        (``host:port``, the R-URI), every request sent to ``proxy`` (``host:port``,
        SIPp's ``-rsa``) unless None."""
        port = port or self.free_port()
        args = sipp_command(scenario, port=port, transport=transport, remote=target,
                            proxy=proxy, calls=calls, rate=rate, timeout=timeout, keys=keys,
                            extra=extra)
        handle = SippProcess(args, self._dir("sipp-uac"), self.reaper, port)
        return handle.wait(timeout + 15)

    def close(self) -> None:
        for proc in self.siptms:
            proc.stop()
        self.reaper.close()


@pytest.fixture
def e2e(tmp_path: Path) -> Iterator[E2E]:
    if SIPP is None:
        pytest.skip("sipp (Debian package sip-tester) is not installed")
    harness = E2E(tmp_path, Reaper())
    try:
        yield harness
    finally:
        harness.close()


@pytest.fixture
def start_siptm(e2e: E2E) -> Callable[..., SiptmProcess]:
    return e2e.start_siptm


@pytest.fixture
def run_sipp_uas(e2e: E2E) -> Callable[..., SippProcess]:
    return e2e.run_sipp_uas


@pytest.fixture
def run_sipp_uac(e2e: E2E) -> Callable[..., SippResult]:
    return e2e.run_sipp_uac


__all__ = ["E2E", "E2E_TM", "LOOPBACK", "TransactionsLinger"]
