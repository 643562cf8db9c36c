"""Helpers for the runtime tests: a recording fake engine, real loopback sockets, a cert."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path

import pytest

from siptm.config import Config, TransportSettings
from siptm.net import Address
from siptm.runtime.effects import Send
from siptm.runtime.server import RuntimeInfo

WAIT = 5.0  # upper bound for anything a test waits for on loopback


class FakeEngine:
    """Records every call. ``on_receive(data, source, local, now)`` decides the effects
    (default: echo the data back to its source); ``deadlines`` is a sorted list of
    ``(when, effects)`` handed out by ``handle_timers``."""

    def __init__(self, info: RuntimeInfo,
                 on_receive: Callable[..., Iterable[object] | None] | None = None) -> None:
        self.info = info
        self.on_receive = on_receive or (lambda data, source, local, now: [Send(data, source)])
        self.inbox: asyncio.Queue[tuple[bytes, Address, Address, float]] = asyncio.Queue()
        self.errors: asyncio.Queue[tuple[Address, str, float]] = asyncio.Queue()
        self.timer_calls: list[float] = []
        self.deadlines: list[tuple[float, list[object]]] = []
        self.shutdown_called = False

    def receive(self, data, source, local, now):
        self.inbox.put_nowait((data, source, local, now))
        return self.on_receive(data, source, local, now)

    def handle_timers(self, now):
        self.timer_calls.append(now)
        due = [d for d in self.deadlines if d[0] <= now]
        self.deadlines = [d for d in self.deadlines if d[0] > now]
        return [e for _, effects in due for e in effects]

    def next_deadline(self):
        return self.deadlines[0][0] if self.deadlines else None

    def transport_error(self, dest, error, now):
        self.errors.put_nowait((dest, error, now))
        return []

    def shutdown(self, now):
        self.shutdown_called = True
        return []


def loopback_config(*listen: str, **transport: int) -> Config:
    from siptm.core.sip_transport import parse_hostport_target

    cfg = Config.default()
    addrs = tuple(parse_hostport_target(t) for t in (listen or ("udp:127.0.0.1:0",)))
    return replace(cfg, listen=addrs, transport=replace(TransportSettings(), **transport))


def open_sockets() -> set[str]:
    """The socket inodes this process holds open."""
    out = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:"):
            out.add(target)
    return out


async def wait_for(coro, timeout: float = WAIT):
    return await asyncio.wait_for(coro, timeout)


async def until(predicate: Callable[[], bool], timeout: float = WAIT) -> None:
    """Bounded polling for a condition on real sockets."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not predicate():
        if loop.time() > end:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory) -> tuple[Path, Path]:
    """A self-signed certificate and key for 127.0.0.1 (openssl or cryptography)."""
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    try:
        _with_cryptography(cert, key)
        return cert, key
    except ImportError:
        pass
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("TLS tests need the 'cryptography' package or /usr/bin/openssl")
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )
    return cert, key


def _with_cryptography(cert: Path, key: Path) -> None:
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    pkey = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(pkey.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(
            [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .sign(pkey, hashes.SHA256())
    )
    key.write_bytes(pkey.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
