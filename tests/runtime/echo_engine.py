"""An engine for CLI tests: echoes every datagram back, prefixed with the worker id."""

from __future__ import annotations

from siptm.runtime.effects import Send


class EchoEngine:
    def __init__(self, info, script):
        self.prefix = f"w{info.worker_id}:".encode()
        self.script = script

    def receive(self, data, source, local, now):
        if data == b"script?":
            return [Send(str(self.script).encode(), source)]
        return [Send(self.prefix + data, source)]

    def handle_timers(self, now):
        return []

    def next_deadline(self):
        return None

    def transport_error(self, dest, error, now):
        return []


def create_engine(info, script):
    return EchoEngine(info, script)


def broken_engine(info, script):
    raise RuntimeError("script failed to load")
