"""Shared by the forking tests: after each test, every harness it made runs its timers
out and must hold no transaction any more (``in_use`` back to 0)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from siptm.testing import watch_harnesses


@pytest.fixture(autouse=True)
def no_transaction_left() -> Iterator[None]:
    with watch_harnesses() as created:
        yield
    for harness in created:
        harness.settle()
        assert harness.in_use == 0, f"{harness.in_use} transactions left"
        assert not harness.coroutines
