"""The design rule: siptm.sip and siptm.core are pure (no I/O, no clock, no randomness)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import siptm

FORBIDDEN = {"asyncio", "socket", "ssl", "time", "random", "threading", "select",
             "selectors", "secrets", "subprocess", "multiprocessing", "uvloop"}
PACKAGES = ("sip", "core")
ROOT = Path(siptm.__file__).parent


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
              and node.func.id == "__import__"):
            names.add("__import__")
    return names


def test_no_module_of_sip_or_core_imports_io_clock_or_randomness() -> None:
    offenders = {}
    files = [p for package in PACKAGES for p in sorted((ROOT / package).rglob("*.py"))]
    assert len(files) > 10
    for path in files:
        bad = imported_modules(path) & (FORBIDDEN | {"__import__"})
        if bad:
            offenders[str(path.relative_to(ROOT))] = sorted(bad)
    assert offenders == {}


def test_importing_sip_and_core_loads_no_io_module() -> None:
    """Transitively too: a fresh interpreter imports both and lists what got loaded."""
    code = (
        "import sys; import siptm.sip, siptm.core; "
        "print(' '.join(sorted(m for m in sys.modules if '.' not in m)))"
    )
    loaded = set(subprocess.run([sys.executable, "-c", code], check=True,
                                capture_output=True, text=True).stdout.split())
    # (time is loaded by the interpreter itself at start-up)
    assert loaded & {"asyncio", "socket", "ssl", "selectors", "select", "random", "threading",
                     "secrets", "uvloop"} == set()
