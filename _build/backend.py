"""setuptools' build backend, plus mypy (mypyc) as a build requirement when
``SIPTM_COMPILE=1`` asks for the compiled build (see setup.py); a pure build needs
nothing more than setuptools."""

from __future__ import annotations

import os

from setuptools import build_meta as _setuptools
from setuptools.build_meta import *  # noqa: F403  (the whole PEP 517/660 interface)

MYPYC = "mypy==2.4.1"  # the version the code is type-checked and compiled with


def _compiling() -> bool:
    return os.environ.get("SIPTM_COMPILE", "") in ("1", "true", "yes")


def _requires(hook, config_settings):
    # setuptools runs setup.py to answer this, before mypy is installed: tell it not to
    # set up the extensions yet
    os.environ["SIPTM_REQUIRES_ONLY"] = "1"
    try:
        requires = hook(config_settings)
    finally:
        del os.environ["SIPTM_REQUIRES_ONLY"]
    return [*requires, MYPYC] if _compiling() else requires


def get_requires_for_build_wheel(config_settings=None):
    return _requires(_setuptools.get_requires_for_build_wheel, config_settings)


def get_requires_for_build_editable(config_settings=None):
    return _requires(_setuptools.get_requires_for_build_editable, config_settings)
