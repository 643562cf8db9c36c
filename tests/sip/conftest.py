"""Fixtures of the message-layer tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def emptied():
    """``emptied(cache)`` empties a module-level cache in place for the test and puts
    its entries back afterwards. (The caches are ``Final``: the compiled build reads
    them from C statics, so replacing the module attribute would not reach it.)"""
    saved: list[tuple[dict, dict]] = []

    def empty(cache: dict) -> dict:
        saved.append((cache, dict(cache)))
        cache.clear()
        return cache

    yield empty
    for cache, entries in saved:
        cache.clear()
        cache.update(entries)
