"""Which build is under test: ``make test`` the pure one, ``make test-compiled`` the
mypyc one (``SIPTM_EXPECT_COMPILED=1``, the build's lib directory first on the path).

A compiled module next to its .py wins at import time, so a stale extension left in
the source tree would silently test old compiled code instead of the edited .py.
"""

import importlib
import os

import pytest

# one module per compiled area (setup.py COMPILED lists them all)
PROBES = ["siptm.sip.message", "siptm.sip.parse", "siptm.core.engine", "siptm.core.proxy",
          "siptm.core.transaction", "siptm.core.request_context", "siptm.net",
          "siptm.script.tm", "siptm.script.runner", "siptm.sip.memo", "siptm.runtime.pump"]

EXPECT_COMPILED = os.environ.get("SIPTM_EXPECT_COMPILED", "") == "1"


def _compiled(name: str) -> bool:
    path = importlib.import_module(name).__file__ or ""
    return path.endswith((".so", ".pyd"))


@pytest.mark.parametrize("name", PROBES)
def test_the_build_under_test_is_the_expected_one(name):
    if EXPECT_COMPILED:
        assert _compiled(name), f"{name} is not compiled: build with `make compile`"
    else:
        assert not _compiled(name), (
            f"{name} is a compiled extension in a pure test run (stale build in the "
            f"source tree? `make clean`)")
