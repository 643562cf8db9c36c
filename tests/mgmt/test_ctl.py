"""``siptm ctl``: parameters, where it asks, and a real ``siptm run`` process asked
from another process."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from siptm import cli


@pytest.mark.parametrize(("words", "params"), [
    ([], None),
    (["tm:", "5", '{"a": 1}', "true"], ["tm:", 5, {"a": 1}, True]),
    (["limit=3", "name=x"], {"limit": 3, "name": "x"}),
    (['statistics=["a","b"]'], {"statistics": ["a", "b"]}),
])
def test_params(words, params):
    assert cli._ctl_params(words) == params


def test_mixed_params_are_refused(capsys):
    assert cli.main(["ctl", "--address", "udp:127.0.0.1:9", "m", "a=1", "b"]) == 2
    assert "either all by name" in capsys.readouterr().err


def test_off_without_mgmt(tmp_path, capsys):
    cfg = tmp_path / "siptm.toml"
    cfg.write_text('listen = ["udp:127.0.0.1:5999"]\n')
    assert cli.main(["ctl", "--config", str(cfg), "tm.stats"]) == 2
    assert "management interface is off" in capsys.readouterr().err


def test_bad_config_and_address(tmp_path, capsys):
    cfg = tmp_path / "siptm.toml"
    cfg.write_text('[mgmt]\nlisten = "udp:8.8.8.8:1"\n')
    assert cli.main(["ctl", "--config", str(cfg), "tm.stats"]) == 2
    assert "mgmt.listen" in capsys.readouterr().err
    assert cli.main(["ctl", "--address", "udp:[::1", "tm.stats"]) == 2


def test_nobody_answers(capsys):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))  # bound, never read
        port = s.getsockname()[1]
        assert cli.main(["ctl", "--address", f"udp:127.0.0.1:{port}", "--timeout", "0.3",
                         "tm.stats"]) == 1
    assert "no answer" in capsys.readouterr().err


def _free_port(kind: int) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_ctl_against_a_running_siptm(tmp_path):
    port, mgmt = _free_port(socket.SOCK_DGRAM), _free_port(socket.SOCK_DGRAM)
    cfg = tmp_path / "siptm.toml"
    cfg.write_text(f'listen = ["udp:127.0.0.1:{port}"]\n'
                   f'[mgmt]\nlisten = "udp:127.0.0.1:{mgmt}"\n')
    siptm = [str(Path(sys.executable).with_name("siptm"))]
    if not Path(siptm[0]).exists():
        siptm = [sys.executable, "-m", "siptm.cli"]
    log = (tmp_path / "siptm.log").open("wb")
    proc = subprocess.Popen([*siptm, "run", "--config", str(cfg)], stdout=log,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        end = time.monotonic() + 20
        while b" ready: " not in (tmp_path / "siptm.log").read_bytes():
            assert proc.poll() is None, (tmp_path / "siptm.log").read_text()
            assert time.monotonic() < end
            time.sleep(0.05)

        def ctl(*args: str) -> subprocess.CompletedProcess:
            return subprocess.run([*siptm, "ctl", "--config", str(cfg), *args],
                                  capture_output=True, text=True, timeout=20)

        done = ctl("tm.stats")
        assert done.returncode == 0, done.stderr
        stats = json.loads(done.stdout)
        assert stats["inuse_transactions"] == 0 and "UAS_transactions" in stats
        done = ctl("get_statistics", "tm:inuse_transactions", "core:engine_failures")
        assert json.loads(done.stdout) == {"tm:inuse_transactions": 0,
                                           "core:engine_failures": 0}
        done = ctl("t_hash", "limit=5")
        assert json.loads(done.stdout)["size"] > 0
        done = ctl("no_such_method")
        assert done.returncode == 1 and "method not found" in done.stderr
        done = subprocess.run([*siptm, "ctl", "--address", f"udp:127.0.0.1:{mgmt}", "which"],
                              capture_output=True, text=True, timeout=20)
        assert done.returncode == 0 and "tm.stats" in json.loads(done.stdout)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
        log.close()
