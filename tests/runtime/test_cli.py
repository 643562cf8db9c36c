"""The ``siptm`` command line: --check, errors, the missing engine, a real process that
serves and stops cleanly on SIGTERM and SIGINT."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from siptm import cli

HERE = Path(__file__).resolve().parent
ECHO = f"{HERE / 'echo_engine.py'}:create_engine"


def test_check_defaults(capsys):
    assert cli.main(["run", "--check"]) == 0
    out = capsys.readouterr().out
    assert "configuration OK" in out and "udp:127.0.0.1:5060, tcp:127.0.0.1:5060" in out


def test_check_reports_the_bad_key(tmp_path, capsys):
    cfg = tmp_path / "siptm.toml"
    cfg.write_text("[tm]\nfr_timer = \"soon\"\n")
    assert cli.main(["run", "--check", "--config", str(cfg)]) == 2
    assert "configuration error: tm.fr_timer: expected an integer" in capsys.readouterr().err


def test_missing_script(tmp_path, capsys):
    assert cli.main(["run", "--script", str(tmp_path / "nope.py")]) == 2
    assert "no such routing script" in capsys.readouterr().err


def test_no_engine_yet_exits_1(monkeypatch, capsys):
    monkeypatch.setattr(cli, "ENGINE_MODULE", "siptm.core.no_such_engine")
    assert cli.main(["run"]) == 1
    assert "not implemented yet" in capsys.readouterr().err


def test_bad_engine_spec(capsys):
    assert cli.main(["run", "--engine", "nothing"]) == 1
    assert "MODULE:FUNCTION" in capsys.readouterr().err
    assert cli.main(["run", "--engine", f"{HERE / 'echo_engine.py'}:nope"]) == 1
    assert "no callable 'nope'" in capsys.readouterr().err


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Proc:
    def __init__(self, tmp_path: Path, *extra: str, listen: str | None = None) -> None:
        self.port = free_udp_port()
        cfg = tmp_path / "siptm.toml"
        cfg.write_text(f'listen = ["{listen or f"udp:127.0.0.1:{self.port}"}"]\n'
                       '[log]\nlevel = "info"\n')
        self.log = tmp_path / "siptm.log"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "siptm.cli", "run", "--config", str(cfg), *extra],
            stdout=subprocess.DEVNULL, stderr=self.log.open("wb"), start_new_session=True)

    def wait_ready(self, timeout: float = 15.0) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if b" ready: " in self.log.read_bytes():
                return
            if self.proc.poll() is not None:
                raise AssertionError(f"siptm exited {self.proc.returncode}: {self.text}")
            time.sleep(0.02)
        raise AssertionError(f"siptm not ready: {self.text}")

    @property
    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def ask(self, data: bytes) -> bytes:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(5)
            s.sendto(data, ("127.0.0.1", self.port))
            return s.recvfrom(65535)[0]

    def stop(self, sig: int, timeout: float = 10.0) -> int:
        self.proc.send_signal(sig)
        return self.proc.wait(timeout)

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_process_serves_and_exits_0_on_signal(tmp_path, sig):
    script = tmp_path / "routes.py"
    script.write_text("# routes\n")
    p = Proc(tmp_path, "--engine", ECHO, "--script", str(script))
    try:
        p.wait_ready()
        assert p.ask(b"hi") == b"w0:hi"
        assert p.ask(b"script?") == str(script).encode()
        assert p.stop(sig) == 0
        assert "stopped" in p.text
    finally:
        p.kill()


def test_process_exits_1_when_the_port_is_taken(tmp_path):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        p = Proc(tmp_path, "--engine", ECHO, listen=f"udp:127.0.0.1:{port}")
        try:
            assert p.proc.wait(15) == 1
            assert "cannot listen" in p.text
        finally:
            p.kill()


def test_process_exits_1_when_the_engine_cannot_be_built(tmp_path):
    p = Proc(tmp_path, "--engine", f"{HERE / 'echo_engine.py'}:broken_engine")
    try:
        assert p.proc.wait(15) == 1
        assert "script failed to load" in p.text
    finally:
        p.kill()
