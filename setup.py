"""Optional compiled build: ``SIPTM_COMPILE=1`` compiles the hot modules with mypyc.

Without it (the default) this is the plain pure-Python package: setup.py adds nothing
to pyproject.toml. With it, the modules in COMPILED become C extensions shipped next to
their .py twins (an extension wins at import time); the user's routing script, mgmt and
most of the runtime layer stay Python. The build backend (_build/backend.py) then also
installs mypy.

    SIPTM_COMPILE=1 pip wheel --no-deps -w dist .    # a cp311 platform wheel, ~1 min
    SIPTM_COMPILE=1 pip install .                    # needs a C compiler

``make compile`` / ``make test-compiled`` build the wheel out of tree (build/compiled)
and test it; the source tree never holds .so files, so ``make test`` tests the .py.
"""

from __future__ import annotations

import os

from setuptools import setup

# The message layer, the transaction core, the runtime's pump and the script API: the code
# every message goes through.
COMPILED = [
    "src/siptm/sip/__init__.py",
    "src/siptm/sip/headers.py",
    "src/siptm/sip/memo.py",
    "src/siptm/sip/message.py",
    "src/siptm/sip/params.py",
    "src/siptm/sip/parse.py",
    "src/siptm/sip/uri.py",
    "src/siptm/sip/values.py",
    "src/siptm/core/builder.py",
    "src/siptm/core/client.py",
    "src/siptm/core/contexts.py",
    "src/siptm/core/effects.py",
    "src/siptm/core/engine.py",
    "src/siptm/core/forking.py",
    "src/siptm/core/forward.py",
    "src/siptm/core/ids.py",
    "src/siptm/core/keys.py",
    "src/siptm/core/layer.py",
    "src/siptm/core/proxy.py",
    "src/siptm/core/reply_select.py",
    "src/siptm/core/request_context.py",
    "src/siptm/core/server.py",
    "src/siptm/core/sip_transport.py",
    "src/siptm/core/table.py",
    "src/siptm/core/timers.py",
    "src/siptm/core/transaction.py",
    "src/siptm/runtime/pump.py",
    "src/siptm/frozen.py",
    "src/siptm/net.py",
    # The routing-script layer: what runs for every route call. results.py stays Python:
    # Result subclasses int, which mypyc builds only as a non-native class through
    # mypy_extensions.mypyc_attr, a run-time dependency the package does not have.
    "src/siptm/script/router.py",
    "src/siptm/script/runner.py",
    "src/siptm/script/tm.py",
]


def ext_modules() -> list:
    if os.environ.get("SIPTM_COMPILE", "") not in ("1", "true", "yes"):
        return []
    if os.environ.get("SIPTM_REQUIRES_ONLY"):  # _build/backend.py asking what to install
        return []
    from mypyc.build import mypycify

    # --follow-imports=silent: modules imported but not compiled (config, script, ...)
    # are read for their types only.
    return mypycify(["--follow-imports=silent", *COMPILED], opt_level="3")


setup(ext_modules=ext_modules())
